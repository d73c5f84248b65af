"""Bounding boxes: IoU of boxes, boxes around the top-p% of a heatmap, matching to readers' boxes.

Box convention (the same as the X-ray phantoms' reader boxes):

- 2D: ``(x_min, y_min, x_max, y_max)``; 3D: ``(x_min, y_min, z_min, x_max, y_max, z_max)``.
  x is the column (last array axis), y the row, z the slice (first axis of a (D, H, W) array).
- Units are pixels (voxels), floats allowed. A box is half-open: it covers
  x_min <= column < x_max (and likewise for y and z), so pixel column c spans [c, c + 1), a
  box around columns 3..5 is x_min = 3, x_max = 6, and its width is x_max - x_min.
- Two boxes that touch (one's x_max equals the other's x_min) share no area: IoU 0. A box
  with x_max == x_min is empty (zero area); x_max < x_min is an error.

Box IoU is the standard formula: the intersection runs from the larger of the two minima to
the smaller of the two maxima on every axis (zero if that is negative), and the union is the
sum of the two areas minus the intersection. (The chest X-ray work's printed steps take the
max of the two maxima and do not subtract the intersection; that overstates the overlap's
extent and understates the IoU. This module implements the standard formula, and the work's
own, named apart, to set its numbers beside ours: ``pairwise_box_overlap_as_published`` and
``reader_box_iou_as_published``.)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage

from radxai.evaluate.binarise import TopFraction, binarise, check_binary_mask

__all__ = [
    "READER_MATCHING_POLICY",
    "box_iou",
    "boxes_from_heatmap",
    "boxes_from_mask",
    "mask_from_boxes",
    "pairwise_box_iou",
    "pairwise_box_overlap_as_published",
    "reader_box_iou",
    "reader_box_iou_as_published",
]

READER_MATCHING_POLICY = (
    "for each reader's box, the best IoU any predicted box reaches with it; the mean of those over the reader boxes"
)
_COORDINATE_COUNTS = (4, 6)


def _check_boxes(boxes: ArrayLike, name: str) -> np.ndarray:
    """Boxes as float64 (M, 4) or (M, 6); a single box (4,) or (6,) becomes (1, 4) or (1, 6)."""
    array = np.asarray(boxes, dtype=np.float64)
    if array.shape == (0,):
        # An empty list says nothing about 2D or 3D; callers skip the comparison for it.
        return array.reshape(0, 4)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] not in _COORDINATE_COUNTS:
        raise ValueError(
            f"{name} must be boxes (x_min, y_min, x_max, y_max) or "
            "(x_min, y_min, z_min, x_max, y_max, z_max), shaped (M, 4) or (M, 6); "
            f"got shape {np.shape(boxes)}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{name} hold NaN or infinite coordinates")
    dimensions = array.shape[1] // 2
    inverted = array[:, dimensions:] < array[:, :dimensions]
    if inverted.any():
        index = int(np.flatnonzero(inverted.any(axis=1))[0])
        raise ValueError(
            f"{name}[{index}] = {array[index].tolist()} has a maximum below its "
            "minimum (need x_min <= x_max, y_min <= y_max[, z_min <= z_max])"
        )
    return array


def _pairwise_areas(
    first_boxes: ArrayLike,
    second_boxes: ArrayLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Intersection, first area and second area of every pair, each (M, N); None if a set is
    empty."""
    first = _check_boxes(first_boxes, "first_boxes")
    second = _check_boxes(second_boxes, "second_boxes")
    if first.shape[0] == 0 or second.shape[0] == 0:
        return None
    if first.shape[1] != second.shape[1]:
        raise ValueError(
            f"cannot compare {first.shape[1]}-coordinate boxes with {second.shape[1]}-coordinate boxes (2D with 3D)"
        )
    dimensions = first.shape[1] // 2
    first_low, first_high = first[:, None, :dimensions], first[:, None, dimensions:]
    second_low, second_high = second[None, :, :dimensions], second[None, :, dimensions:]
    overlap = np.clip(np.minimum(first_high, second_high) - np.maximum(first_low, second_low), 0.0, None)
    return (overlap.prod(axis=2), (first_high - first_low).prod(axis=2), (second_high - second_low).prod(axis=2))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    result = np.full(denominator.shape, np.nan)
    np.divide(numerator, denominator, out=result, where=denominator > 0)
    return result


def pairwise_box_iou(first_boxes: ArrayLike, second_boxes: ArrayLike) -> np.ndarray:
    """IoU of every box in ``first_boxes`` (M, 2k) with every box in ``second_boxes`` (N, 2k).

    k = 2 (2D boxes) or 3 (3D boxes), both sets alike; coordinates in pixels, half-open (see
    the module docstring). Returns float64 (M, N) in [0, 1]; NaN where both boxes are empty
    (zero area), since then the union is empty too.

    Raises:
        ValueError: not (M, 4)/(M, 6) shaped, 2D mixed with 3D boxes, NaN coordinates, or a box
            with a maximum below its minimum (the box is named).
    """
    areas = _pairwise_areas(first_boxes, second_boxes)
    if areas is None:
        return np.zeros(
            (len(_check_boxes(first_boxes, "first_boxes")), len(_check_boxes(second_boxes, "second_boxes")))
        )
    intersection, first_area, second_area = areas
    return _ratio(intersection, first_area + second_area - intersection)


def pairwise_box_overlap_as_published(first_boxes: ArrayLike, second_boxes: ArrayLike) -> np.ndarray:
    """The chest X-ray work's box "IoU" of every pair: intersection / (area1 + area2), (M, N).

    Its union adds the two areas without subtracting the intersection, so identical boxes score
    0.5, not 1, and the value is IoU / (1 + IoU) of the standard IoU: monotone in it, at most
    0.5. (Its printed steps also take the larger of the two right edges, which would give
    disjoint boxes a positive overlap; its tables report 0 for non-overlapping classes, so its
    code must have used the smaller, as here.) Same arguments, conventions and errors as
    :func:`pairwise_box_iou`; use it only to set our numbers beside the work's.
    """
    areas = _pairwise_areas(first_boxes, second_boxes)
    if areas is None:
        return np.zeros(
            (len(_check_boxes(first_boxes, "first_boxes")), len(_check_boxes(second_boxes, "second_boxes")))
        )
    intersection, first_area, second_area = areas
    return _ratio(intersection, first_area + second_area)


def box_iou(first: ArrayLike, second: ArrayLike) -> float:
    """IoU of two boxes, both (x_min, y_min, x_max, y_max) or both 3D, in pixels (half-open).

    Returns intersection / union in [0, 1]: 1 for identical boxes, 0 for disjoint or touching
    boxes, area(inner) / area(outer) for nested boxes; NaN when both boxes are empty.

    Raises:
        ValueError: a box that is not 4 or 6 numbers, or has x_max < x_min (or y, z alike).
    """
    first_array = np.asarray(first, dtype=np.float64)
    second_array = np.asarray(second, dtype=np.float64)
    for name, box in (("first", first_array), ("second", second_array)):
        if box.shape not in ((4,), (6,)):
            raise ValueError(
                f"{name} box must be 4 numbers (x_min, y_min, x_max, y_max) or 6 "
                f"(x_min, y_min, z_min, x_max, y_max, z_max); got shape {box.shape}"
            )
    return float(pairwise_box_iou(first_array, second_array)[0, 0])


def boxes_from_mask(mask: np.ndarray) -> np.ndarray:
    """Bounding boxes of the connected components of a binary mask (H, W) or (D, H, W).

    Components use full connectivity (8 neighbours in 2D, 26 in 3D). Holes are filled first,
    so a component lying inside another's hole belongs to the outer one: the outcome of the
    chest X-ray work's OpenCV ``findContours(RETR_EXTERNAL)`` + ``boundingRect`` in 2D.

    Returns:
        float64 (M, 4) for a 2D mask or (M, 6) for 3D, in the module's box convention (pixels,
        half-open), one row per component in raster order of the component's first voxel;
        (0, 4) or (0, 6) for an empty mask.
    """
    mask_array = check_binary_mask(mask)
    dimensions = mask_array.ndim
    filled = ndimage.binary_fill_holes(mask_array)
    labels, _ = ndimage.label(filled, structure=np.ones((3,) * dimensions, dtype=bool))
    boxes = [
        [axis.start for axis in reversed(region)] + [axis.stop for axis in reversed(region)]
        for region in ndimage.find_objects(labels)
    ]
    return np.array(boxes, dtype=np.float64).reshape(len(boxes), 2 * dimensions)


def mask_from_boxes(boxes: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    """The union of boxes as a bool mask of ``shape`` (H, W) or (D, H, W).

    A pixel belongs to a box when its centre (column + 0.5, row + 0.5[, slice + 0.5]) lies in
    the half-open box, so an integer box covers exactly its pixels (`boxes_from_mask` of the
    result gives it back) and a box of fractional pixels covers those mostly inside it. Boxes
    reaching outside the image are clipped. boxes: (M, 4) for 2D, (M, 6) for 3D; M may be 0.
    """
    dimensions = len(shape)
    checked = _check_boxes(boxes, "boxes")
    if len(checked) and checked.shape[1] != 2 * dimensions:
        raise ValueError(f"boxes of {checked.shape[1]} coordinates for a {dimensions}D mask of shape {tuple(shape)}")
    mask = np.zeros(tuple(shape), dtype=bool)
    for box in checked:
        # Box coordinates run x (last axis) first; the slices run first axis first.
        low, high = box[:dimensions][::-1], box[dimensions:][::-1]
        region = tuple(
            slice(int(np.clip(np.ceil(start - 0.5), 0, size)), int(np.clip(np.ceil(stop - 0.5), 0, size)))
            for start, stop, size in zip(low, high, shape)
        )
        mask[region] = True
    return mask


def boxes_from_heatmap(heatmap: np.ndarray, top_fraction: float) -> np.ndarray:
    """Bounding boxes around the top ``top_fraction`` of a heatmap's pixels (H, W) or (D, H, W).

    The mask is ``binarise(heatmap, TopFraction(top_fraction))`` (for ties see
    :class:`~radxai.evaluate.binarise.TopFraction`) and the boxes those of its connected
    components (:func:`boxes_from_mask`). Returns (M, 4) or (M, 6) float64 in pixels.
    """
    return boxes_from_mask(binarise(heatmap, TopFraction(top_fraction)))


def reader_box_iou(predicted_boxes: ArrayLike, reader_boxes: ArrayLike) -> float:
    """How well predicted boxes match several readers' boxes of one finding: one number.

    Policy (``READER_MATCHING_POLICY``): for each reader's box, the highest IoU any predicted
    box reaches with it; then the mean over the reader boxes. Why: readers disagree and each
    is a valid reference, so each counts equally; and a heatmap lights up several blobs, so
    the question per reader is whether any highlighted region matches that reader's box
    (averaging over every predicted x reader pair, as the chest X-ray work describes, would
    punish a map for each extra blob no matter how well one of them matches). The price: extra,
    unmatched predicted boxes cost nothing, so this is a recall-like score, not a precision.

    Args:
        predicted_boxes: (M, 4) or (M, 6), e.g. from :func:`boxes_from_heatmap`; M may be 0.
        reader_boxes: (R, 4) or (R, 6): every reader's box for the finding (a reader who drew
            two boxes contributes two).

    Returns:
        Mean best IoU in [0, 1]; 0.0 when there is no predicted box (nothing was found);
        NaN when there is no reader box (nothing to localise) and where both boxes of a
        best match are empty.
    """
    predicted = _check_boxes(predicted_boxes, "predicted_boxes")
    readers = _check_boxes(reader_boxes, "reader_boxes")
    if readers.shape[0] == 0:
        return float("nan")
    if predicted.shape[0] == 0:
        return 0.0
    return float(pairwise_box_iou(predicted, readers).max(axis=0).mean())


def reader_box_iou_as_published(predicted_boxes: ArrayLike, reader_boxes: ArrayLike) -> float:
    """The chest X-ray work's score of predicted boxes against every reader's box of a finding.

    The mean of :func:`pairwise_box_overlap_as_published` over every (predicted, reader) pair,
    as the work describes it ("compared against every radiologist's box, then averaged"): its
    flawed union and its all-pairs average, so an extra predicted blob lowers the score. Set
    beside :func:`reader_box_iou` (standard IoU, best match per reader box).

    Returns a value in [0, 0.5]; 0.0 when there is no predicted box; NaN when there is no
    reader box.
    """
    readers = _check_boxes(reader_boxes, "reader_boxes")
    if readers.shape[0] == 0:
        return float("nan")
    if _check_boxes(predicted_boxes, "predicted_boxes").shape[0] == 0:
        return 0.0
    return float(np.nanmean(pairwise_box_overlap_as_published(predicted_boxes, readers)))
