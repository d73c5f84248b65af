"""Bringing maps to input resolution and to [0, 1]: one routine for 1, 2 and 3 spatial dims.

Numpy in, numpy out, so that every backend uses the same arithmetic (torch does the
interpolation on the CPU whatever framework produced the map).

- `resize`: linear, bilinear or trilinear interpolation (by the number of spatial axes) with
  align_corners=False, the convention of torch, Keras/TF ``resize`` and scikit-image: each
  value sits at the centre of its cell and the map covers the whole input.
- `minmax`: per-sample min-max scaling to [0, 1]; a constant map (all zero included) becomes
  all zeros, never NaN.
- `upsample_and_normalise`: resize, ReLU, min-max; how CAM maps reach `Explanation.heatmaps`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["resize", "minmax", "upsample_and_normalise"]

_INTERPOLATION_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}
# A map whose range is within this many float32 epsilons of its magnitude is constant up to
# rounding (interpolating a constant map can leave a few ulps of ripple): it scales to zeros
# rather than amplifying rounding noise to [0, 1].
_CONSTANT_TOLERANCE = 16 * float(np.finfo(np.float32).eps)


def resize(raw: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Interpolate raw maps (N, *s) (signed or not) to (N, *size), float32, with len(s) = len(size) in 1..3.

    Linear per axis (linear / bilinear / trilinear), align_corners=False. Maps already at
    `size` are returned as float32 without interpolation.
    """
    values = np.asarray(raw, dtype=np.float32)
    _, *spatial = values.shape
    target = tuple(int(extent) for extent in size)
    if len(spatial) != len(target) or len(target) not in _INTERPOLATION_MODES:
        raise ValueError(
            f"cannot resize maps of shape {values.shape} to spatial size {target}: need "
            "(N, *s) with 1 to 3 spatial axes, as many as the target size"
        )
    if tuple(spatial) == target:
        return values
    # interpolate wants a channel axis: (N, 1, *s).
    tensor = torch.from_numpy(np.ascontiguousarray(values))[:, None]
    resized = F.interpolate(tensor, size=target, mode=_INTERPOLATION_MODES[len(target)], align_corners=False)
    return resized[:, 0].numpy()


def minmax(heatmaps: np.ndarray) -> np.ndarray:
    """Scale each map (N, *s) to [0, 1] by its own min and max; constant maps become zeros.

    Returns float32 (N, *s). "Constant" means a range of at most 16 float32 epsilons of the
    map's largest magnitude, so rounding ripple is not blown up into a pattern.
    """
    values = np.asarray(heatmaps, dtype=np.float32)
    n = values.shape[0]
    flat = values.reshape(n, -1)
    low = flat.min(axis=1, keepdims=True)
    high = flat.max(axis=1, keepdims=True)
    extent = high - low
    magnitude = np.maximum(np.abs(high), np.abs(low))
    varies = extent > _CONSTANT_TOLERANCE * magnitude
    scale = np.where(varies, extent, 1.0)
    scaled = np.where(varies, (flat - low) / scale, 0.0)
    return scaled.astype(np.float32).reshape(values.shape)


def upsample_and_normalise(raw: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Maps (N, *s) at layer resolution -> (N, *size) in [0, 1]: resize, ReLU, `minmax`.

    ReLU comes after the interpolation so that the routine also suits signed maps; for maps
    already rectified at layer resolution (CAMs) it changes nothing, since linear
    interpolation of non-negative values is non-negative.
    """
    return minmax(np.maximum(resize(raw, size), 0.0))
