"""Choosing the slices of a CT volume to explain in 2D, from a 3D heatmap.

The 3D COVID-19 work explained whole volumes with a 3D Grad-CAM, then took the coronal slices
where that heatmap was strongest and explained them with a 2D classifier (Kernel SHAP on
superpixels). This module makes the choice: a slice's activation is the mean of the heatmap
over the slice's voxels inside a mask (the lungs; the whole slice without a mask), and the
most informative slices are those of highest activation.

Views of a volume (D, H, W) = (slice, row, column) of an axial CT stack, as in
`radxai.data.ct_slices` and `radxai.viz.views`:
    axial     volume[k, :, :]  -> (H, W)
    coronal   volume[:, j, :]  -> (D, W)
    sagittal  volume[:, :, i]  -> (D, H)
"""

from __future__ import annotations

import numpy as np

from radxai.slicing import view_axis

__all__ = ["slice_activation", "informative_slices", "select_slice"]


def slice_activation(heatmap: np.ndarray, view: str = "coronal", mask: np.ndarray | None = None) -> np.ndarray:
    """The mean heatmap value of every slice of `view`, inside `mask`.

    heatmap: (D, H, W) finite values (e.g. `Explanation.heatmaps[n]`, in [0, 1]). mask: (D, H, W),
    nonzero inside (e.g. the lungs), or None for whole slices. Returns float64 (L,), L the
    number of slices of the view; NaN for a slice without mask voxels.

    Raises ValueError for an unknown view, a heatmap that is not 3D or not finite, a mask of
    another shape, or an empty mask.
    """
    values = _heatmap(heatmap)
    axis = view_axis(view)
    inside = np.ones(values.shape, dtype=bool) if mask is None else _mask(mask, values.shape)
    other_axes = tuple(a for a in range(3) if a != axis)
    voxels = inside.sum(axis=other_axes)
    sums = np.where(inside, values, 0.0).sum(axis=other_axes)
    activation = np.full(values.shape[axis], np.nan)
    present = voxels > 0
    activation[present] = sums[present] / voxels[present]
    return activation


def informative_slices(
    heatmap: np.ndarray,
    view: str = "coronal",
    count: int = 1,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """The `count` slices of `view` with the highest `slice_activation`, highest first.

    Ties go to the lower index; slices without mask voxels are never chosen. Returns int64
    (count,). Raises ValueError when count is not a positive int or exceeds the slices that
    hold mask voxels (and as `slice_activation`).
    """
    activation = slice_activation(heatmap, view, mask)
    available = int(np.count_nonzero(~np.isnan(activation)))
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive int; got {count!r}")
    if count > available:
        raise ValueError(f"asked for {count} {view} slices but only {available} hold mask voxels")
    # A stable sort of the negated activation keeps the lower index first among ties.
    order = np.argsort(-np.nan_to_num(activation, nan=-np.inf), kind="stable")
    return order[:count].astype(np.int64)


def select_slice(
    heatmap: np.ndarray,
    view: str = "coronal",
    index: int | None = None,
    mask: np.ndarray | None = None,
) -> int:
    """The slice to explain: `index` if given (checked against the view's extent), else the
    most informative slice (`informative_slices`). Raises ValueError for an index outside
    the volume (naming the number of slices) and TypeError for an index that is not an int."""
    values = _heatmap(heatmap)
    axis = view_axis(view)
    if index is None:
        return int(informative_slices(values, view, 1, mask)[0])
    _check_index(index, view, values.shape[axis], values.shape)
    return int(index)


def _heatmap(heatmap: np.ndarray) -> np.ndarray:
    values = np.asarray(heatmap, dtype=np.float64)
    if values.ndim != 3:
        hint = "; pass one sample, e.g. explanation.heatmaps[0]" if values.ndim == 4 else ""
        raise ValueError(f"the heatmap must be a volume (D, H, W); got shape {values.shape}{hint}")
    if not np.all(np.isfinite(values)):
        raise ValueError("the heatmap has NaN or infinite values")
    return values


def _mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    inside = np.asarray(mask) != 0
    if inside.shape != shape:
        raise ValueError(f"the mask has shape {inside.shape}; the heatmap has shape {shape}")
    if not inside.any():
        raise ValueError("the mask is empty: no voxel lies inside it")
    return inside


def _check_index(index: int, view: str, extent: int, shape: tuple[int, ...]) -> None:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"the slice index must be an int; got {index!r}")
    if not 0 <= index < extent:
        raise ValueError(f"{view} slice {index} is outside the volume: shape {shape} has {extent} {view} slices")
