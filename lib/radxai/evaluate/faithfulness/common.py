"""What the faithfulness measures share: the perturbation baselines, scoring batches through a backend, input checks."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, softmax

from radxai.explain.backends import Backend
from radxai.explain.baselines import BASELINES, baseline, check_settings
from radxai.explain.targets import check_target, logits_of

LINKS = ("sigmoid", "softmax")


@dataclass(frozen=True, eq=False)
class Baseline:
    """What removed voxels are replaced with: a name of `radxai.explain.baselines.BASELINES`
    and its settings: `constant` (input units) for "constant", the odd `blur_kernel` size
    (voxels, OpenCV's sigma rule) for "blur"; for "healthy_fill" the `region` mask
    (N, *spatial) or (*spatial), the `healthy_ceiling` (input units, e.g. the windowed value of
    -700 HU) and the noise `seed`; for "reference" the `reference` array (N, C, *spatial).

    The arrays are stored as read-only copies, and a Baseline is compared and hashed by
    identity, as it may hold arrays. Their values and shapes are checked against the batch in
    `of` (`radxai.explain.baselines.healthy_fill`, `reference_baseline`).

    Raises ValueError for an unknown name (listing the names), a non-finite constant or
    ceiling, an invalid kernel size, a missing setting of "healthy_fill" or "reference", or a
    region, ceiling or reference given to another baseline (`check_settings`).
    """

    name: str
    constant: float = 0.0
    blur_kernel: int = 11
    region: np.ndarray | None = None
    healthy_ceiling: float | None = None
    seed: int = 0
    reference: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_settings(
            self.name,
            constant=self.constant,
            blur_kernel=self.blur_kernel,
            region=self.region,
            healthy_ceiling=self.healthy_ceiling,
            reference=self.reference,
        )
        for setting in ("region", "reference"):
            value = getattr(self, setting)
            if value is not None:
                stored = np.array(value)
                stored.flags.writeable = False
                object.__setattr__(self, setting, stored)

    @property
    def label(self) -> str:
        """The name used in tables: "zero", "mean", "blur 11", "constant -1000",
        "healthy fill <= 0.214", "reference"."""
        if self.name == "blur":
            return f"blur {self.blur_kernel}"
        if self.name == "constant":
            return f"constant {self.constant:g}"
        if self.name == "healthy_fill":
            return f"healthy fill <= {self.healthy_ceiling:.3g}"
        return self.name

    def of(self, x: np.ndarray) -> np.ndarray:
        """The baseline of a batch x (N, C, *spatial): float32, same shape. The region and
        reference belong to exactly these N samples, in order; ValueError if their shapes do
        not fit x."""
        return baseline(
            x,
            self.name,
            constant=self.constant,
            blur_kernel=self.blur_kernel,
            region=self.region,
            healthy_ceiling=self.healthy_ceiling,
            reference=self.reference,
            seed=self.seed,
        )


class _Scorer:
    """Every class's logits and probabilities of batches, through a Backend.

    The Backend's `scores` returns one target score per sample; a callable target sees the
    model's whole output, so it records every logit from the same forward pass (and hands
    the Backend column 0 as the score it expects). The model runs once per sample and the
    Backend counts it.
    """

    def __init__(self, backend: Backend, link: str) -> None:
        self.backend = backend
        self.link = link

    def logits(self, batch: np.ndarray, description: str) -> np.ndarray:
        """(B, K) float64 logits of a batch (B, C, *spatial); ValueError if any is not finite."""
        recorded: list[Any] = []

        def every_logit(output: Any) -> Any:
            logits = logits_of(output)
            if getattr(logits, "ndim", None) not in (1, 2):
                raise ValueError(
                    f"model logits have shape {tuple(getattr(logits, 'shape', ()))}; expected (N,) or (N, K)"
                )
            recorded.append(logits)
            return logits[:, 0] if logits.ndim == 2 else logits

        self.backend.scores(batch, every_logit)
        logits = _as_numpy(recorded[-1]).reshape(len(batch), -1)
        bad = int(np.count_nonzero(~np.isfinite(logits)))
        if bad:
            raise ValueError(
                f"the model returned {bad} non-finite (NaN or infinite) logits of {logits.size} "
                f"for a batch of {len(batch)} {description}"
            )
        return logits

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """(B, classes) probabilities of (B, K) logits, per the link (module docstring)."""
        if self.link == "softmax":
            if logits.shape[1] < 2:
                raise ValueError(
                    "the softmax link needs a model with at least two outputs; this one has "
                    "one logit (use link='sigmoid')"
                )
            return softmax(logits, axis=1)
        positive = expit(logits)
        if logits.shape[1] == 1:
            return np.concatenate([1.0 - positive, positive], axis=1)
        return positive


def _as_numpy(tensor: Any) -> np.ndarray:
    """A torch or TensorFlow tensor (or array) as float64 numpy."""
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu()
    return np.asarray(tensor, dtype=np.float64)


def _check_heatmaps(heatmaps: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """heatmaps as (N, *spatial) float64 for inputs (N, C, *spatial), or ValueError."""
    values = np.asarray(heatmaps, dtype=np.float64)
    n, channels, *spatial = inputs.shape
    if values.shape == tuple(spatial) and n == 1:
        values = values[None]
    if values.shape != (n, *spatial):
        raise ValueError(
            f"heatmaps have shape {values.shape}, but input {inputs.shape} needs heatmaps "
            f"{(n, *spatial)}: one value per voxel, shared by its {channels} channel(s)"
        )
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise ValueError(f"heatmaps have {bad} NaN or infinite values; the order needs finite heatmaps")
    return values


def _as_baseline(spec: str | Baseline) -> Baseline:
    if isinstance(spec, Baseline):
        return spec
    if isinstance(spec, str):
        return Baseline(spec)
    raise TypeError(f"a baseline is a name ({', '.join(BASELINES)}) or a Baseline; got {spec!r}")


def _check_link(link: str) -> None:
    if link not in LINKS:
        raise ValueError(f"unknown link {link!r}; links: {', '.join(LINKS)}")


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")


def _check_class_target(target: Any, batch_size: int) -> None:
    if callable(target):
        raise TypeError(
            "deletion and insertion score a class's probability: give target as an int "
            "class, one int per sample, or None (not a callable)"
        )
    check_target(target, batch_size)


def _per_sample_classes(classes: int | Sequence[int] | np.ndarray, n: int) -> list[int]:
    if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
        return [int(classes)] * n
    values = np.asarray(classes)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"source_classes must be an int or one int per sample; got {classes!r}")
    if len(values) != n:
        raise ValueError(f"source_classes has {len(values)} entries for {n} samples")
    return [int(value) for value in values]


def _top_count(fraction: float, voxels: int) -> int:
    """The number of voxels in the top `fraction`, rounded half up."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fractions must be in (0, 1]; got {fraction}")
    count = math.floor(fraction * voxels + 0.5)
    if count < 1:
        raise ValueError(f"fraction {fraction} of {voxels} voxels covers no voxel; use a larger fraction")
    return count


def _evaluate_in_batches(
    items: Iterator[tuple[Any, np.ndarray]],
    scorer: _Scorer,
    sample_shape: tuple[int, ...],
    batch_size: int,
    description: str,
) -> Iterator[tuple[list[Any], np.ndarray]]:
    """Run (key, input (C, V)) items through the model `batch_size` at a time; yields each
    batch's keys and its (B, classes) probabilities. Each input is copied into the batch as
    it comes, so a producer may reuse (and keep changing) one array."""
    batch = np.empty((batch_size, *sample_shape), dtype=np.float32)
    flat = batch.reshape(batch_size, sample_shape[0], -1)
    keys: list[Any] = []
    for key, values in items:
        flat[len(keys)] = values
        keys.append(key)
        if len(keys) == batch_size:
            yield keys, scorer.probabilities(scorer.logits(batch, description))
            keys = []
    if keys:
        yield keys, scorer.probabilities(scorer.logits(batch[: len(keys)], description))
