"""Heatmap-generator training of the U-Net with a classification head against gaze heatmaps.

The eye-gaze heatmap-generator work (Watanabe et al., tables 1-5) compares four ways to use a
radiologist's static gaze heatmap g (N, 1, H, W) in [0, 1] when training
`radxai.models.UNetClassifier`, whose outputs are class logits (N, K) and decoder mask
logits m (N, 1, H, W). Every loss is L = L_class + gamma * L_guidance, L_class the binary
cross-entropy with logits of the classes:

- ``"baseline"`` (Karargyris et al.'s U-Net, the work's baseline):
  L_guidance = BCE-with-logits(m, g), the decoder mask against the gaze.
- ``"generator_vs_gaze"`` (set 1): L_guidance = BCE(h, g), the generator heatmap h against the
  gaze; h is differentiable in the weights (double backpropagation, `radxai.guided.generator`),
  so this trains the encoder and classification head to *attend* where the reader looked. The
  decoder is not trained by it.
- ``"mask_vs_generator"`` (set 2): L_guidance = BCE-with-logits(m, h), the decoder mask
  against the generator heatmap. h is a target here, as g is in the baseline: it is detached,
  so the decoder learns to draw what the generator shows (a cross-entropy's target carries no
  gradient), and no double backpropagation is needed.
- ``"mask_and_generator_vs_gaze"`` (set 3): L_guidance = s * BCE-with-logits(m, g) +
  (1 - s) * BCE(h, g), s = ``mask_share`` (the work's adjustable ratio of the two).

h is the generator heatmap in [0, 1] (``generator``: "guided_backprop" or "deconvnet") of each
sample's score: the sum of the logits of its labelled classes (``heatmap_target="labels"``, the
true class for one-hot labels) or the logit of its predicted class (``"predicted"``: the
largest logit; with a single logit, +logit when it is positive and -logit otherwise, the
explained class of `radxai.explain.targets`). Before BCE
it is squeezed affinely into [eps, 1 - eps], eps = `HEATMAP_EPSILON`: guided backpropagation
is exactly 0 on many pixels and exactly 1 at its peak, where BCE's gradient would be infinite.

gamma. Karargyris et al.'s code weighs the losses as gamma' * L_class + (1 - gamma') * L_seg;
here L_class + gamma * L_guidance, which is the same loss up to the factor gamma' for
gamma = (1 - gamma') / gamma' (gamma = 1: equal weights, their gamma' = 0.5). Under Adam a
constant factor on the loss hardly changes the steps.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from radxai.explain.targets import logits_of, resolve_targets
from radxai.guided.fit import JointAugmenter, fit_guided
from radxai.guided.generator import check_generator, generator_heatmap
from radxai.train import BatchLosses, FitConfig, History, positive_weight_for

__all__ = [
    "GAZE_EXPERIMENTS",
    "EXPERIMENT_SETS",
    "HEATMAP_TARGETS",
    "HEATMAP_EPSILON",
    "GazeLossConfig",
    "GazeHeatmapDataset",
    "gaze_losses",
    "fit_gaze",
]

GAZE_EXPERIMENTS: tuple[str, ...] = ("baseline", "generator_vs_gaze", "mask_vs_generator", "mask_and_generator_vs_gaze")
# The work's numbering: 0 = the baseline, 1-3 = the proposed model sets.
EXPERIMENT_SETS: dict[int, str] = dict(enumerate(GAZE_EXPERIMENTS))
HEATMAP_TARGETS: tuple[str, ...] = ("labels", "predicted")
HEATMAP_EPSILON = 1e-3
_USES_GENERATOR = frozenset(GAZE_EXPERIMENTS[1:])


@dataclass(frozen=True)
class GazeLossConfig:
    """Which guidance loss, with which generator and weights (see the module docstring).

    experiment: one of `GAZE_EXPERIMENTS` (or ``GazeLossConfig.of_set(n)`` for set n).
    generator: "guided_backprop" or "deconvnet" (unused by the baseline). gamma: weight of
    L_guidance, >= 0. mask_share: set 3's weight of decoder-vs-gaze, in [0, 1].
    heatmap_target: "labels" or "predicted", whose score the generator explains.
    Raises ValueError for unknown names (listing the valid ones) or out-of-range weights.
    """

    experiment: str = "baseline"
    generator: str = "guided_backprop"
    gamma: float = 1.0
    mask_share: float = 0.5
    heatmap_target: str = "labels"

    def __post_init__(self) -> None:
        if self.experiment not in GAZE_EXPERIMENTS:
            raise ValueError(f"unknown gaze experiment {self.experiment!r}; experiments: {', '.join(GAZE_EXPERIMENTS)}")
        check_generator(self.generator)
        for name, value, upper in (("gamma", self.gamma, math.inf), ("mask_share", self.mask_share, 1.0)):
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not (math.isfinite(value) and 0.0 <= value <= upper)
            ):
                bound = "a finite number >= 0" if upper == math.inf else f"in [0, {upper}]"
                raise ValueError(f"{name} must be {bound}, got {value!r}")
        if self.heatmap_target not in HEATMAP_TARGETS:
            raise ValueError(f"unknown heatmap_target {self.heatmap_target!r}; targets: {', '.join(HEATMAP_TARGETS)}")

    @classmethod
    def of_set(cls, number: int, **settings: Any) -> GazeLossConfig:
        """The configuration of the work's experiment set ``number`` (0 = baseline, 1, 2, 3)."""
        if number not in EXPERIMENT_SETS:
            raise ValueError(f"experiment sets are {sorted(EXPERIMENT_SETS)}, got {number!r}")
        return cls(experiment=EXPERIMENT_SETS[number], **settings)


class GazeHeatmapDataset:
    """Images with their gaze heatmaps: ``dataset[i] -> (x, y, gaze)``.

    images: a dataset of (x (C, H, W), y (K,)) pairs, e.g. `radxai.data.datasets.CXRImageDataset`.
    heatmaps: (N, H, W) gaze heatmaps in [0, 1] at the images' resolution
    (`radxai.data.gaze.simulated_gaze_heatmaps`, or a real-data loader's). gaze is float32
    (1, H, W). Raises ValueError when counts or shapes differ (naming both).
    """

    def __init__(self, images: Any, heatmaps: np.ndarray) -> None:
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        if heatmaps.ndim != 3 or len(heatmaps) != len(images):
            raise ValueError(f"heatmaps must be (N, H, W) with N = {len(images)} images; got shape {heatmaps.shape}")
        if len(images):
            image_shape = np.asarray(images[0][0]).shape[1:]
            if tuple(image_shape) != heatmaps.shape[1:]:
                raise ValueError(f"heatmaps of shape {heatmaps.shape[1:]} do not match images of shape {image_shape}")
        self.images = images
        self.heatmaps = heatmaps

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        image, label = self.images[index]
        return image, np.atleast_1d(np.asarray(label, dtype=np.float32)), self.heatmaps[index][None]


def _heatmap_targets(logits: torch.Tensor, labels: torch.Tensor, heatmap_target: str) -> torch.Tensor:
    if heatmap_target == "labels":
        return labels
    # The predicted class as explain() resolves it (for one logit, class 0 scores -logit),
    # as (N, K) weights of the logits: one sign in each row.
    predicted = resolve_targets(None, logits.detach().cpu().numpy(), len(logits))
    weights = torch.zeros_like(logits.detach())
    weights[torch.arange(len(logits)), torch.from_numpy(predicted.columns)] = torch.from_numpy(predicted.signs).to(
        logits.dtype
    )
    return weights


def gaze_losses(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    gaze: torch.Tensor,
    config: GazeLossConfig,
    positive_weight: torch.Tensor | None = None,
    training: bool = True,
) -> BatchLosses:
    """The loss of one batch for ``config.experiment``; `BatchLosses` with parts.

    inputs (N, C, H, W); targets (N, K) labels; gaze (N, 1, H, W) (or (N, H, W)) in [0, 1];
    positive_weight (K,) BCE ``pos_weight`` of the classes or None. ``training`` False skips
    the double-backpropagation graph (validation). Parts: "classification", "guidance", and
    the guidance's terms ("mask_vs_gaze", "generator_vs_gaze", "mask_vs_generator") that the
    experiment uses. Raises ValueError when gaze does not match the inputs (naming both shapes).
    """
    if gaze.ndim == inputs.ndim - 1:
        gaze = gaze[:, None]
    if tuple(gaze.shape) != (inputs.shape[0], 1, *inputs.shape[2:]):
        raise ValueError(
            f"gaze heatmaps of shape {tuple(gaze.shape)} do not match the inputs of shape "
            f"{tuple(inputs.shape)}: expected (N, 1, *spatial)"
        )
    gaze = gaze.to(inputs.dtype)
    output = model(inputs)
    logits = logits_of(output)
    targets = targets.reshape(logits.shape).to(logits.dtype)
    classification = functional.binary_cross_entropy_with_logits(logits, targets, pos_weight=positive_weight)
    parts: dict[str, torch.Tensor] = {}
    if config.experiment in ("baseline", "mask_and_generator_vs_gaze"):
        parts["mask_vs_gaze"] = functional.binary_cross_entropy_with_logits(output.mask_logits, gaze)
    if config.experiment in _USES_GENERATOR:
        differentiable = training and config.experiment != "mask_vs_generator"
        heatmap = generator_heatmap(
            model,
            inputs,
            _heatmap_targets(logits, targets, config.heatmap_target),
            config.generator,
            create_graph=differentiable,
        )[:, None]
        squeezed = HEATMAP_EPSILON + (1 - 2 * HEATMAP_EPSILON) * heatmap
        if config.experiment == "mask_vs_generator":
            parts["mask_vs_generator"] = functional.binary_cross_entropy_with_logits(
                output.mask_logits, squeezed.detach()
            )
        else:
            parts["generator_vs_gaze"] = functional.binary_cross_entropy(squeezed, gaze)
    if config.experiment == "mask_and_generator_vs_gaze":
        guidance = config.mask_share * parts["mask_vs_gaze"] + (1 - config.mask_share) * parts["generator_vs_gaze"]
    else:
        (guidance,) = parts.values()
    return BatchLosses(
        classification + config.gamma * guidance,
        logits,
        {"classification": classification, "guidance": guidance, **parts},
    )


def fit_gaze(
    model: nn.Module,
    train_dataset: Any,
    validation_dataset: Any,
    loss_config: GazeLossConfig,
    config: FitConfig | None = None,
    augmentation: JointAugmenter | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
) -> History:
    """Train a `UNetClassifier` with ``loss_config``'s guidance loss; return a `radxai.train.History`.

    Datasets give ``(x, y, gaze)`` (`GazeHeatmapDataset`). The loop is `radxai.guided.fit.fit_guided`
    (Adam, seeded, batch-norm recalibration, early stopping on the total validation loss); an
    ``augmentation(x, gaze, generator)`` (e.g. `JointAugmentation`) moves the gaze with the
    image. Epoch records add ``{train,validation}_{part}_loss`` for the parts of `gaze_losses`;
    a checkpoint also stores ``gaze_loss`` (the configuration).
    """
    config = config or FitConfig()
    positive_weight = positive_weight_for(config, train_dataset, validation_dataset)

    def batch_losses(model: nn.Module, batch: Sequence[torch.Tensor], training: bool) -> BatchLosses:
        inputs, targets, gaze = batch
        return gaze_losses(model, inputs, targets, gaze, loss_config, positive_weight, training)

    return fit_guided(
        model,
        train_dataset,
        validation_dataset,
        batch_losses,
        config,
        augmentation,
        checkpoint,
        {"gaze_loss": asdict(loss_config)},
    )
