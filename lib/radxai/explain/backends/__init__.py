"""Backends: the framework-specific half of every explanation.

Methods (Grad-CAM, Integrated Gradients, ...) are written once, in numpy, against the
`Backend` protocol; a backend runs one framework's models and hands back numpy arrays. The
protocol has three operations: score a batch, capture a layer's activations (and the
gradient of the score with respect to them), and take the gradient of the score with respect
to the input. Inputs are always (N, C, *spatial) float32, channel first; a backend whose
framework is channel-last transposes at its own edge.

`detect_backend(model)` is the one dispatch point. It recognises a model by the package that
defines its class and imports the matching module of this package lazily, so that no
framework is imported before a model of it is explained. The table `_BACKENDS` names the torch
and Keras modules; each provides ``make_backend(model, engine) -> Backend``. Adding a framework
means adding a row and such a module; `radxai.explain.explain` does not change. What the two
backends share (choosing a layer by name, checking recorded outputs and logits) is
`radxai.explain.backends.named_layers`. The engine of a backend's forward-only passes is
`radxai.explain.engines`'s.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from radxai.explain.engines import check_engine
from radxai.explain.targets import Targets, TargetSpec

__all__ = [
    "Backend",
    "Scored",
    "LayerCapture",
    "InputGradients",
    "detect_backend",
]


@dataclass(frozen=True, eq=False)
class Scored:
    """Target scores of a batch: scores (N,) logits (negated for class 0 of a single-logit
    model) or callable values, and the resolved `Targets`."""

    scores: np.ndarray
    targets: Targets


@dataclass(frozen=True, eq=False)
class LayerCapture:
    """A layer seen during one forward pass, and the score's gradient there.

    activations: (N, F, *s) the layer's output A.
    gradients: (N, F, *s) dS/dA of each sample's own target score, or None when not asked.
    scores: (N,) the target scores S.
    targets: the resolved targets.
    layer: the layer's name in the model.
    """

    activations: np.ndarray
    gradients: np.ndarray | None
    scores: np.ndarray
    targets: Targets
    layer: str


@dataclass(frozen=True, eq=False)
class InputGradients:
    """gradients (N, C, *spatial) = dS/dx of each sample's own target score; scores (N,);
    the resolved targets."""

    gradients: np.ndarray
    scores: np.ndarray
    targets: Targets


class Backend(Protocol):
    """What explanation methods need from a model. All arrays are numpy.

    x is (N, C, *spatial) float32 with 2 or 3 spatial axes. target is a `TargetSpec`
    (an already resolved `Targets` included, for batches of copies of explained samples).
    Every sample sent through the model adds one to `evaluations`.
    """

    evaluations: int

    def scores(self, x: np.ndarray, target: TargetSpec) -> Scored:
        """Target scores of a batch, without gradients."""

    def layer_capture(self, x: np.ndarray, target: TargetSpec, layer: str | None, gradients: bool) -> LayerCapture:
        """Activations of `layer` (None: the model's default CAM layer) and, if `gradients`,
        dS/dA, from one forward pass (plus a backward pass down to the layer only)."""

    def input_gradients(self, x: np.ndarray, target: TargetSpec, relu_rule: str = "plain") -> InputGradients:
        """dS/dx by one forward and one backward pass. relu_rule: "plain", or "guided" /
        "deconvnet" to change the backward pass through the model's ReLUs."""


def _defined_in(packages: tuple[str, ...]) -> Callable[[Any], bool]:
    """A test of whether a model's class (or one of its bases) comes from one of `packages`."""

    def accepts(model: Any) -> bool:
        return any(cls.__module__.split(".")[0] in packages for cls in type(model).__mro__)

    return accepts


# (name, recogniser, module providing make_backend). Recognising by package name keeps the
# frameworks unimported until needed.
_BACKENDS: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("torch", _defined_in(("torch",)), "radxai.explain.backends.torch"),
    ("keras", _defined_in(("keras", "tf_keras", "tensorflow")), "radxai.explain.backends.keras"),
)


def detect_backend(model: Any, engine: str | None = None) -> Backend:
    """The backend for `model`: torch for a ``torch.nn.Module``, Keras for a Keras model.

    ``engine`` runs the model's forward-only passes: "auto", "torch" or "onnxruntime" (see
    `radxai.explain.engines`; None: its default). Keras models always run in Keras.

    Raises TypeError naming the model's type if no backend recognises it, or if its
    backend module is not part of this installation; ValueError for an engine that does not exist.
    """
    if engine is not None:
        check_engine(engine)
    for name, accepts, module_name in _BACKENDS:
        if not accepts(model):
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            raise TypeError(
                f"{type(model).__name__} is a {name} model, but the {name} backend "
                f"({module_name}) is not available in this version of radxai"
            ) from None
        return module.make_backend(model, engine)
    supported = ", ".join(name for name, _, _ in _BACKENDS)
    raise TypeError(
        f"cannot explain a {type(model).__module__}.{type(model).__qualname__}: explain() "
        f"needs a model of a supported framework ({supported}), e.g. a torch.nn.Module"
    )
