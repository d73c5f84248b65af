"""Signed attributions (Kernel SHAP values, LIME coefficients, occlusion drops) over an image.

The reproduced 3D COVID-19 work shows superpixel explanations as in the shap package's image
plots: green where a region raises the class's output, red where it lowers it, nothing where it
does not matter. `SIGNED_COLORMAP` is that scale with the middle transparent, so the grey image
shows through the regions with no effect.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.image import AxesImage
from skimage.segmentation import mark_boundaries

__all__ = ["SIGNED_COLORMAP", "show_signed", "show_segment_boundaries"]

SIGNED_COLORMAP = colors.LinearSegmentedColormap.from_list(
    "radxai_red_clear_green", [(0.8, 0.0, 0.0, 0.85), (1.0, 1.0, 1.0, 0.0), (0.0, 0.55, 0.0, 0.85)]
)


def show_signed(
    axes: Axes, image: np.ndarray, values: np.ndarray, title: str, limit: float | None = None, aspect: float = 1.0
) -> AxesImage:
    """Draw a grey image (H, W) in [0, 1] with signed values (H, W) on top; return the values'
    artist (for a colourbar).

    The colour scale is symmetric, -limit (red) to +limit (green); by default ``limit`` is the
    largest absolute value, so the sign is never hidden by an off-centre scale. ``aspect`` is
    imshow's row height / column width (`radxai.viz.views.aspect_of` for CT views).

    Raises ValueError when the shapes differ.
    """
    grey = np.asarray(image)
    signed = np.asarray(values, dtype=np.float64)
    if grey.shape != signed.shape or grey.ndim != 2:
        raise ValueError(f"image and values must be the same (H, W); got {grey.shape} and {signed.shape}")
    if limit is None:
        limit = float(np.abs(signed).max())
    # An all-zero map still needs a valid colour scale.
    limit = limit if limit > 0 else 1.0
    axes.imshow(grey, cmap="gray", vmin=0, vmax=1, aspect=aspect, interpolation="nearest")
    artist = axes.imshow(signed, cmap=SIGNED_COLORMAP, vmin=-limit, vmax=limit, aspect=aspect, interpolation="nearest")
    _title_without_ticks(axes, title)
    return artist


def show_segment_boundaries(
    axes: Axes, image: np.ndarray, segments: np.ndarray, title: str, aspect: float = 1.0, enlargement: int = 4
) -> None:
    """Draw a grey image (H, W) in [0, 1] with the boundaries of its segments (H, W) in yellow.

    The image and labels are enlarged ``enlargement`` times by nearest neighbour first, so that
    the boundaries are a fraction of a pixel wide instead of covering small superpixels.
    """
    grey = np.asarray(image, dtype=np.float64)
    labels = np.asarray(segments)
    if grey.shape != labels.shape or grey.ndim != 2:
        raise ValueError(f"image and segments must be the same (H, W); got {grey.shape} and {labels.shape}")
    if isinstance(enlargement, bool) or not isinstance(enlargement, int) or enlargement < 1:
        raise ValueError(f"enlargement must be a positive int; got {enlargement!r}")

    def enlarged(array: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(array, enlargement, axis=0), enlargement, axis=1)

    axes.imshow(
        mark_boundaries(np.clip(enlarged(grey), 0, 1), enlarged(labels), color=(1, 0.8, 0), mode="inner"), aspect=aspect
    )
    _title_without_ticks(axes, title)


def _title_without_ticks(axes: Axes, title: str) -> None:
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title, fontsize=9)
