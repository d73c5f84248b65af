"""Intensity windowing and resampling of CT volumes and radiographs for the models.

CT values are Hounsfield units (HU); model inputs are float32 in [0, 1]. Arrays are
channel-less: (D, H, W) for a volume, (H, W) for a 2D image.

Resampling convention (used by `resize` and `resize_volume` alike): voxels are treated as
cells, and the first and last cells' outer edges stay where they are (scipy's
`grid_mode=True`, the same as align_corners=False). The physical extent and the centre of
the volume are therefore kept; the voxel size along an axis becomes
old size * old count / new count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from radxai.data.volume import Volume

__all__ = [
    "WINDOWS",
    "DEFAULT_CT_SHAPE",
    "DEFAULT_XRAY_SHAPE",
    "window_from_level_width",
    "resolve_window",
    "clip_and_scale",
    "resize",
    "resize_volume",
    "preprocess_ct",
    "preprocess_xray",
]


def window_from_level_width(level: float, width: float) -> tuple[float, float]:
    """(low, high) HU bounds of a display window given its level (centre) and width in HU."""
    if not width > 0:
        raise ValueError(f"window width must be positive, got {width}")
    return (level - width / 2.0, level + width / 2.0)


# (low, high) in HU. "covid" is the fixed range of the 3D COVID-19 CT classification work
# on MosMedData (Keras 3D CNN tutorial); "lung" and "mediastinum" are the usual radiology
# display windows (level/width -600/1500 and 40/400).
WINDOWS: dict[str, tuple[float, float]] = {
    "covid": (-1000.0, 400.0),
    "lung": window_from_level_width(-600.0, 1500.0),
    "mediastinum": window_from_level_width(40.0, 400.0),
}

# (D, H, W): the Keras 3D tutorial's width x height x depth of 128 x 128 x 64.
DEFAULT_CT_SHAPE: tuple[int, int, int] = (64, 128, 128)
# (H, W): the input size of ImageNet-style 2D backbones such as ResNet50.
DEFAULT_XRAY_SHAPE: tuple[int, int] = (224, 224)

WindowSpec = str | tuple[float, float]


def resolve_window(window: WindowSpec) -> tuple[float, float]:
    """(low, high) HU of a window preset name (`WINDOWS`) or a (low, high) pair; ValueError otherwise."""
    if isinstance(window, str):
        if window not in WINDOWS:
            raise ValueError(
                f"unknown window preset {window!r}; presets are {sorted(WINDOWS)} or give a (low, high) pair in HU"
            )
        return WINDOWS[window]
    bounds = tuple(window)
    if len(bounds) != 2:
        raise ValueError(f"window must be a preset name or a (low, high) HU pair, got {window!r}")
    low, high = float(bounds[0]), float(bounds[1])
    if not (np.isfinite(low) and np.isfinite(high)) or low >= high:
        raise ValueError(f"window needs finite low < high in HU, got ({low}, {high})")
    return low, high


def _reject_nan(values: np.ndarray, what: str) -> None:
    if np.issubdtype(values.dtype, np.floating):
        bad_count = int(np.count_nonzero(~np.isfinite(values)))
        if bad_count:
            raise ValueError(f"{what}: {bad_count} of {values.size} values are NaN or infinite")


def clip_and_scale(hu: np.ndarray, window: WindowSpec = "covid") -> np.ndarray:
    """Clip HU values to a window and map it linearly onto [0, 1].

    hu: array of any shape in HU. window: a name from `WINDOWS` or (low, high) in HU.
    Returns float32 of the same shape: low (and below) -> 0, high (and above) -> 1.
    """
    low, high = resolve_window(window)
    values = np.asarray(hu)
    _reject_nan(values, "clip_and_scale")
    # Working in float32 after rounding the bounds to float32 keeps every output in
    # [0, 1] exactly: (x - low) <= (high - low) survives correctly rounded arithmetic.
    low32, high32 = np.float32(low), np.float32(high)
    if not low32 < high32:
        raise ValueError(f"window ({low}, {high}) is too narrow to represent in float32")
    clipped = np.clip(values.astype(np.float32), low32, high32)
    return ((clipped - low32) / (high32 - low32)).astype(np.float32)


def _validated_shape(shape: Sequence[int], ndim: int) -> tuple[int, ...]:
    shape_tuple = tuple(shape)
    if len(shape_tuple) != ndim:
        raise ValueError(f"target shape {shape_tuple} must have {ndim} sizes for a {ndim}D array")
    for size in shape_tuple:
        is_integer = isinstance(size, (int, np.integer)) and not isinstance(size, (bool, np.bool_))
        if not is_integer or size <= 0:
            raise ValueError(f"target shape {shape_tuple} must hold positive integers")
    return tuple(int(size) for size in shape_tuple)


def resize(array: np.ndarray, shape: Sequence[int], order: int = 1) -> np.ndarray:
    """Resample a 2D (H, W) or 3D (D, H, W) array to exactly `shape` with scipy's zoom.

    order: spline order, 1 = linear (default), 0 = nearest (for labels and masks).
    Cell edges are aligned (see the module docstring). order 0 keeps the dtype; higher
    orders return float32 for integer or boolean input and keep floating dtypes.
    """
    values = np.asarray(array)
    if values.ndim not in (2, 3):
        raise ValueError(f"resize needs a 2D or 3D array, got shape {values.shape}")
    if values.size == 0:
        raise ValueError(f"resize cannot resample an empty array of shape {values.shape}")
    target = _validated_shape(shape, values.ndim)
    if order > 0 and not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float32)
    # zoom rounds size * factor to get its output size; target / size times size is
    # within a few ulps of the integer target, so the rounding lands on it.
    factors = [new / old for new, old in zip(target, values.shape)]
    resized = ndimage.zoom(values, factors, order=order, mode="nearest", grid_mode=True)
    if resized.shape != target:
        raise RuntimeError(f"zoom produced shape {resized.shape} instead of {target}")
    return resized


def resize_volume(volume: Volume, shape: Sequence[int], order: int = 1) -> Volume:
    """Resample a `Volume` to `shape` (D, H, W), keeping its physical extent and centre.

    The array is resampled with `order` (1 = linear), masks with nearest neighbour so
    labels stay labels. The affine's voxel steps are scaled by old count / new count per
    axis, and its origin moves to the centre of the new first voxel, so world positions
    of the volume's edges and centre are unchanged. Spacing (dz, dy, dx) in mm follows.
    """
    target = _validated_shape(shape, 3)
    array = resize(volume.array, target, order=order)
    masks = {name: resize(mask, target, order=0) for name, mask in volume.masks.items()}
    affine = _resized_affine(volume.affine, volume.shape, target)
    new_spacing = tuple(float(old * count / new) for old, count, new in zip(volume.spacing, volume.shape, target))
    return Volume(array, affine, new_spacing, masks)


def _resized_affine(affine: np.ndarray, old_shape: tuple[int, ...], new_shape: tuple[int, ...]) -> np.ndarray:
    # Ratios are in array order (k, j, i); affine columns are in index order (i, j, k).
    ratios = np.array([old / new for old, new in zip(old_shape, new_shape)])[::-1]
    # The centre of new voxel 0 lies half a new voxel inside the old first cell's edge.
    first_centre_in_old_index = 0.5 * ratios - 0.5
    resized = affine.copy()
    resized[:3, :3] = affine[:3, :3] * ratios
    resized[:3, 3] = affine[:3, :3] @ first_centre_in_old_index + affine[:3, 3]
    return resized


def preprocess_ct(
    hu_or_volume: np.ndarray | Volume,
    shape: Sequence[int] = DEFAULT_CT_SHAPE,
    window: WindowSpec = "covid",
) -> np.ndarray:
    """Model input from a CT: window HU to [0, 1], then resize linearly.

    hu_or_volume: (D, H, W) array in HU, or a `Volume`. shape: target (D, H, W).
    Returns float32 (D, H, W) in [0, 1].
    """
    hu = hu_or_volume.array if isinstance(hu_or_volume, Volume) else np.asarray(hu_or_volume)
    if hu.ndim != 3:
        raise ValueError(f"preprocess_ct needs a 3D (D, H, W) array, got shape {hu.shape}")
    resized = resize(clip_and_scale(hu, window), shape, order=1)
    # Linear interpolation of values in [0, 1] may round one ulp past the bounds.
    return np.clip(resized, 0.0, 1.0).astype(np.float32)


def preprocess_xray(image: np.ndarray, shape: Sequence[int] = DEFAULT_XRAY_SHAPE) -> np.ndarray:
    """Model input from a radiograph: per-image min-max normalisation, then linear resize.

    image: (H, W), any intensity unit. shape: target (H, W). Returns float32 (H, W) in
    [0, 1]; a constant image becomes all zeros.
    """
    values = np.asarray(image)
    if values.ndim != 2:
        raise ValueError(f"preprocess_xray needs a 2D (H, W) image, got shape {values.shape}")
    if values.size == 0:
        raise ValueError(f"preprocess_xray got an empty image of shape {values.shape}")
    _reject_nan(values, "preprocess_xray")
    values = values.astype(np.float64)
    low, high = values.min(), values.max()
    normalised = (values - low) / (high - low) if high > low else np.zeros_like(values)
    resized = resize(normalised.astype(np.float32), shape, order=1)
    # Linear interpolation of values in [0, 1] may round one ulp past the bounds.
    return np.clip(resized, 0.0, 1.0).astype(np.float32)
