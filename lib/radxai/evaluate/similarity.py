"""How similar two explanation maps are: the measures of the sanity checks (Adebayo et al. 2018).

Each measure takes two maps of one spatial shape, 2D (H, W) or 3D (D, H, W), and returns a
float; 1 means identical (up to the measure's invariance):

- `spearman_similarity`: Spearman rank correlation of the voxels, of the signed values or of
  their absolute values (``absolute=True``: the ranking of importance regardless of sign).
- `ssim_similarity`: the structural similarity index (skimage), 2D or 3D.
- `hog_similarity`: Pearson correlation of histogram-of-oriented-gradients features (skimage,
  2D); a 3D map is compared slice by slice along one axis and the correlations averaged.

A correlation is undefined when a map (or a slice's features) is constant, e.g. an all-zero
CAM; the measures return NaN there rather than a number that would look like an answer.
`map_similarities` computes all four.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats
from skimage.feature import hog
from skimage.metrics import structural_similarity

__all__ = [
    "MEASURES",
    "spearman_similarity",
    "ssim_similarity",
    "hog_similarity",
    "map_similarities",
]

MEASURES = ("spearman_abs", "spearman", "ssim", "hog")
# skimage's default SSIM window (voxels per side).
SSIM_WINDOW = 7


def spearman_similarity(first: np.ndarray, second: np.ndarray, absolute: bool = False) -> float:
    """Spearman rank correlation of two maps of one shape (any number of axes, e.g. a CAM's
    raw map at its layer's resolution) over all their values, in [-1, 1].

    absolute: rank |first| and |second| instead of the signed values. NaN if either map (after
    the absolute value) is constant.
    """
    a, b = _pair(first, second, spatial=False)
    if absolute:
        a, b = np.abs(a), np.abs(b)
    if _constant(a) or _constant(b):
        return float("nan")
    return float(stats.spearmanr(a.reshape(-1), b.reshape(-1)).statistic)


def ssim_similarity(first: np.ndarray, second: np.ndarray, data_range: float | None = None) -> float:
    """Structural similarity (SSIM) of two maps (H, W) or (D, H, W), at most 1.

    data_range: the range of values the maps can take (1.0 for maps in [0, 1], such as
    `Explanation.heatmaps`); None uses the joint range of the two maps, max - min over both, which
    suits maps of unknown scale. The window is skimage's uniform 7 voxels per side, or the
    largest odd size that fits the smallest axis (at least 3). Identical maps give 1, also when
    constant.

    Raises ValueError for maps with an axis shorter than 3 voxels or a data_range <= 0.
    """
    a, b = _pair(first, second)
    if min(a.shape) < 3:
        raise ValueError(f"SSIM needs at least 3 voxels along every axis; got maps of shape {a.shape}")
    if data_range is not None and not data_range > 0:
        raise ValueError(f"data_range must be positive; got {data_range}")
    if np.array_equal(a, b):
        return 1.0
    if data_range is None:
        data_range = float(max(a.max(), b.max()) - min(a.min(), b.min()))
    smallest = min(a.shape)
    window = min(SSIM_WINDOW, smallest if smallest % 2 else smallest - 1)
    return float(structural_similarity(a, b, data_range=data_range, win_size=window))


def hog_similarity(
    first: np.ndarray,
    second: np.ndarray,
    axis: int = 0,
    *,
    orientations: int = 9,
    pixels_per_cell: tuple[int, int] = (8, 8),
    cells_per_block: tuple[int, int] = (3, 3),
) -> float:
    """Pearson correlation of the HOG features of two maps, in [-1, 1].

    2D maps (H, W): one HOG each (skimage.feature.hog with these settings; skimage's
    defaults). 3D maps (D, H, W): skimage's HOG is 2D, so each map is cut into slices along
    `axis` (0: the D axis, axial slices (H, W) of a CT volume) and the similarity is the mean
    over slices of the slices' correlations; slices where it is undefined (constant features,
    e.g. blank slices) are left out, and NaN is returned if every slice is. `axis` is ignored
    for 2D maps.

    Raises ValueError for an axis out of range, or a map (slice) smaller than one HOG block
    (pixels_per_cell x cells_per_block pixels per side).
    """
    a, b = _pair(first, second)
    if a.ndim == 2:
        pairs = [(a, b)]
    else:
        if not -3 <= axis < 3:
            raise ValueError(f"axis must be 0, 1 or 2 for 3D maps (D, H, W); got {axis}")
        pairs = list(zip(np.moveaxis(a, axis, 0), np.moveaxis(b, axis, 0)))
    block = tuple(cells * pixels for cells, pixels in zip(cells_per_block, pixels_per_cell))
    plane = pairs[0][0].shape
    if plane[0] < block[0] or plane[1] < block[1]:
        where = "maps" if a.ndim == 2 else f"slices along axis {axis}"
        raise ValueError(
            f"HOG needs {where} of at least {block[0]} x {block[1]} pixels (pixels_per_cell "
            f"{tuple(pixels_per_cell)} x cells_per_block {tuple(cells_per_block)}); got {plane}"
        )
    settings = {
        "orientations": orientations,
        "pixels_per_cell": tuple(pixels_per_cell),
        "cells_per_block": tuple(cells_per_block),
    }
    correlations = [_pearson(hog(x, **settings), hog(y, **settings)) for x, y in pairs]
    defined = [value for value in correlations if not np.isnan(value)]
    return float(np.mean(defined)) if defined else float("nan")


def map_similarities(
    first: np.ndarray,
    second: np.ndarray,
    data_range: float | None = None,
    hog_axis: int = 0,
    signed: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    pixels_per_cell: tuple[int, int] = (8, 8),
    cells_per_block: tuple[int, int] = (3, 3),
) -> dict[str, float]:
    """All four measures (`MEASURES`) of two maps (*spatial), as a dict.

    SSIM (with `data_range`) and HOG (along `hog_axis`, with `pixels_per_cell` and
    `cells_per_block`) compare `first` and `second`. The Spearman correlations compare
    `signed`, a pair of signed attributions of any one shape (e.g. `Explanation.raw`), when
    given, else `first` and `second`.
    """
    ranked = signed if signed is not None else (first, second)
    return {
        "spearman_abs": spearman_similarity(*ranked, absolute=True),
        "spearman": spearman_similarity(*ranked, absolute=False),
        "ssim": ssim_similarity(first, second, data_range=data_range),
        "hog": hog_similarity(
            first,
            second,
            axis=hog_axis,
            pixels_per_cell=pixels_per_cell,
            cells_per_block=cells_per_block,
        ),
    }


def _pair(first: np.ndarray, second: np.ndarray, spatial: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Two maps as finite float64 arrays of one shape, 2D or 3D if `spatial`, or ValueError."""
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"maps to compare have different shapes {a.shape} and {b.shape}")
    if spatial and a.ndim not in (2, 3):
        raise ValueError(f"maps must be 2D (H, W) or 3D (D, H, W); got shape {a.shape}")
    for name, values in (("first", a), ("second", b)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise ValueError(f"the {name} map has {bad} NaN or infinite values")
    if a.size == 0:
        raise ValueError(f"maps to compare are empty (shape {a.shape})")
    return a, b


def _constant(values: np.ndarray) -> bool:
    return bool(values.max() == values.min())


def _pearson(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Pearson correlation, NaN when either vector is constant."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if _constant(x) or _constant(y):
        return float("nan")
    return float(stats.pearsonr(x, y).statistic)
