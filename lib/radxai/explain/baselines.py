"""What a perturbed region is replaced with: one definition for SHAP, LIME, occlusion,
deletion/insertion and the probability-drop analysis.

A baseline is an array of the input's shape (N, C, *spatial), spatial (H, W) or (D, H, W);
perturbation methods take voxels from it where a region is "off" (or deleted) and from the
input elsewhere.

Names (`BASELINES`):
    "zero"          all zeros.
    "constant"      every voxel = `constant` (in the input's units, e.g. -1000 for air in HU).
    "mean"          each sample's per-channel mean over its spatial axes.
    "blur"          a Gaussian blur of the input over the spatial axes only (never across
                    channels or samples), with an odd kernel size in voxels (`blur_kernel`).
                    The standard deviation follows OpenCV's rule for ``GaussianBlur(image,
                    (k, k), 0)``, sigma = 0.3 * ((k - 1) / 2 - 1) + 0.8, so kernel 11 -> sigma
                    2.0 and kernel 21 -> sigma 3.5, as in the chest X-ray work's probability
                    drops; the kernel is truncated at (k - 1) / 2 voxels and the border is
                    mirrored without repeating the edge voxel (OpenCV's default
                    BORDER_REFLECT_101, scipy's "mirror").
    "healthy_fill"  removal by healthy tissue of the same scan (`healthy_fill`): inside a
                    `region` mask (the lungs) every voxel is the median of the sample's
                    healthy region voxels (those at or below `healthy_ceiling`, in input
                    units) plus seeded Gaussian noise of their standard deviation; outside
                    the region the baseline is the input itself.
    "reference"     a given array of x's shape (`reference`), e.g. the same phantom patient
                    rendered without its lesion: the positive control of removal.

The blurred or mean volume of a CT is not tissue the model has seen, and a model may score it
as a finding (the 3D CNN scores the blurred COVID-19 volume higher than the scan): a deletion
curve then measures the baseline, not the map. "healthy_fill" and "reference" stay in the
distribution the model was trained on.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = [
    "BASELINES",
    "baseline",
    "blur_sigma",
    "check_settings",
    "healthy_fill",
    "reference_baseline",
]

BASELINES = ("zero", "constant", "mean", "blur", "healthy_fill", "reference")


def blur_sigma(kernel_size: int) -> float:
    """The Gaussian standard deviation (voxels) of an odd `kernel_size`, OpenCV's rule."""
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, (int, np.integer)):
        raise TypeError(f"blur_kernel must be an odd integer; got {kernel_size!r}")
    if kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"blur_kernel must be an odd integer >= 3; got {kernel_size}")
    return 0.3 * ((kernel_size - 1) / 2 - 1) + 0.8


def check_settings(
    name: str,
    *,
    constant: float = 0.0,
    blur_kernel: int = 11,
    region: np.ndarray | None = None,
    healthy_ceiling: float | None = None,
    reference: np.ndarray | None = None,
) -> None:
    """Check that `name` is a baseline and that its settings fit it, without an input.

    Raises ValueError for an unknown name (listing the names), a non-finite constant, an
    invalid blur kernel, a missing or non-finite setting of "healthy_fill" (region,
    healthy_ceiling) or "reference" (reference), or one of those given to another baseline.
    The arrays' values and shapes are checked when the baseline is made (`baseline`).
    """
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; baselines: {', '.join(BASELINES)}")
    if name == "constant" and not np.isfinite(constant):
        raise ValueError(f"the constant baseline needs a finite value; got {constant}")
    if name == "blur":
        blur_sigma(blur_kernel)
    if (region is not None or healthy_ceiling is not None) and name != "healthy_fill":
        raise ValueError(f"region and healthy_ceiling are settings of the healthy_fill baseline, not of {name!r}")
    if reference is not None and name != "reference":
        raise ValueError(f"reference is a setting of the reference baseline, not of {name!r}")
    if name == "healthy_fill":
        if region is None or healthy_ceiling is None:
            raise ValueError(
                "the healthy_fill baseline needs a region mask (region=) and the healthy "
                "ceiling in input units (healthy_ceiling=)"
            )
        if not np.isfinite(healthy_ceiling):
            raise ValueError(f"healthy_ceiling must be finite (input units); got {healthy_ceiling}")
    if name == "reference" and reference is None:
        raise ValueError("the reference baseline needs the reference input (reference=)")


def baseline(
    x: np.ndarray,
    name: str,
    *,
    constant: float = 0.0,
    blur_kernel: int = 11,
    region: np.ndarray | None = None,
    healthy_ceiling: float | None = None,
    reference: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The baseline `name` for a batch x (N, C, *spatial); float32, same shape as x.

    name: one of `BASELINES`. constant: the value of the "constant" baseline. blur_kernel:
    the odd kernel size (voxels) of the "blur" baseline. region, healthy_ceiling, seed: the
    mask, ceiling (input units) and noise seed of "healthy_fill" (see `healthy_fill`).
    reference: the array of "reference" (see `reference_baseline`).

    Raises ValueError for an input that is not (N, C, *spatial) with 1 to 3 spatial axes,
    the errors of `check_settings`, and those of `healthy_fill` and `reference_baseline`.
    """
    values = _as_batch(x)
    check_settings(
        name,
        constant=constant,
        blur_kernel=blur_kernel,
        region=region,
        healthy_ceiling=healthy_ceiling,
        reference=reference,
    )
    _, _, *spatial = values.shape
    if name == "zero":
        return np.zeros_like(values)
    if name == "constant":
        return np.full_like(values, constant)
    if name == "mean":
        means = values.mean(axis=tuple(range(2, values.ndim)), keepdims=True, dtype=np.float64)
        return np.broadcast_to(means, values.shape).astype(np.float32)
    if name == "blur":
        sigma = blur_sigma(blur_kernel)
        radius = (blur_kernel - 1) // 2
        # Zero sigma on the batch and channel axes: blur within each image only.
        sigmas = (0.0, 0.0) + (sigma,) * len(spatial)
        return ndimage.gaussian_filter(values, sigma=sigmas, mode="mirror", truncate=radius / sigma).astype(np.float32)
    if name == "healthy_fill":
        return healthy_fill(values, region, healthy_ceiling=healthy_ceiling, seed=seed)
    return reference_baseline(values, reference)


def healthy_fill(x: np.ndarray, region: np.ndarray, *, healthy_ceiling: float, seed: int = 0) -> np.ndarray:
    """x (N, C, *spatial) with its `region` filled by the healthy tissue of the same sample;
    float32, same shape as x.

    region: bool or 0/1 mask (N, *spatial), one per sample, or (*spatial) for every sample:
    the voxels to fill (the lungs). healthy_ceiling: in input units (the windowed value of,
    e.g., -700 HU, not HU): a region voxel at or below it counts as healthy parenchyma.
    seed: the seed of the noise.

    For each sample and channel, the healthy voxels are its region voxels with values
    <= healthy_ceiling; each region voxel becomes their median plus their standard deviation
    (population, ddof 0) times a standard normal value. The normal values are one seeded
    field (*spatial), shared by every sample and channel, so a sample's fill depends only on
    that sample, its mask and the seed (not on the rest of the batch), and a grey image
    copied into several channels stays a copy. The fill is not clipped to the input's range.
    Outside the region the baseline equals the input: deleting a voxel there changes nothing.

    Raises ValueError for a mask that is not binary or whose shape is neither (N, *spatial)
    nor (*spatial), a non-finite ceiling, or a sample (and channel) whose region holds no
    healthy voxel (naming them).
    """
    values = _as_batch(x)
    check_settings("healthy_fill", region=region, healthy_ceiling=healthy_ceiling)
    n, channels, *spatial = values.shape
    mask = np.asarray(region)
    if mask.shape == tuple(spatial):
        mask = np.broadcast_to(mask, (n, *spatial))
    if mask.shape != (n, *spatial):
        raise ValueError(
            f"the region mask has shape {mask.shape}, but input {values.shape} needs "
            f"{(n, *spatial)} (one mask per sample) or {tuple(spatial)} (one for all)"
        )
    if not np.isin(mask, (0, 1)).all():
        raise ValueError("the region mask must be binary (bool or 0/1)")
    mask = mask.astype(bool)
    noise = np.random.default_rng(seed).standard_normal(tuple(spatial))
    filled = values.copy()
    for sample in range(n):
        inside = mask[sample]
        for channel in range(channels):
            tissue = values[sample, channel][inside]
            healthy = tissue[tissue <= healthy_ceiling].astype(np.float64)
            if healthy.size == 0:
                raise ValueError(
                    f"sample {sample}, channel {channel}: none of its {tissue.size} region "
                    f"voxels is at or below the healthy ceiling {healthy_ceiling:g}; check "
                    "the mask and the ceiling's units (input units, not HU)"
                )
            fill = np.median(healthy) + healthy.std() * noise[inside]
            filled[sample, channel][inside] = fill
    return filled


def reference_baseline(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The given `reference` (N, C, *spatial), one per sample of x, as the baseline of x;
    float32. E.g. the same phantom patient rendered without its lesion.

    Raises ValueError for a reference whose shape is not exactly x's (naming both shapes) or
    that holds NaN or infinite values.
    """
    values = _as_batch(x)
    given = np.asarray(reference, dtype=np.float32)
    if given.shape != values.shape:
        raise ValueError(
            f"the reference has shape {given.shape}, but it must have the input's shape "
            f"{values.shape}: one reference per sample, same channels and spatial shape"
        )
    bad = int(np.count_nonzero(~np.isfinite(given)))
    if bad:
        raise ValueError(f"the reference has {bad} NaN or infinite values of {given.size}")
    return given.copy()


def _as_batch(x: np.ndarray) -> np.ndarray:
    """x as float32 (N, C, *spatial) with 1 to 3 spatial axes, or ValueError."""
    values = np.asarray(x, dtype=np.float32)
    if values.ndim not in (3, 4, 5):
        raise ValueError(
            f"a baseline needs a batch (N, C, *spatial) with 1 to 3 spatial axes; got shape {values.shape}"
        )
    return values
