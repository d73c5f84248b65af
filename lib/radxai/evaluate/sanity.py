"""Sanity checks of explanation methods (Adebayo et al. 2018, "Sanity checks for saliency maps").

Model randomisation. A method whose maps do not change when the model's learned weights are
destroyed does not explain the model. The weights are re-initialised layer by layer from the
top (the output side) down:
- cascading: step k has the top k layers re-initialised (each step adds the next layer down);
- independent: step k has only the k-th layer from the top re-initialised.
`randomisable_layers` lists the layers in that order (top first); `cascading_randomisation`
and `independent_randomisation` yield the randomised models and the exact layers changed in
each; `model_randomisation_check` explains a batch with every method at every step and
compares each map with the original model's (`radxai.evaluate.similarity`: Spearman rank
correlation of the signed attribution and of its absolute value, SSIM and HOG similarity).

What is re-initialised. A layer's learned parameters (kernels, biases, batch-norm scale and
offset), by the layer's own initialiser; running statistics (batch-norm means and variances)
are kept, as Adebayo et al. re-initialise the trainable variables only.
- PyTorch: a layer is a module name from ``named_modules()``; its parameters and those of its
  submodules are re-initialised by ``reset_parameters()`` (buffers restored afterwards). The
  order top-first is the reverse of the modules' registration order, which is the forward
  order for the models here; pass `layers` explicitly for a model registered otherwise.
  A layer may be a block ("block4"): all its parameterised submodules change together.
- Keras: a layer is a top-level layer name (``model.layers``) with trainable weights, in the
  reverse of the model's layer order; layers frozen with ``trainable = False`` are not
  listed. New values come from a fresh clone of the model built after
  ``keras.utils.set_random_seed(seed)``, which seeds Python's, NumPy's and TensorFlow's global
  generators (Keras has no per-model seed for its default initialisers).
The original model is never modified: torch models are copied with ``copy.deepcopy``, Keras
models with ``keras.models.clone_model`` and ``set_weights``. The same seed gives the same new
weights, and a layer gets the same new weights in cascading and independent mode.

Data randomisation. `train_on_shuffled_labels` trains a copy of an untrained model on the
training set with its labels permuted (seeded), with the project's fit loop
(`radxai.train.fit`, or `fit_keras` for Keras), so that its explanations can be compared with
those of the model trained on the true labels (`explanation_similarity`).
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from radxai.evaluate.similarity import MEASURES, map_similarities
from radxai.explain import Explanation, explain
from radxai.explain.backends import detect_backend
from radxai.explain.front_door import as_batch
from radxai.explain.targets import TargetSpec
from radxai.keras_training import fit_keras
from radxai.train import FitConfig, History, fit

__all__ = [
    "MODES",
    "RandomisedModel",
    "SanityCheck",
    "randomisable_layers",
    "randomise_layers",
    "cascading_randomisation",
    "independent_randomisation",
    "model_randomisation_check",
    "explanation_similarity",
    "ShuffledLabels",
    "train_on_shuffled_labels",
    "SIMILARITY_LIMITS",
    "fails_randomisation",
]

MODES = ("cascading", "independent")
# A map this similar to the trained model's after its weights or labels were randomised does not
# depend on what the model learned: the check fails. Adebayo et al. (2018) judge by eye; these
# limits make the verdict a number (SSIM and absolute-rank Spearman both lie in [-1, 1]).
SIMILARITY_LIMITS = {"ssim": 0.5, "spearman_abs": 0.5}
ORIGINAL_STEP = 0


@dataclass(frozen=True, eq=False)
class RandomisedModel:
    """One step of a randomisation.

    model: a copy of the original model with `randomised` re-initialised.
    randomised: the names of the layers re-initialised in `model`, top first.
    layer: the layer this step re-initialised (the last of `randomised`).
    step: 1 for the first step (the top layer), 2 for the next, ...
    """

    model: Any
    randomised: tuple[str, ...]
    layer: str
    step: int


def randomisable_layers(model: Any) -> list[str]:
    """Names of the model's parameterised layers, top (output side) first; see the module
    docstring for what counts as a layer in PyTorch and Keras. TypeError for other models."""
    return _layers_of(model).names()


def randomise_layers(model: Any, layers: Sequence[str], seed: int = 0) -> Any:
    """A copy of `model` with the named layers re-initialised (the original is unchanged).

    Raises ValueError for a name that is not a parameterised layer of the model (listing
    them), TypeError for an unsupported model.
    """
    handler = _layers_of(model)
    names = handler.check(layers)
    randomised = handler.copy()
    for name in names:
        handler.randomise(randomised, name, seed)
    return randomised


def cascading_randomisation(
    model: Any, layers: Sequence[str] | None = None, seed: int = 0
) -> Iterator[RandomisedModel]:
    """Cascading randomisation: step k re-initialises the k-th layer of `layers` (default
    `randomisable_layers(model)`, top first) on top of the previous steps.

    For memory, every step yields the same working copy, changed further by the next step:
    use (or copy) each step's model before advancing the iterator. The original is unchanged.
    """
    handler = _layers_of(model)
    names = handler.check(handler.names() if layers is None else layers)
    working = handler.copy()
    for index, name in enumerate(names):
        handler.randomise(working, name, seed)
        yield RandomisedModel(working, tuple(names[: index + 1]), name, index + 1)


def independent_randomisation(
    model: Any, layers: Sequence[str] | None = None, seed: int = 0
) -> Iterator[RandomisedModel]:
    """Independent randomisation: step k is a fresh copy of the original with only the k-th
    layer of `layers` (default `randomisable_layers(model)`, top first) re-initialised."""
    handler = _layers_of(model)
    names = handler.check(handler.names() if layers is None else layers)
    for index, name in enumerate(names):
        randomised = handler.copy()
        handler.randomise(randomised, name, seed)
        yield RandomisedModel(randomised, (name,), name, index + 1)


@dataclass(frozen=True, eq=False)
class SanityCheck:
    """The result of `model_randomisation_check`.

    mode: "cascading" or "independent".
    layers: the layers in randomisation order; step k (1-based) re-initialised layers[k - 1].
    explanations: (method label, step) -> the `Explanation` of the batch; step 0 is the
        original model. ``explanations[("gradcam", 3)].heatmaps`` is (N, *spatial).
    table: one row per method, step and sample: columns method, step, layer (None for step
        0), randomised (the number of layers re-initialised in the step's model), sample,
        and the similarities to the original's map (`radxai.evaluate.similarity.MEASURES`:
        spearman_abs, spearman, ssim, hog). Step 0 compares the original with itself.
    """

    mode: str
    layers: list[str]
    explanations: dict[tuple[str, int], Explanation]
    table: pd.DataFrame

    def heatmaps(self, method: str) -> np.ndarray:
        """(steps + 1, N, *spatial) the method's maps at every step, original first: the rows
        of the cascading randomisation figure."""
        steps = len(self.layers) + 1
        return np.stack([self.explanations[(method, step)].heatmaps for step in range(steps)])


def model_randomisation_check(
    model: Any,
    x: np.ndarray,
    methods: Sequence[str] | Mapping[str, Mapping[str, Any]],
    target: TargetSpec = None,
    *,
    mode: str = "cascading",
    layers: Sequence[str] | None = None,
    seed: int = 0,
    data_range: float = 1.0,
    hog_axis: int = 0,
    pixels_per_cell: tuple[int, int] = (8, 8),
    cells_per_block: tuple[int, int] = (3, 3),
) -> SanityCheck:
    """Explain x with every method on the original model and at every randomisation step, and
    compare each map with the original's.

    model: a torch.nn.Module or Keras model. x: (N, C, *spatial) inputs.
    methods: method names of `radxai.explain.methods()`, or a mapping label -> options for
        `explain` (the options may name the "method", default the label, and the "layer"),
        e.g. {"gradcam": {}, "ig": {"method": "integrated_gradients", "steps": 16}}.
    target: as for `explain`; int classes (or None: the original model's predicted classes)
        are resolved once on the original model, so every step explains the same classes.
    mode: "cascading" or "independent". layers: the layers to randomise, top first (default
        `randomisable_layers(model)`). seed: the re-initialisation seed.
    data_range, hog_axis, pixels_per_cell, cells_per_block: the SSIM and HOG settings
        (`explanation_similarity`).

    Cost: (layers + 1) explanations per method.
    Raises ValueError for an unknown mode or layer, and whatever `explain` raises for a
    method, option or target.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
    plans = _method_plans(methods)
    inputs = as_batch(x)
    if not callable(target):
        target = detect_backend(model).scores(inputs, target).targets.label
    handler = _layers_of(model)
    names = handler.check(handler.names() if layers is None else layers)
    randomisation = cascading_randomisation if mode == "cascading" else independent_randomisation

    explanations: dict[tuple[str, int], Explanation] = {}
    for label, (method, options) in plans.items():
        explanations[(label, ORIGINAL_STEP)] = explain(model, inputs, method, target, **options)
    for randomised in randomisation(model, names, seed):
        for label, (method, options) in plans.items():
            explanations[(label, randomised.step)] = explain(randomised.model, inputs, method, target, **options)

    frames = []
    for label in plans:
        reference = explanations[(label, ORIGINAL_STEP)]
        for step in range(len(names) + 1):
            frame = explanation_similarity(
                reference,
                explanations[(label, step)],
                data_range=data_range,
                hog_axis=hog_axis,
                pixels_per_cell=pixels_per_cell,
                cells_per_block=cells_per_block,
            )
            randomised_count = step if mode == "cascading" else min(step, 1)
            frame.insert(0, "method", label)
            frame.insert(1, "step", step)
            frame.insert(2, "layer", names[step - 1] if step else None)
            frame.insert(3, "randomised", randomised_count)
            frames.append(frame)
    return SanityCheck(mode, list(names), explanations, pd.concat(frames, ignore_index=True))


def explanation_similarity(
    reference: Explanation,
    other: Explanation,
    *,
    data_range: float = 1.0,
    hog_axis: int = 0,
    pixels_per_cell: tuple[int, int] = (8, 8),
    cells_per_block: tuple[int, int] = (3, 3),
) -> pd.DataFrame:
    """The similarity of two explanations of the same batch, sample by sample.

    Spearman (signed and absolute) compares the signed attributions ``raw`` (for CAMs at the
    layer's resolution, as the rank of a voxel there is what the map shows); SSIM and HOG
    compare the displayed ``heatmaps`` (N, *spatial) in [0, 1], hence data_range 1.0. HOG
    settings and the slicing axis of 3D maps: `radxai.evaluate.similarity.hog_similarity`.

    Returns a table with one row per sample: sample, spearman_abs, spearman, ssim, hog.
    Raises ValueError when the two explanations' maps or raw maps differ in shape.
    """
    if reference.heatmaps.shape != other.heatmaps.shape or reference.raw.shape != other.raw.shape:
        raise ValueError(
            f"explanations of different shapes cannot be compared: heatmaps {reference.heatmaps.shape} "
            f"and {other.heatmaps.shape}, raw {reference.raw.shape} and {other.raw.shape}"
        )
    rows = []
    for sample in range(len(reference.heatmaps)):
        similarity = map_similarities(
            reference.heatmaps[sample],
            other.heatmaps[sample],
            data_range=data_range,
            hog_axis=hog_axis,
            signed=(reference.raw[sample], other.raw[sample]),
            pixels_per_cell=pixels_per_cell,
            cells_per_block=cells_per_block,
        )
        rows.append({"sample": sample, **similarity})
    return pd.DataFrame(rows, columns=["sample", *MEASURES])


class ShuffledLabels:
    """A map-style dataset with the labels of `dataset` permuted: item i is (x_i, y_p(i)) for a
    seeded permutation p of the indices, so the label distribution is kept and its link to
    the images is destroyed."""

    def __init__(self, dataset: Any, seed: int = 0) -> None:
        if len(dataset) == 0:
            raise ValueError("cannot shuffle the labels of an empty dataset")
        self.dataset = dataset
        self.permutation = np.random.default_rng(seed).permutation(len(dataset))

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, _ = self.dataset[index]
        _, label = self.dataset[int(self.permutation[index])]
        return image, label


def fails_randomisation(
    similarity: pd.DataFrame | pd.Series, *, limits: Mapping[str, float] = SIMILARITY_LIMITS
) -> pd.Series | bool:
    """Whether explanations stay too similar after randomisation: any mean similarity above
    its limit.

    Parameters
    ----------
    similarity : DataFrame or Series
        Mean similarities after randomisation (e.g. of `explanation_similarity` grouped by
        method): one row per method with at least the columns of ``limits``, or one such row.
    limits : mapping, keyword-only
        Column -> the similarity above which the check fails.

    Returns
    -------
    A boolean Series per row (for a DataFrame) or one bool (for a Series).

    Raises
    ------
    KeyError
        A column of ``limits`` is missing (named).
    """
    available = similarity.columns if isinstance(similarity, pd.DataFrame) else similarity.index
    missing = [column for column in limits if column not in available]
    if missing:
        raise KeyError(f"similarity has no column(s) {missing}; the check needs {sorted(limits)}")
    if isinstance(similarity, pd.Series):
        return any(float(similarity[column]) > limit for column, limit in limits.items())
    return pd.concat([similarity[column] > limit for column, limit in limits.items()], axis=1).any(axis=1)


def train_on_shuffled_labels(
    model: Any, train_dataset: Any, config: FitConfig | None = None, seed: int = 0
) -> tuple[Any, History]:
    """The data randomisation test's model: a copy of `model` trained on `train_dataset` with
    shuffled labels (`ShuffledLabels` with `seed`); returns (trained copy, History).

    model: an untrained torch.nn.Module or Keras model of the architecture under test (its
        copy is trained; `model` is unchanged). train_dataset: map-style, item i = (x (C,
        *spatial), y). config: the `radxai.train.FitConfig` (smoke-sized in the smoke
        profile); default FitConfig().
    The goal is to memorise the shuffled labels, so the shuffled training set is also the
    validation set: the weights kept are those that fit the shuffled labels best. Torch
    models train with `radxai.train.fit`, Keras models with `radxai.keras_training.fit_keras`.
    """
    handler = _layers_of(model)
    shuffled = ShuffledLabels(train_dataset, seed)
    trained = handler.copy()
    trainer = fit if isinstance(handler, _TorchLayers) else fit_keras
    history = trainer(trained, shuffled, shuffled, config)
    return trained, history


# ---------------------------------------------------------------------- backends


def _method_plans(
    methods: Sequence[str] | Mapping[str, Mapping[str, Any]],
) -> dict[str, tuple[str, dict[str, Any]]]:
    """label -> (method name, options for explain)."""
    if isinstance(methods, str):
        raise TypeError(f"methods must be a list of method names or a mapping; got {methods!r}")
    if isinstance(methods, Mapping):
        plans = {}
        for label, options in methods.items():
            remaining = dict(options)
            plans[str(label)] = (str(remaining.pop("method", label)), remaining)
    else:
        plans = {str(name): (str(name), {}) for name in methods}
    if not plans:
        raise ValueError("model_randomisation_check needs at least one method")
    return plans


def _layers_of(model: Any) -> _TorchLayers | _KerasLayers:
    if isinstance(model, nn.Module):
        return _TorchLayers(model)
    if any(cls.__module__.split(".")[0] in ("keras", "tf_keras") for cls in type(model).__mro__):
        return _KerasLayers(model)
    raise TypeError(
        f"cannot randomise a {type(model).__module__}.{type(model).__qualname__}: give a "
        "torch.nn.Module or a Keras model"
    )


class _TorchLayers:
    """Layer names, copies and re-initialisation of a torch model."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def names(self) -> list[str]:
        named = [
            name
            for name, module in self.model.named_modules()
            if name and any(True for _ in module.parameters(recurse=False))
        ]
        return named[::-1]

    def check(self, layers: Sequence[str]) -> list[str]:
        modules = dict(self.model.named_modules())
        names = _names(layers)
        for name in names:
            if not isinstance(name, str) or name == "" or name not in modules:
                raise ValueError(
                    f"unknown layer {name!r} for {type(self.model).__name__}; parameterised "
                    f"layers (top first): {', '.join(self.names()) or 'none'}"
                )
            if not any(True for _ in modules[name].parameters()):
                raise ValueError(f"layer {name!r} has no parameters to re-initialise")
        if len(set(names)) != len(names):
            raise ValueError(f"layers must not repeat; got {names}")
        if not names:
            raise ValueError("no layers to randomise")
        return names

    def copy(self) -> nn.Module:
        return copy.deepcopy(self.model)

    def randomise(self, model: nn.Module, name: str, seed: int) -> None:
        """Re-initialise every parameterised module in `name`'s subtree, each from its own
        seed (seed, module name), keeping the buffers."""
        root = model.get_submodule(name)
        for suffix, module in root.named_modules():
            if not any(True for _ in module.parameters(recurse=False)):
                continue
            full_name = f"{name}.{suffix}" if suffix else name
            reset = getattr(module, "reset_parameters", None)
            if not callable(reset):
                raise ValueError(
                    f"layer {full_name!r} ({type(module).__name__}) has parameters but no "
                    "reset_parameters() to re-initialise them"
                )
            buffers = {key: value.clone() for key, value in module.named_buffers(recurse=False)}
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                torch.manual_seed(_layer_seed(seed, full_name))
                reset()
                for key, value in buffers.items():
                    getattr(module, key).copy_(value)


class _KerasLayers:
    """Layer names, copies and re-initialisation of a Keras model."""

    def __init__(self, model: Any) -> None:
        # A Keras model exists, so Keras is imported with the project's settings already.
        import keras

        self.keras = keras
        self.model = model
        self._fresh: dict[int, Any] = {}

    def names(self) -> list[str]:
        return [layer.name for layer in self.model.layers if layer.trainable_weights][::-1]

    def check(self, layers: Sequence[str]) -> list[str]:
        available = self.names()
        names = _names(layers)
        for name in names:
            if name not in available:
                raise ValueError(
                    f"unknown or unparameterised layer {name!r} for Keras model "
                    f"{self.model.name!r}; layers with trainable weights (top first): "
                    f"{', '.join(available) or 'none'}"
                )
        if len(set(names)) != len(names):
            raise ValueError(f"layers must not repeat; got {names}")
        if not names:
            raise ValueError("no layers to randomise")
        return names

    def copy(self) -> Any:
        duplicate = self._clone()
        duplicate.set_weights(self.model.get_weights())
        if hasattr(self.model, "cam_layer"):
            duplicate.cam_layer = self.model.cam_layer
        return duplicate

    def randomise(self, model: Any, name: str, seed: int) -> None:
        if seed not in self._fresh:
            self.keras.utils.set_random_seed(seed)
            self._fresh[seed] = self._clone()
        fresh = self._fresh[seed].get_layer(name)
        for variable, new in zip(model.get_layer(name).trainable_weights, fresh.trainable_weights):
            variable.assign(new)

    def _clone(self) -> Any:
        try:
            return self.keras.models.clone_model(self.model)
        except (ValueError, TypeError, NotImplementedError) as error:
            raise TypeError(
                f"cannot copy Keras model {self.model.name!r} with keras.models.clone_model "
                f"({error}); sanity checks need a functional or Sequential model"
            ) from error


def _names(layers: Sequence[str]) -> list[str]:
    if isinstance(layers, str):
        raise TypeError(f"layers must be a list of layer names; got the string {layers!r}")
    return list(layers)


def _layer_seed(seed: int, name: str) -> int:
    """A torch seed for one layer, fixed by the run's seed and the layer's name."""
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])
