"""Orthogonal views and slice montages of a volume (D, H, W), with a mask or heatmap on top.

Volumes are in radxai's (D, H, W) order: axial slices are ``array[k]``, coronal ``array[:, j]``,
sagittal ``array[:, :, i]``. Coronal and sagittal panels use the voxel spacing for their aspect
ratio so anatomy is not squashed when slices are thicker than pixels are wide. Slices are shown
in array order: index 0 at the top and left. radxai's phantoms are stored head to feet with
the patient's right at column 0, so they appear head up in the radiological convention; a real
scan appears as its file orders it (a DICOM series read by ``read_dicom_series`` runs feet to
head, so its coronal and sagittal views appear head down unless flipped first).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from radxai.slicing import VIEW_AXES, take_slice

VIEWS = tuple(VIEW_AXES)


def aspect_of(view: str, spacing: Sequence[float]) -> float:
    """imshow aspect (row height / column width) of a view given (dz, dy, dx) spacing in mm."""
    dz, dy, dx = spacing
    return {"axial": dy / dx, "coronal": dz / dx, "sagittal": dz / dy}[view]


def centre_of(mask: np.ndarray | None, shape: Sequence[int]) -> tuple[int, int, int]:
    """(k, j, i): in each view, the slice that holds the most ``mask`` voxels.

    Unlike the centre of mass, this lands inside one lung for bilateral lesions rather than on
    the mediastinum between them. An empty or absent mask gives the volume centre.
    """
    if mask is None or not np.any(mask):
        return tuple(size // 2 for size in shape)
    return tuple(
        int(np.argmax(np.count_nonzero(mask, axis=tuple(a for a in range(3) if a != axis)))) for axis in range(3)
    )


def show_slice(
    axes: Axes,
    image: np.ndarray,
    *,
    window: tuple[float, float] | None = None,
    aspect: float = 1.0,
    mask: np.ndarray | None = None,
    heatmap: np.ndarray | None = None,
    heatmap_cmap: str = "jet",
    heatmap_alpha: float = 0.45,
    mask_color: str = "red",
    title: str | None = None,
):
    """Draw one 2D slice in grey, optionally with a mask contour and/or a heatmap on top.

    Returns the heatmap's image artist (for a colourbar) or the grey image's.
    """
    low, high = window if window is not None else (float(image.min()), float(image.max()))
    artist = axes.imshow(image, cmap="gray", vmin=low, vmax=high, aspect=aspect, interpolation="nearest")
    if heatmap is not None:
        artist = axes.imshow(
            heatmap, cmap=heatmap_cmap, alpha=heatmap_alpha, vmin=0, vmax=1, aspect=aspect, interpolation="bilinear"
        )
    if mask is not None and np.any(mask):
        axes.contour(mask.astype(float), levels=[0.5], colors=mask_color, linewidths=0.8)
    axes.set_xticks([])
    axes.set_yticks([])
    if title:
        axes.set_title(title, fontsize=9)
    return artist


def plot_orthogonal_views(
    array: np.ndarray,
    spacing: Sequence[float],
    *,
    index: Sequence[int] | None = None,
    window: tuple[float, float] | None = None,
    mask: np.ndarray | None = None,
    heatmap: np.ndarray | None = None,
    heatmap_cmap: str = "jet",
    title: str = "",
    colorbar_label: str = "HU",
) -> Figure:
    """Axial, coronal and sagittal slices of ``array`` (D, H, W) through ``index`` (k, j, i).

    ``index`` defaults to the centre of ``mask`` (or of the volume). ``mask`` (D, H, W) is drawn
    as a red contour; ``heatmap`` (D, H, W) in [0, 1] as a translucent colour map with a
    colourbar. ``spacing`` is (dz, dy, dx) in mm.
    """
    if array.ndim != 3:
        raise ValueError(f"expected a (D, H, W) volume, got shape {array.shape}")
    index = tuple(index) if index is not None else centre_of(mask, array.shape)
    figure, axes = plt.subplots(1, 3, figsize=(11, 4), constrained_layout=True)
    artist = None
    for panel, (view, position) in zip(axes, zip(VIEWS, index)):
        artist = show_slice(
            panel,
            take_slice(array, view, position),
            window=window,
            aspect=aspect_of(view, spacing),
            mask=None if mask is None else take_slice(mask, view, position),
            heatmap=None if heatmap is None else take_slice(heatmap, view, position),
            heatmap_cmap=heatmap_cmap,
            title=f"{view} (slice {position})",
        )
    colorbar = figure.colorbar(artist, ax=axes, shrink=0.8)
    colorbar.set_label("heatmap" if heatmap is not None else colorbar_label)
    figure.suptitle(title)
    return figure


def plot_slice_montage(
    array: np.ndarray,
    spacing: Sequence[float],
    *,
    view: str = "axial",
    count: int = 16,
    columns: int = 8,
    window: tuple[float, float] | None = None,
    mask: np.ndarray | None = None,
    heatmap: np.ndarray | None = None,
    heatmap_cmap: str = "jet",
    title: str = "",
    colorbar_label: str = "HU",
) -> Figure:
    """``count`` evenly spaced slices of ``array`` (D, H, W) in ``view``, ``columns`` per row."""
    if array.ndim != 3:
        raise ValueError(f"expected a (D, H, W) volume, got shape {array.shape}")
    axis = VIEWS.index(view)
    positions = np.unique(np.linspace(0, array.shape[axis] - 1, count).round().astype(int))
    rows = int(np.ceil(len(positions) / columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(1.6 * columns, 1.7 * rows + 0.6), constrained_layout=True, squeeze=False
    )
    artist = None
    for panel, position in zip(axes.flat, positions):
        artist = show_slice(
            panel,
            take_slice(array, view, position),
            window=window,
            aspect=aspect_of(view, spacing),
            mask=None if mask is None else take_slice(mask, view, position),
            heatmap=None if heatmap is None else take_slice(heatmap, view, position),
            heatmap_cmap=heatmap_cmap,
            title=str(position),
        )
    for panel in list(axes.flat)[len(positions) :]:
        panel.axis("off")
    colorbar = figure.colorbar(artist, ax=axes, shrink=0.6)
    colorbar.set_label("heatmap" if heatmap is not None else colorbar_label)
    figure.suptitle(title)
    return figure
