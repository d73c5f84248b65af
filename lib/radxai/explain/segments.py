"""Superpixels (2D) and supervoxels (3D): the features that Kernel SHAP and LIME switch on and off.

A segmentation of a batch x (N, C, *spatial), spatial (H, W) or (D, H, W), is an integer
label array (N, *spatial); sample n has labels 0..S_n - 1, every label used (contiguous), so
label s is the index of segment s in per-segment arrays such as SHAP values.

Algorithms (scikit-image):
    "slic"          SLIC (Achanta et al. 2012), 2D superpixels and 3D supervoxels:
                    `slic_segments` (n_segments, compactness, sigma, spacing).
    "quickshift"    2D only: `quickshift_segments` (kernel_size, max_dist, ratio, sigma, seed).
    "felzenszwalb"  2D only: `felzenszwalb_segments` (scale, sigma, min_size).
Each image is min-max scaled to [0, 1] (over all its channels) before segmentation, so that
the intensity terms (SLIC's compactness, Felzenszwalb's scale, quickshift's ratio) mean the
same for Hounsfield units and for normalised images. A one-channel image is segmented as a
grayscale image (``channel_axis=None``); several channels are segmented together, as given
(no colour-space conversion). SLIC asks for about n_segments segments and may return fewer or
more (connectivity is enforced).

Helpers: `check_segments` validates and relabels given label arrays, `paint_segments` gives
every voxel its segment's value, `segment_means` averages a map over each segment (e.g. a
CAM, to compare it with SHAP and LIME segment by segment), `restrict_to_region` keeps the
segments inside a region (the lungs) as players and makes everything outside it one player.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from skimage import segmentation as skimage_segmentation

__all__ = [
    "SEGMENTATIONS",
    "segment",
    "slic_segments",
    "quickshift_segments",
    "felzenszwalb_segments",
    "check_segments",
    "segment_counts",
    "paint_segments",
    "segment_means",
    "restrict_to_region",
]

SEGMENTATIONS = ("slic", "quickshift", "felzenszwalb")


def segment(x: np.ndarray, method: str = "slic", **options: Any) -> np.ndarray:
    """Segment a batch x (N, C, *spatial) with `method` (one of `SEGMENTATIONS`).

    options: the keyword options of `slic_segments`, `quickshift_segments` or
    `felzenszwalb_segments`. Returns int64 labels (N, *spatial), contiguous per sample.
    Raises ValueError for an unknown method (listing the methods) and TypeError for an
    option the method does not take.
    """
    functions = {
        "slic": slic_segments,
        "quickshift": quickshift_segments,
        "felzenszwalb": felzenszwalb_segments,
    }
    if method not in functions:
        raise ValueError(f"unknown segmentation {method!r}; segmentations: {', '.join(SEGMENTATIONS)}")
    return functions[method](x, **options)


def slic_segments(
    x: np.ndarray,
    *,
    n_segments: int = 50,
    compactness: float = 0.1,
    sigma: float = 1.0,
    spacing: Sequence[float] | None = None,
) -> np.ndarray:
    """SLIC superpixels (2D) or supervoxels (3D) of each image of x (N, C, *spatial).

    n_segments: the approximate number of segments. compactness: weight of spatial distance
    against intensity distance (intensities scaled to [0, 1]); higher gives more regular,
    grid-like segments, lower follows edges more closely (try 0.01 to 1 on a log scale).
    sigma: standard deviation of the Gaussian smoothing before segmentation (0: none), in the
    units of ``spacing`` (scikit-image divides it by the spacing per axis): voxels when
    spacing is None, millimetres when spacing is in mm, so that the smoothing is isotropic in
    the patient. spacing: voxel spacing per spatial axis (e.g. mm of (D, H, W)) for
    anisotropic volumes; None means isotropic. Returns int64 (N, *spatial), labels 0..S_n - 1
    per sample.
    """
    images = _images_for_segmentation(x, "slic", dimensions=(2, 3))
    _check_positive_int("n_segments", n_segments)
    _check_number("compactness", compactness, minimum=0.0, inclusive=False)
    _check_number("sigma", sigma, minimum=0.0, inclusive=True)
    spatial_dims = x.ndim - 2
    if spacing is not None:
        spacing = np.asarray(spacing, dtype=np.float64)
        if spacing.shape != (spatial_dims,) or not np.all(spacing > 0):
            raise ValueError(
                f"slic spacing must give {spatial_dims} positive values (one per spatial axis); got {spacing.tolist()}"
            )
    labels = [
        skimage_segmentation.slic(
            image,
            n_segments=n_segments,
            compactness=compactness,
            sigma=sigma,
            spacing=spacing,
            convert2lab=False,
            start_label=0,
            channel_axis=channel_axis,
        )
        for image, channel_axis in images
    ]
    return _contiguous_batch(labels)


def quickshift_segments(
    x: np.ndarray,
    *,
    kernel_size: float = 3.0,
    max_dist: float = 6.0,
    ratio: float = 0.5,
    sigma: float = 0.0,
    seed: int = 42,
) -> np.ndarray:
    """Quickshift superpixels (2D only) of each image of x (N, C, H, W).

    kernel_size: width (pixels) of the Gaussian density kernel; larger gives fewer segments.
    max_dist: cut-off distance of the hierarchy; larger gives fewer segments. ratio: balance
    of intensity (1) and space (0) in the distance, in [0, 1]. sigma: pre-smoothing (pixels).
    seed: quickshift breaks ties with random noise from this seed. Returns int64 (N, H, W).
    """
    images = _images_for_segmentation(x, "quickshift", dimensions=(2,))
    _check_number("kernel_size", kernel_size, minimum=0.0, inclusive=False)
    _check_number("max_dist", max_dist, minimum=0.0, inclusive=False)
    _check_number("ratio", ratio, minimum=0.0, inclusive=True)
    if ratio > 1:
        raise ValueError(f"quickshift ratio must lie in [0, 1]; got {ratio}")
    _check_number("sigma", sigma, minimum=0.0, inclusive=True)
    labels = []
    for image, channel_axis in images:
        # quickshift always wants a channel axis, also for one channel.
        with_channels = image[..., None] if channel_axis is None else image
        labels.append(
            skimage_segmentation.quickshift(
                with_channels,
                ratio=ratio,
                kernel_size=kernel_size,
                max_dist=max_dist,
                sigma=sigma,
                convert2lab=False,
                rng=seed,
                channel_axis=-1,
            )
        )
    return _contiguous_batch(labels)


def felzenszwalb_segments(x: np.ndarray, *, scale: float = 1.0, sigma: float = 0.8, min_size: int = 20) -> np.ndarray:
    """Felzenszwalb-Huttenlocher graph segments (2D only) of each image of x (N, C, H, W).

    scale: larger gives larger segments. sigma: pre-smoothing (pixels). min_size: the smallest
    segment (pixels), merged into a neighbour otherwise. Returns int64 (N, H, W).
    """
    images = _images_for_segmentation(x, "felzenszwalb", dimensions=(2,))
    _check_number("scale", scale, minimum=0.0, inclusive=False)
    _check_number("sigma", sigma, minimum=0.0, inclusive=True)
    _check_positive_int("min_size", min_size)
    labels = [
        skimage_segmentation.felzenszwalb(image, scale=scale, sigma=sigma, min_size=min_size, channel_axis=channel_axis)
        for image, channel_axis in images
    ]
    return _contiguous_batch(labels)


def check_segments(segments: np.ndarray, batch_shape: Sequence[int]) -> np.ndarray:
    """Validate given segment labels for a batch of shape (N, C, *spatial).

    segments: integer labels of shape `spatial` (one segmentation for every sample) or
    (N, *spatial). Labels may be any non-negative integers (e.g. scikit-image's, from 1);
    they are renumbered 0..S_n - 1 per sample in increasing order of the given label, so
    labels that already are 0..S_n - 1 keep their numbers. Returns int64 (N, *spatial).

    Raises TypeError for non-integer labels and ValueError for another shape (naming the
    accepted shapes) or negative labels.
    """
    n, _, *spatial = (int(size) for size in batch_shape)
    labels = np.asarray(segments)
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"segments must be integer labels; got dtype {labels.dtype}")
    if labels.shape not in (tuple(spatial), (n, *spatial)):
        raise ValueError(
            f"segments must have the images' spatial shape {tuple(spatial)} or "
            f"(N, *spatial) = {(n, *spatial)}; got shape {labels.shape}"
        )
    if labels.size and labels.min() < 0:
        raise ValueError(f"segment labels must be non-negative; got minimum {labels.min()}")
    if labels.shape == tuple(spatial):
        return np.broadcast_to(_contiguous(labels), (n, *spatial)).copy()
    return np.stack([_contiguous(sample) for sample in labels])


def segment_counts(segments: np.ndarray) -> np.ndarray:
    """The number of segments S_n of each sample of contiguous labels (N, *spatial); (N,)."""
    labels = np.asarray(segments)
    return labels.reshape(len(labels), -1).max(axis=1).astype(np.int64) + 1


def paint_segments(values: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Give every voxel its segment's value: values (N, S), segments (N, *spatial) with labels
    below S -> float32 (N, *spatial).

    Raises ValueError when the batch sizes differ or a label has no value (label >= S).
    """
    table = np.asarray(values)
    labels = np.asarray(segments)
    if table.ndim != 2 or labels.ndim < 2 or len(table) != len(labels):
        raise ValueError(
            f"paint_segments needs values (N, S) and segments (N, *spatial) of the same N; got "
            f"values {table.shape} and segments {labels.shape}"
        )
    if labels.max() >= table.shape[1]:
        raise ValueError(
            f"segments have label {labels.max()} but values have only {table.shape[1]} segments per sample"
        )
    flat = labels.reshape(len(labels), -1)
    return np.take_along_axis(table, flat, axis=1).reshape(labels.shape).astype(np.float32)


def segment_means(heatmaps: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """The mean of each map over each of its segments: maps and segments (N, *spatial) ->
    float64 (N, S_max), S_max the largest segment count; NaN for labels a sample lacks.

    Raises ValueError when the shapes differ.
    """
    values = np.asarray(heatmaps, dtype=np.float64)
    labels = np.asarray(segments)
    if values.shape != labels.shape or values.ndim < 2:
        raise ValueError(f"heatmaps and segments must both be (N, *spatial); got {values.shape} and {labels.shape}")
    flat_labels = labels.reshape(len(labels), -1)
    flat_values = values.reshape(len(values), -1)
    width = int(flat_labels.max()) + 1
    means = np.full((len(labels), width), np.nan)
    for sample, (sample_labels, sample_values) in enumerate(zip(flat_labels, flat_values)):
        sizes = np.bincount(sample_labels, minlength=width)
        sums = np.bincount(sample_labels, weights=sample_values, minlength=width)
        present = sizes > 0
        means[sample, present] = sums[present] / sizes[present]
    return means


def restrict_to_region(segments: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Keep the segments inside ``region`` and merge everything outside it into segment 0.

    Whole-volume Kernel SHAP with every supervoxel a player spends most coalitions on the body
    wall, the table and the air, and switching those off is what makes a volume unlike any the
    model saw. With the outside as a single player ("outside", label 0), the coalitions vary
    the region's segments and the outside's one value takes the rest.

    segments: contiguous labels (N, *spatial) (e.g. from `slic_segments`). region: bool
    (*spatial) or (N, *spatial). A segment that crosses the region's edge is cut: its inside
    part stays a player. Returns int64 (N, *spatial): 0 outside the region, 1..S_n inside
    (in the order of the original labels). A sample whose region covers it whole has no
    outside player; its labels are its segments renumbered 0..S_n - 1 (contiguous labels are
    what Kernel SHAP and LIME take).

    Raises ValueError when the shapes differ or a sample's region is empty, TypeError for a
    region that is not boolean.
    """
    labels = np.asarray(segments)
    inside = np.asarray(region)
    if inside.dtype != bool:
        raise TypeError(f"region must be a boolean mask; got dtype {inside.dtype}")
    if labels.ndim < 2 or inside.shape not in (labels.shape[1:], labels.shape):
        raise ValueError(
            f"region must have the segments' spatial shape {labels.shape[1:]} or "
            f"their shape {labels.shape}; got {inside.shape}"
        )
    inside = np.broadcast_to(inside, labels.shape)
    empty = [index for index, sample in enumerate(inside) if not sample.any()]
    if empty:
        raise ValueError(f"the region is empty for samples {empty}: there is nothing to explain")
    shifted = np.where(inside, labels.astype(np.int64) + 1, 0)
    return np.stack([_contiguous(sample) for sample in shifted])


def _images_for_segmentation(
    x: np.ndarray, method: str, dimensions: tuple[int, ...]
) -> list[tuple[np.ndarray, int | None]]:
    """Each image of x (N, C, *spatial) scaled to [0, 1], channels last, with the channel
    axis to pass to scikit-image (None for one channel)."""
    values = np.asarray(x)
    if values.ndim - 2 not in dimensions or values.ndim < 4:
        accepted = " or ".join(f"{d}D" for d in dimensions)
        raise ValueError(f"{method} segments batches (N, C, *spatial) of {accepted} images; got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{method} needs finite image values; x has NaN or infinite values")
    images = []
    for image in values.astype(np.float64):
        low, high = image.min(), image.max()
        scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
        if scaled.shape[0] == 1:
            images.append((scaled[0], None))
        else:
            images.append((np.moveaxis(scaled, 0, -1), -1))
    return images


def _contiguous(labels: np.ndarray) -> np.ndarray:
    """Non-negative labels renumbered 0..S-1 in increasing order, as int64."""
    flat = labels.astype(np.int64, copy=False)
    used = np.bincount(flat.ravel()) > 0
    if used.all():
        return flat.copy()
    renumbering = np.cumsum(used) - 1
    return renumbering[flat]


def _contiguous_batch(labels: list[np.ndarray]) -> np.ndarray:
    return np.stack([_contiguous(sample) for sample in labels])


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")


def _check_number(name: str, value: Any, *, minimum: float, inclusive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    if not np.isfinite(value) or value < minimum or (value == minimum and not inclusive):
        bound = ">=" if inclusive else ">"
        raise ValueError(f"{name} must be finite and {bound} {minimum}; got {value}")
