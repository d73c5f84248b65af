"""Views of a CT volume stored as an axial stack (D, H, W): which axis a view slices, one slice.

Shared by the data layer (slice datasets), explain (slice selection) and viz (orthogonal views),
so it depends on numpy only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["VIEW_AXES", "view_axis", "take_slice"]

# Views of an axial stack (D, H, W) = (slice, row, column); rows run anterior-posterior.
VIEW_AXES = {"axial": 0, "coronal": 1, "sagittal": 2}


def view_axis(view: str) -> int:
    """The array axis (0, 1, 2) that `view` slices along; ValueError listing the views."""
    try:
        return VIEW_AXES[view]
    except (KeyError, TypeError):
        raise ValueError(f"unknown view {view!r}; views: {', '.join(VIEW_AXES)}") from None


def take_slice(volume: np.ndarray, view: str, index: int) -> np.ndarray:
    """Slice `index` of `view` of an array (..., D, H, W), e.g. (D, H, W) or (C, D, H, W).

    axial volume[..., k, :, :] -> (..., H, W); coronal volume[..., :, j, :] -> (..., D, W);
    sagittal volume[..., :, :, i] -> (..., D, H). Raises ValueError for an unknown view, fewer
    than 3 axes or an index outside the view's axis; TypeError for a non-integer index.
    """
    values = np.asarray(volume)
    if values.ndim < 3:
        raise ValueError(f"take_slice needs a volume (..., D, H, W); got shape {values.shape}")
    axis = values.ndim - 3 + view_axis(view)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"the slice index must be an int; got {index!r}")
    if not 0 <= index < values.shape[axis]:
        raise ValueError(
            f"{view} slice {index} is outside the volume: shape {values.shape} has {values.shape[axis]} {view} slices"
        )
    return np.take(values, int(index), axis=axis)
