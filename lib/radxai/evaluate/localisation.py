"""How well a heatmap falls on a reference region (expert mask, organ, confounder).

A map and its mask share one spatial shape, 2D (H, W) or 3D (D, H, W); a mask of another
shape is an error unless the caller passes ``resample="nearest"`` (see
:func:`radxai.evaluate.binarise.mask_on_heatmap_grid`). Masks must be binary (bool or 0/1).

The metrics, as docs/architecture.md defines them:

- overlap of a binarised map P with a mask G: ``iou`` = |P & G| / |P | G|, ``dice`` =
  2|P & G| / (|P| + |G|); both NaN when P and G are both empty (there is nothing to overlap,
  which is neither agreement nor disagreement; tables count such cases). ``mask_mse`` is the
  share of voxels where P and G disagree (Table 3.7 of the 3D COVID work reports it);
  ``dice_counting_background`` is that table's Dice as we read it (background counted).
- ``pointing_game``: does the map's maximum lie in the mask (optionally within a tolerance)?
- ``mass_accuracy`` (energy pointing game): share of the map's mass inside the mask.
- ``pixel_roc_auc``: AUROC of the map's values as a voxel classifier of the mask.
- ``organ_iou`` (OrganIoU of the HiResCAM work): allowed / (allowed + forbidden) voxels
  above a threshold.

The binarisation schemes and the box metrics live in :mod:`radxai.evaluate.binarise` and
:mod:`radxai.evaluate.boxes`; they are re-exported here so that one import serves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from radxai.evaluate.binarise import (
    Band,
    BinarisationScheme,
    Otsu,
    Threshold,
    TopFraction,
    binarise,
    check_binary_mask,
    check_heatmap,
    mask_on_heatmap_grid,
    resample_mask,
)
from radxai.evaluate.boxes import (
    READER_MATCHING_POLICY,
    box_iou,
    boxes_from_heatmap,
    boxes_from_mask,
    pairwise_box_iou,
    reader_box_iou,
)
from radxai.evaluate.stats import auroc

__all__ = [
    "READER_MATCHING_POLICY",
    "Band",
    "BinarisationScheme",
    "Otsu",
    "Threshold",
    "TopFraction",
    "batch_mass_accuracy",
    "binarise",
    "box_iou",
    "boxes_from_heatmap",
    "boxes_from_mask",
    "dice",
    "dice_counting_background",
    "iou",
    "mask_mse",
    "mass_accuracy",
    "organ_iou",
    "pairwise_box_iou",
    "pixel_roc_auc",
    "pointing_game",
    "reader_box_iou",
    "resample_mask",
]


# --------------------------------------------------------------------------------------------
# Overlap of two masks
# --------------------------------------------------------------------------------------------


def _two_masks(prediction: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    predicted = check_binary_mask(prediction, "prediction")
    expected = check_binary_mask(reference, "reference")
    if predicted.shape != expected.shape:
        raise ValueError(
            f"prediction shape {predicted.shape} differs from reference shape "
            f"{expected.shape}; resample one first (resample_mask)"
        )
    return predicted, expected


def iou(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Intersection over union |P & G| / |P | G| of two binary masks (H, W) or (D, H, W).

    Returns a share in [0, 1]; NaN when both masks are empty. One empty mask against a
    non-empty one gives 0.

    Raises:
        ValueError: masks of different shapes, non-binary masks, not 2D/3D.
    """
    predicted, expected = _two_masks(prediction, reference)
    union = np.count_nonzero(predicted | expected)
    if union == 0:
        return float("nan")
    return np.count_nonzero(predicted & expected) / union


def dice(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Dice coefficient 2|P & G| / (|P| + |G|) of two binary masks (H, W) or (D, H, W).

    Returns a share in [0, 1] (equal to 2 IoU / (1 + IoU)); NaN when both masks are empty.

    Raises:
        ValueError: masks of different shapes, non-binary masks, not 2D/3D.
    """
    predicted, expected = _two_masks(prediction, reference)
    sizes = np.count_nonzero(predicted) + np.count_nonzero(expected)
    if sizes == 0:
        return float("nan")
    return 2 * np.count_nonzero(predicted & expected) / sizes


def dice_counting_background(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Dice pooled over the two labels of a binary segmentation, lesion and background.

    2 sum_l |P_l & G_l| / sum_l (|P_l| + |G_l|) for l in {lesion, background}, which reduces to
    the share of voxels where the two masks agree (1 - :func:`mask_mse`). The 3D COVID work
    does not say how its Table 3.7 Dice was computed; its values (0.95 to 0.999 beside MSEs of
    1e-5 to 3e-3) are only reachable when agreeing background counts, so this is our reading of
    that table's Dice. An empty map scores the background's share of the volume: use it only to
    set the work's numbers beside :func:`dice`, never as evidence of localisation.

    Raises:
        ValueError: masks of different shapes, non-binary masks, not 2D/3D.
    """
    predicted, expected = _two_masks(prediction, reference)
    return np.count_nonzero(predicted == expected) / predicted.size


def mask_mse(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Mean squared error of two 0/1 masks (H, W) or (D, H, W): the share of voxels that differ.

    This is the "MSE" of Table 3.7 of the 3D COVID work. It counts agreement on the
    background, so a small lesion and a small wrong blob give a tiny MSE; read it beside
    :func:`dice`, which ignores the background. Returns a share in [0, 1].

    Raises:
        ValueError: masks of different shapes, non-binary masks, not 2D/3D.
    """
    predicted, expected = _two_masks(prediction, reference)
    return np.count_nonzero(predicted != expected) / predicted.size


# --------------------------------------------------------------------------------------------
# Heatmap against a mask
# --------------------------------------------------------------------------------------------


def pointing_game(
    heatmap: np.ndarray, mask: np.ndarray, tolerance_pixels: float = 0.0, *, resample: str | None = None
) -> bool:
    """Whether the heatmap's maximum lies in the mask: one hit or miss of the pointing game.

    Args:
        heatmap: (H, W) or (D, H, W), finite numbers.
        mask: binary, same shape (or any shape with ``resample="nearest"``); must not be empty.
        tolerance_pixels: a maximum within this Euclidean distance (in pixels/voxels, between
            voxel centres, ignoring anisotropic spacing) of a mask voxel still hits; 0 means it
            must lie in the mask. The original pointing game uses 15 pixels at 224 x 224.
        resample: None, or "nearest" to bring the mask onto the heatmap's grid.

    Returns:
        True for a hit. Ties: when several voxels share the maximum value, every one of them
        must lie in the (tolerance-widened) mask. A map that is flat over a region does not
        point at one place in it, so a constant map hits only a mask covering the whole image.

    Raises:
        ValueError: empty mask (nothing to point at), negative or non-finite tolerance,
            shape mismatch without resampling, non-binary mask, non-finite heatmap.
    """
    values = check_heatmap(heatmap)
    region = mask_on_heatmap_grid(mask, values.shape, resample)
    if not np.isfinite(tolerance_pixels) or tolerance_pixels < 0:
        raise ValueError(f"tolerance_pixels must be a finite distance >= 0; got {tolerance_pixels}")
    if not region.any():
        raise ValueError("pointing_game needs a non-empty mask: with no region there is nothing to point at")
    maxima = values == values.max()
    if tolerance_pixels == 0:
        return bool(region[maxima].all())
    distance_to_region = ndimage.distance_transform_edt(~region)
    return bool((distance_to_region[maxima] <= tolerance_pixels).all())


def mass_accuracy(heatmap: np.ndarray, mask: np.ndarray, *, resample: str | None = None) -> float:
    """Share of the heatmap's total mass that lies inside ``mask`` (energy-based pointing game).

    heatmap: non-negative (*spatial); mask: binary (*spatial), or another shape with
    ``resample="nearest"``. A map with no mass gives NaN: it points nowhere, which is not the
    same as pointing outside the mask.
    """
    values = check_heatmap(heatmap)
    region = mask_on_heatmap_grid(mask, values.shape, resample)
    if np.any(values < 0):
        raise ValueError("mass_accuracy needs a non-negative heatmap (apply ReLU or abs first)")
    total = values.sum()
    if total <= 0:
        return float("nan")
    # The two sums round separately; keep the share a share.
    return float(min(1.0, values[region].sum() / total))


def batch_mass_accuracy(heatmaps: np.ndarray, masks: Sequence[np.ndarray]) -> np.ndarray:
    """``mass_accuracy`` of each map (N, *spatial) against its own mask; returns (N,)."""
    if len(heatmaps) != len(masks):
        raise ValueError(f"{len(heatmaps)} heatmaps but {len(masks)} masks")
    return np.array([mass_accuracy(heatmap, mask) for heatmap, mask in zip(heatmaps, masks)])


def pixel_roc_auc(heatmap: np.ndarray, mask: np.ndarray, *, resample: str | None = None) -> float:
    """AUROC of the heatmap's values as a classifier of mask voxels against the rest.

    Every voxel is one item: label 1 inside the mask, score = the map's value (ties count
    half; :func:`radxai.evaluate.stats.auroc`). 1 when every mask voxel outscores every other
    voxel, 0.5 for a constant map. NaN when the mask is empty or covers everything (one class).
    Threshold-free, so it complements the binarised overlaps.

    Raises:
        ValueError: shape mismatch without resampling, non-binary mask, non-finite heatmap.
    """
    values = check_heatmap(heatmap)
    region = mask_on_heatmap_grid(mask, values.shape, resample)
    return auroc(region.ravel().astype(np.int64), values.ravel())


def organ_iou(heatmap: np.ndarray, allowed_mask: np.ndarray, threshold: float, *, resample: str | None = None) -> float:
    """OrganIoU of the HiResCAM work: allowed / (allowed + forbidden) attention above a threshold.

    The map is binarised at ``threshold`` (h > t); allowed counts the voxels above it inside
    the allowed region (e.g. the organs where the finding can occur), forbidden those outside.
    1 when all attention above the threshold is allowed, 0 when all of it is forbidden. (The
    paper sums "attention values" after binarisation, i.e. counts voxels; without a threshold
    the mass-weighted version is :func:`mass_accuracy`.)

    Resolution: the paper computes OrganIoU per abnormality at the CAM layer's resolution,
    with the organ masks downsampled by nearest neighbour and no dilation (its best setting;
    upsampling every map was too costly at scale). To do the same, pass the layer-resolution
    map (``Explanation.raw``) and the full-resolution mask with ``resample="nearest"``; pass
    an input-resolution map and mask to score at input resolution instead.

    Args:
        heatmap: (H, W) or (D, H, W) finite numbers.
        allowed_mask: binary; the heatmap's shape, or any shape with ``resample="nearest"``.
        threshold: in the heatmap's units; the paper picks it per abnormality on validation data.
        resample: None or "nearest".

    Returns:
        A share in [0, 1]; NaN when no voxel exceeds the threshold (no attention to place).

    Raises:
        ValueError: shape mismatch without resampling, non-binary mask, non-finite heatmap or
            threshold.
    """
    values = check_heatmap(heatmap)
    allowed_region = mask_on_heatmap_grid(allowed_mask, values.shape, resample, "allowed_mask")
    above = binarise(values, Threshold(threshold))
    attended = np.count_nonzero(above)
    if attended == 0:
        return float("nan")
    return np.count_nonzero(above & allowed_region) / attended
