"""Heatmaps and masks at the localisation metrics' edge: validation, resampling, binarisation.

Every localisation metric compares a heatmap (*spatial) with a reference mask of the same
spatial shape, 2D (H, W) or 3D (D, H, W), and the checks here are the ones they share:

- a heatmap holds finite real numbers (no NaN, no infinity);
- a mask is binary: a boolean array, or numbers that are all 0 or 1 (an organ label map with
  values 1, 2, 3 is refused rather than silently read as "non-zero");
- a heatmap and its mask have one shape, unless the caller asks for the mask to be resampled
  onto the heatmap's grid (``resample="nearest"``), e.g. to score a CAM at its layer's
  resolution as the HiResCAM work computes OrganIoU.

Binarisation schemes (docs/architecture.md): a fixed threshold (h > t), a band (lo < h <= hi), the top
fraction p of voxels, and Otsu's threshold. Each is a small frozen dataclass with a ``label``
for tables, passed to :func:`binarise`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from skimage.filters import threshold_otsu

__all__ = [
    "RESAMPLE_METHODS",
    "Band",
    "BinarisationScheme",
    "Otsu",
    "Threshold",
    "TopFraction",
    "binarise",
    "check_binary_mask",
    "nearest_indices",
    "check_heatmap",
    "mask_on_heatmap_grid",
    "resample_mask",
]

RESAMPLE_METHODS: tuple[str, ...] = ("nearest",)
_SPATIAL_DIMENSIONS = (2, 3)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _check_spatial(array: np.ndarray, name: str) -> None:
    if array.ndim not in _SPATIAL_DIMENSIONS:
        raise ValueError(f"{name} must be 2D (H, W) or 3D (D, H, W); got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")


def check_heatmap(heatmap: np.ndarray, name: str = "heatmap") -> np.ndarray:
    """Return ``heatmap`` (H, W) or (D, H, W) as float64 after checking it holds finite numbers.

    Raises:
        TypeError: the values are not real numbers (e.g. strings, complex, objects).
        ValueError: not 2D or 3D, no voxels, NaN or infinite values (with their count).
    """
    array = np.asarray(heatmap)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}")
    _check_spatial(array, name)
    values = array.astype(np.float64)
    not_finite = ~np.isfinite(values)
    if not_finite.any():
        raise ValueError(
            f"{name} has {int(not_finite.sum())} NaN or infinite value(s); localisation metrics need finite numbers"
        )
    return values


def check_binary_mask(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    """Return ``mask`` (H, W) or (D, H, W) as bool after checking it is binary.

    Accepted: a boolean array, or numbers that are all exactly 0 or 1.

    Raises:
        TypeError: the values are neither booleans nor numbers.
        ValueError: not 2D or 3D, no voxels, or values other than 0 and 1 (the first few are
            named, so a label map such as 0/1/2/3 organ labels is recognisable).
    """
    array = np.asarray(mask)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be boolean or 0/1 numbers; got dtype {array.dtype}")
    _check_spatial(array, name)
    if array.dtype.kind == "b":
        return array
    is_binary = (array == 0) | (array == 1)
    if not is_binary.all():
        found = np.unique(array[~is_binary])[:5].tolist()
        raise ValueError(
            f"{name} must be binary (0/1 or bool); found values {found}. Select the region first, e.g. labels == value"
        )
    return array.astype(bool)


# --------------------------------------------------------------------------------------------
# Resampling a mask onto a heatmap's grid
# --------------------------------------------------------------------------------------------


def resample_mask(mask: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Nearest-neighbour resampling of a binary mask (*s) onto the grid ``shape`` (same ndim).

    Both grids cover the same field of view with cell centres aligned as in
    ``align_corners=False`` interpolation (the library's upsampling convention): output cell i
    of an axis with n_out cells takes input cell floor((i + 0.5) * n_in / n_out). No dilation
    and no area weighting, the setting the HiResCAM work found best for downsampling organ
    masks to a CAM layer's resolution. Returns bool with shape ``shape``.

    Raises:
        ValueError: a mask that is not binary, 2D or 3D; a shape of another length or with a
            non-positive extent.
    """
    mask_array = check_binary_mask(mask)
    target = tuple(int(extent) for extent in shape)
    if len(target) != mask_array.ndim or any(extent < 1 for extent in target):
        raise ValueError(
            f"cannot resample a mask of shape {mask_array.shape} to {target}: "
            "the target needs one positive extent per mask axis"
        )
    indices = [nearest_indices(n_in, n_out) for n_in, n_out in zip(mask_array.shape, target)]
    return mask_array[np.ix_(*indices)]


def nearest_indices(n_in: int, n_out: int) -> np.ndarray:
    """The input cell under each output cell's centre, (n_out,) int64: floor((i + 1/2) n_in / n_out).

    Computed in integers, (2i + 1) n_in // (2 n_out), so a centre that falls exactly on a cell
    edge always takes the cell after it; floating-point scale factors (as in torch's
    ``nearest-exact``) sometimes take the one before.
    """
    return (2 * np.arange(n_out, dtype=np.int64) + 1) * n_in // (2 * n_out)


def mask_on_heatmap_grid(
    mask: np.ndarray, heatmap_shape: Sequence[int], resample: str | None, name: str = "mask"
) -> np.ndarray:
    """A validated binary mask with the heatmap's shape.

    Args:
        mask: binary (*s), see :func:`check_binary_mask`.
        heatmap_shape: the spatial shape the mask must have.
        resample: None (default): the shapes must already agree. ``"nearest"``: a mask of
            another shape (same number of axes) is resampled by :func:`resample_mask`.

    Raises:
        ValueError: shapes differ and no resampling was asked for (both shapes are named);
            an unknown ``resample`` value (the allowed ones are listed); a non-binary mask.
    """
    if resample is not None and resample not in RESAMPLE_METHODS:
        raise ValueError(f"resample must be None or one of {list(RESAMPLE_METHODS)}; got {resample!r}")
    mask_array = check_binary_mask(mask, name)
    target = tuple(int(extent) for extent in heatmap_shape)
    if mask_array.shape == target:
        return mask_array
    if resample is None:
        raise ValueError(
            f"heatmap shape {target} differs from {name} shape {mask_array.shape}; "
            "pass resample='nearest' to resample the mask onto the heatmap's grid"
        )
    return resample_mask(mask_array, target)


# --------------------------------------------------------------------------------------------
# Binarisation schemes
# --------------------------------------------------------------------------------------------


def _finite_number(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {type(value).__name__} {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    return float(value)


@dataclass(frozen=True)
class Threshold:
    """Voxels strictly above ``value`` (h > t), in the heatmap's units (e.g. 0.7 of [0, 1])."""

    value: float

    def __post_init__(self) -> None:
        _finite_number(self.value, "Threshold value")

    @property
    def label(self) -> str:
        """Short name for tables, e.g. ``"h > 0.7"``."""
        return f"h > {self.value:g}"

    def select(self, heatmap: np.ndarray) -> np.ndarray:
        """bool (*s) mask of a validated float heatmap (*s)."""
        return heatmap > self.value


@dataclass(frozen=True)
class Band:
    """Voxels with ``low < h <= high``: a band of intermediate values (Table 3.7: 0.3-0.7)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        low = _finite_number(self.low, "Band low")
        high = _finite_number(self.high, "Band high")
        if not low < high:
            raise ValueError(f"Band needs low < high; got low={low}, high={high}")

    @property
    def label(self) -> str:
        """Short name for tables, e.g. ``"0.3 < h <= 0.7"``."""
        return f"{self.low:g} < h <= {self.high:g}"

    def select(self, heatmap: np.ndarray) -> np.ndarray:
        """bool (*s) mask of a validated float heatmap (*s)."""
        return (heatmap > self.low) & (heatmap <= self.high)


@dataclass(frozen=True)
class TopFraction:
    """The ``fraction`` p of voxels with the highest values, p in (0, 1).

    With N voxels, k = round(p N) voxels are wanted (Python's round, half to even), and v is
    the k-th largest value. Ties: the mask is h >= v, so every voxel tied with the k-th is
    kept (a plateau at the top is selected whole, never an arbitrary, position-dependent part
    of it), except that voxels at the map's minimum are never "top": when v is the minimum the
    mask is h > v. So a constant map selects nothing, and a rectified CAM that is zero on more
    than 1 - p of the image selects only its positive voxels rather than the whole background.
    The mask therefore holds exactly k voxels when values are distinct, more when the k-th
    value is tied, fewer when the minimum is reached. k = 0 (p below half a voxel) selects
    nothing; p = 1 is refused (every voxel is no "top").
    """

    fraction: float

    def __post_init__(self) -> None:
        fraction = _finite_number(self.fraction, "TopFraction fraction")
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"TopFraction fraction must lie strictly between 0 and 1; got {fraction}")

    @property
    def label(self) -> str:
        """Short name for tables, e.g. ``"top 5%"``."""
        return f"top {100.0 * self.fraction:.6g}%"

    def select(self, heatmap: np.ndarray) -> np.ndarray:
        """bool (*s) mask of a validated float heatmap (*s)."""
        voxel_count = heatmap.size
        wanted = round(self.fraction * voxel_count)
        if wanted == 0:
            return np.zeros(heatmap.shape, dtype=bool)
        kth_largest_position = voxel_count - wanted
        cut = np.partition(heatmap.ravel(), kth_largest_position)[kth_largest_position]
        if cut == heatmap.min():
            return heatmap > cut
        return heatmap >= cut


@dataclass(frozen=True)
class Otsu:
    """Voxels above Otsu's threshold of the map's values (skimage ``threshold_otsu``, 256 bins).

    Otsu's threshold maximises the between-class variance of "above" and "at or below"; like
    the fixed threshold the comparison is strict (h > t), so a constant map selects nothing.
    """

    @property
    def label(self) -> str:
        """Short name for tables: ``"Otsu"``."""
        return "Otsu"

    def select(self, heatmap: np.ndarray) -> np.ndarray:
        """bool (*s) mask of a validated float heatmap (*s)."""
        return heatmap > threshold_otsu(heatmap)


BinarisationScheme = Threshold | Band | TopFraction | Otsu


def binarise(heatmap: np.ndarray, scheme: BinarisationScheme) -> np.ndarray:
    """Binary mask (*s) of a heatmap (H, W) or (D, H, W) under a binarisation scheme.

    Args:
        heatmap: finite real numbers, any units (the schemes' numbers are in those units).
        scheme: ``Threshold(t)``, ``Band(lo, hi)``, ``TopFraction(p)`` or ``Otsu()``.

    Returns:
        bool array with the heatmap's shape.

    Raises:
        TypeError: ``scheme`` is not one of the four schemes; a heatmap that is not numeric.
        ValueError: a heatmap that is not 2D/3D or holds NaN or infinity.
    """
    if not isinstance(scheme, BinarisationScheme):
        raise TypeError(
            "scheme must be Threshold(t), Band(lo, hi), TopFraction(p) or Otsu(); "
            f"got {type(scheme).__name__} {scheme!r}"
        )
    return scheme.select(check_heatmap(heatmap))
