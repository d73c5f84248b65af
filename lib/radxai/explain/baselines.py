"""What a perturbed region is replaced with: one definition for SHAP, LIME, occlusion,
deletion/insertion and the probability-drop analysis.

A baseline is an array of the input's shape (N, C, *spatial), spatial (H, W) or (D, H, W);
perturbation methods take voxels from it where a region is "off" (or deleted) and from the
input elsewhere.

Names (`BASELINES`):
    "zero"      all zeros.
    "constant"  every voxel = `constant` (in the input's units, e.g. -1000 for air in HU).
    "mean"      each sample's per-channel mean over its spatial axes.
    "blur"      a Gaussian blur of the input over the spatial axes only (never across
                channels or samples), with an odd kernel size in voxels (`blur_kernel`).
                The standard deviation follows OpenCV's rule for ``GaussianBlur(image,
                (k, k), 0)``, sigma = 0.3 * ((k - 1) / 2 - 1) + 0.8, so kernel 11 -> sigma 2.0
                and kernel 21 -> sigma 3.5, as in the chest X-ray work's probability drops;
                the kernel is truncated at (k - 1) / 2 voxels and the border is mirrored
                without repeating the edge voxel (OpenCV's default BORDER_REFLECT_101,
                scipy's "mirror").
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["BASELINES", "baseline", "blur_sigma"]

BASELINES = ("zero", "constant", "mean", "blur")


def blur_sigma(kernel_size: int) -> float:
    """The Gaussian standard deviation (voxels) of an odd `kernel_size`, OpenCV's rule."""
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, (int, np.integer)):
        raise TypeError(f"blur_kernel must be an odd integer; got {kernel_size!r}")
    if kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"blur_kernel must be an odd integer >= 3; got {kernel_size}")
    return 0.3 * ((kernel_size - 1) / 2 - 1) + 0.8


def baseline(
    x: np.ndarray, name: str, *, constant: float = 0.0, blur_kernel: int = 11
) -> np.ndarray:
    """The baseline `name` for a batch x (N, C, *spatial); float32, same shape as x.

    name: one of `BASELINES`. constant: the value of the "constant" baseline. blur_kernel:
    the odd kernel size (voxels) of the "blur" baseline.

    Raises ValueError for an unknown name (listing the names), an input that is not
    (N, C, *spatial) with 1 to 3 spatial axes, or a non-finite constant.
    """
    values = np.asarray(x, dtype=np.float32)
    if values.ndim not in (3, 4, 5):
        raise ValueError(
            f"a baseline needs a batch (N, C, *spatial) with 1 to 3 spatial axes; got shape "
            f"{values.shape}"
        )
    _, _, *spatial = values.shape
    spatial_axes = tuple(range(2, values.ndim))
    if name == "zero":
        return np.zeros_like(values)
    if name == "constant":
        if not np.isfinite(constant):
            raise ValueError(f"the constant baseline needs a finite value; got {constant}")
        return np.full_like(values, constant)
    if name == "mean":
        means = values.mean(axis=spatial_axes, keepdims=True, dtype=np.float64)
        return np.broadcast_to(means, values.shape).astype(np.float32)
    if name == "blur":
        sigma = blur_sigma(blur_kernel)
        radius = (blur_kernel - 1) // 2
        # Zero sigma on the batch and channel axes: blur within each image only.
        sigmas = (0.0, 0.0) + (sigma,) * len(spatial)
        return ndimage.gaussian_filter(
            values, sigma=sigmas, mode="mirror", truncate=radius / sigma
        ).astype(np.float32)
    raise ValueError(f"unknown baseline {name!r}; baselines: {', '.join(BASELINES)}")
