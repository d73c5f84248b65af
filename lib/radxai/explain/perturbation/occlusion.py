"""Occlusion (Zeiler & Fergus 2014): slide a baseline patch over the input, 2D and 3D.

A window of `patch_size` voxels per spatial axis moves by `stride` (at most the patch); each
occluded copy takes the window's voxels from the baseline (`radxai.explain.baselines`: "zero",
"constant", "mean", "blur") and the rest from the input. Window starts along an axis of extent L are
0, stride, 2 stride, ... up to L - patch, plus L - patch itself when the stride does not land
there, so every voxel is covered (unlike Captum, which leaves an uncovered border).

    drop(w)  = f_t(x) - f_t(x with window w occluded)   (t: the target class)
    raw[v]   = mean of drop(w) over the windows w that contain voxel v
    heatmaps = ReLU(raw) min-max scaled per sample: the regions whose occlusion lowers the
               target's output, strongest = 1 (a map without any positive drop is all zeros)

f is the explained output ("logit", "probability" or "sigmoid",
`radxai.explain.perturbation.scoring`). Cost, in model evaluations: N (the inputs, which also
resolve the target) + N * windows; the occluded copies are scored `batch_size` at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product
from typing import Any

import numpy as np

from radxai.explain.backends import Backend
from radxai.explain.baselines import baseline as make_baseline
from radxai.explain.explanation import Attribution
from radxai.explain.perturbation.scoring import ClassScorer, reject_layer, target_function_of
from radxai.explain.registry import register_method
from radxai.explain.targets import TargetSpec
from radxai.explain.upsample import minmax

__all__ = ["occlusion", "occlusion_windows"]


def occlusion_windows(
    spatial: Sequence[int], patch_size: int | Sequence[int], stride: int | Sequence[int]
) -> list[tuple[slice, ...]]:
    """The windows (one slice per spatial axis) that cover an image of shape `spatial`.

    patch_size, stride: one int for every axis or one per axis, positive, with the patch no
    larger than the image and the stride no larger than the patch (so that windows leave no
    gap). See the module docstring for where windows start.
    Raises ValueError naming the bad size.
    """
    extents = tuple(int(size) for size in spatial)
    patches = _per_axis("patch_size", patch_size, len(extents))
    strides = _per_axis("stride", stride, len(extents))
    if any(patch > extent for patch, extent in zip(patches, extents)):
        raise ValueError(f"patch_size {patches} is larger than the image {extents} along some axis")
    if any(step > patch for step, patch in zip(strides, patches)):
        raise ValueError(
            f"stride {strides} is larger than patch_size {patches} along some axis: the "
            "voxels between windows would never be occluded"
        )
    starts_per_axis = []
    for extent, patch, step in zip(extents, patches, strides):
        starts = list(range(0, extent - patch + 1, step))
        if starts[-1] != extent - patch:
            starts.append(extent - patch)
        starts_per_axis.append(starts)
    return [
        tuple(slice(start, start + patch) for start, patch in zip(starts, patches))
        for starts in product(*starts_per_axis)
    ]


@register_method("occlusion")
def occlusion(
    backend: Backend,
    x: np.ndarray,
    target: TargetSpec,
    layer: str | None,
    *,
    patch_size: int | Sequence[int] = 32,
    stride: int | Sequence[int] = 16,
    baseline: str = "mean",
    constant: float = 0.0,
    blur_kernel: int = 11,
    output: str = "logit",
    batch_size: int = 32,
) -> Attribution:
    """Occlusion maps of x (N, C, *spatial) for the target (see the module docstring).

    patch_size, stride: voxels, one int or one per spatial axis. baseline, constant,
    blur_kernel: what fills the window (`radxai.explain.baselines.baseline`). output: the
    explained output. batch_size: occluded copies per model call.

    raw (N, *spatial): the mean drop of the target's output over the windows covering each
    voxel (signed); heatmaps: ReLU(raw) min-max scaled per sample; scores: the target logits.
    """
    reject_layer("occlusion", layer)
    scorer = ClassScorer(backend, output, target_function_of(target), batch_size)
    _, _, *spatial = x.shape
    windows = occlusion_windows(spatial, patch_size, stride)
    reference = make_baseline(x, baseline, constant=constant, blur_kernel=blur_kernel)
    resolved = scorer.resolve(x, target)
    drops_sum = np.zeros((len(x), *spatial), dtype=np.float64)
    coverage = np.zeros(spatial, dtype=np.float64)
    for window in windows:
        coverage[window] += 1.0
    for sample in range(len(x)):
        chosen_class = resolved.classes[sample]
        unoccluded = resolved.values[sample, chosen_class]
        for start in range(0, len(windows), batch_size):
            batch_windows = windows[start : start + batch_size]
            copies = np.repeat(x[sample][None], len(batch_windows), axis=0)
            for copy, window in zip(copies, batch_windows):
                region = (slice(None), *window)
                copy[region] = reference[sample][region]
            drops = unoccluded - scorer.values(copies)[:, chosen_class]
            for drop, window in zip(drops, batch_windows):
                drops_sum[sample][window] += drop
    raw = (drops_sum / coverage).astype(np.float32)
    return Attribution(minmax(np.maximum(raw, 0.0)), raw, resolved.targets, None, resolved.scores)


def _per_axis(name: str, value: Any, axes: int) -> tuple[int, ...]:
    message = f"{name} must be a positive int or {axes} positive ints (one per spatial axis); got {value!r}"
    if isinstance(value, (int, np.integer)):
        values = (value,) * axes
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(message) from None
    if len(values) != axes or any(
        isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1 for size in values
    ):
        raise ValueError(message)
    return tuple(int(size) for size in values)
