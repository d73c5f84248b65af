"""Localisation tables: per-study scores of every method, and their means with bootstrap CIs.

Each ``*_per_study`` / ``*_per_image`` function returns a long pandas DataFrame with one row
per (method, [scheme / class / threshold,] study) and plain float columns, NaN where a score
is undefined (e.g. IoU when prediction and reference are both empty). The summaries average
those rows per group with a percentile bootstrap interval over studies and count what was
left out, so that an empty mask is visible in the table instead of silently dropped.

Conventions:
- Values are not rounded (the notebooks round for display); column names are stable.
- Bootstrap: ``resamples`` resamples of the group's defined values with replacement, the
  percentile interval at ``confidence``, ``numpy.random.default_rng(seed)``, as
  :mod:`radxai.evaluate.stats` does for AUROC. Every group uses the same seed, so groups of
  equal size draw the same indices: resampling is paired across methods whenever they have
  the same studies defined. The same seed and inputs give byte-identical tables on one
  machine.
- Methods keep the order of the mapping they come from; schemes, classes, fractions and
  thresholds the order given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from radxai.evaluate.binarise import (
    BinarisationScheme,
    binarise,
    check_heatmap,
    mask_on_heatmap_grid,
)
from radxai.evaluate.boxes import boxes_from_heatmap, reader_box_iou, reader_box_iou_as_published
from radxai.evaluate.localisation import (
    dice,
    dice_counting_background,
    iou,
    mask_mse,
    mass_accuracy,
    organ_iou,
    pixel_roc_auc,
    pointing_game,
)
from radxai.evaluate.stats import bootstrap_mean_ci, check_confidence, check_resamples

__all__ = [
    "box_iou_per_image",
    "organ_iou_per_study",
    "overlap_per_study",
    "positive_part_scaled_to_peak",
    "region_scores_per_study",
    "summarise_means",
    "summarise_overlap",
]

HeatmapsByMethod = Mapping[str, Sequence[np.ndarray] | np.ndarray]


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _check_methods(heatmaps_by_method: HeatmapsByMethod, item_count: int, items: str) -> None:
    if not isinstance(heatmaps_by_method, Mapping) or not heatmaps_by_method:
        raise TypeError(
            "heatmaps_by_method must be a non-empty mapping of method name -> "
            f"{items} heatmaps; got {type(heatmaps_by_method).__name__}"
        )
    for method, heatmaps in heatmaps_by_method.items():
        if len(heatmaps) != item_count:
            raise ValueError(f"method {method!r} has {len(heatmaps)} heatmaps but there are {item_count} {items}")


def _check_binary_vector(values: ArrayLike, name: str, item_count: int) -> np.ndarray:
    array = np.asarray(values)
    if array.shape != (item_count,):
        raise ValueError(f"{name} must have one entry per study, shape ({item_count},); got shape {array.shape}")
    is_binary = np.isin(array, [0, 1])
    if not is_binary.all():
        raise ValueError(f"{name} must be 0/1 or bool; found {np.unique(array[~is_binary])[:5].tolist()}")
    return array.astype(bool)


# --------------------------------------------------------------------------------------------
# Bootstrap of a mean
# --------------------------------------------------------------------------------------------


def _group_index(keys: list[tuple], by: Sequence[str]) -> pd.Index:
    """An index of group keys (tuples) named by ``by``: a MultiIndex for several columns."""
    if len(by) == 1:
        return pd.Index([key[0] for key in keys], name=by[0])
    return pd.MultiIndex.from_tuples(keys, names=list(by))


def summarise_means(
    per_item: pd.DataFrame,
    by: Sequence[str],
    metrics: Sequence[str],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean of each metric per group with a bootstrap interval, counting undefined values.

    Args:
        per_item: long table, one row per item (study, image), e.g. from
            :func:`region_scores_per_study`.
        by: the grouping columns (e.g. ``["method"]``); groups keep their first-seen order.
        metrics: numeric columns to average; NaN entries are left out and counted.
        resamples, confidence, seed: the percentile bootstrap over items (module docstring).

    Returns:
        DataFrame indexed by ``by`` (no rows for an empty ``per_item``); for each metric M the
        columns ``M`` (mean over defined items; NaN if none), ``M_ci_low``, ``M_ci_high``,
        ``M_count`` (items averaged) and ``M_undefined`` (items whose value was NaN).

    Raises:
        ValueError: no grouping column, a column missing from ``per_item``, bad resamples or
            confidence.
    """
    check_resamples(resamples)
    check_confidence(confidence)
    if not by:
        raise ValueError("by must name at least one grouping column")
    missing = [column for column in [*by, *metrics] if column not in per_item.columns]
    if missing:
        raise ValueError(f"per_item has no column(s) {missing}; it has {list(per_item.columns)}")
    columns = [
        f"{metric}{suffix}" for metric in metrics for suffix in ("", "_ci_low", "_ci_high", "_count", "_undefined")
    ]
    keys, rows = [], []
    for key, group in per_item.groupby(list(by), sort=False):
        keys.append(key if isinstance(key, tuple) else (key,))
        row = []
        for metric in metrics:
            values = group[metric].to_numpy(dtype=np.float64)
            defined = values[~np.isnan(values)]
            summary = bootstrap_mean_ci(defined, int(resamples), confidence, seed)
            row += [summary.estimate, summary.low, summary.high, defined.size, values.size - defined.size]
        rows.append(row)
    table = pd.DataFrame(rows, columns=columns, index=_group_index(keys, by))
    counts = [column for column in columns if column.endswith(("_count", "_undefined"))]
    return table.astype({column: np.int64 for column in counts})


# --------------------------------------------------------------------------------------------
# Overlap of binarised maps with expert masks (Table 3.7 protocol)
# --------------------------------------------------------------------------------------------


def overlap_per_study(
    heatmaps_by_method: HeatmapsByMethod,
    masks: Sequence[np.ndarray],
    schemes: Sequence[BinarisationScheme],
    labels: ArrayLike,
    predictions: ArrayLike,
    *,
    resample: str | None = None,
) -> pd.DataFrame:
    """IoU, Dice and MSE of every method's binarised map against each study's expert mask.

    Args:
        heatmaps_by_method: method name -> N heatmaps, each (H, W) or (D, H, W).
        masks: N binary reference masks (e.g. lesion masks), one per study.
        schemes: binarisation schemes, e.g. ``[Threshold(0.7), Band(0.3, 0.7)]``.
        labels: (N,) 0/1 ground truth of the study (1 = the finding is present).
        predictions: (N,) 0/1 model decision for the study.
        resample: None (shapes must match) or "nearest" (mask onto the heatmap's grid).

    Returns:
        Long DataFrame, one row per (method, scheme, study), columns ``method``, ``scheme``
        (the scheme's label), ``study`` (position 0..N-1), ``label``, ``predicted`` (bool),
        ``iou``, ``dice`` (NaN when both masks are empty), ``mse`` (share of voxels that
        differ), ``dice_counting_background`` (Table 3.7's Dice as the work computed it, see
        :func:`radxai.evaluate.localisation.dice_counting_background`), ``predicted_voxels``,
        ``reference_voxels``.

    Raises:
        TypeError / ValueError: counts that differ, non-binary masks or labels, shape
            mismatch without resampling, unknown schemes.
    """
    study_count = len(masks)
    _check_methods(heatmaps_by_method, study_count, "studies")
    label_array = _check_binary_vector(labels, "labels", study_count)
    prediction_array = _check_binary_vector(predictions, "predictions", study_count)
    rows = []
    for method, heatmaps in heatmaps_by_method.items():
        for study, (heatmap, mask) in enumerate(zip(heatmaps, masks)):
            values = check_heatmap(heatmap, f"{method} heatmap {study}")
            reference = mask_on_heatmap_grid(mask, values.shape, resample, f"mask {study}")
            for scheme in schemes:
                predicted = binarise(values, scheme)
                rows.append(
                    {
                        "method": method,
                        "scheme": scheme.label,
                        "study": study,
                        "label": bool(label_array[study]),
                        "predicted": bool(prediction_array[study]),
                        "iou": iou(predicted, reference),
                        "dice": dice(predicted, reference),
                        "mse": mask_mse(predicted, reference),
                        "dice_counting_background": dice_counting_background(predicted, reference),
                        "predicted_voxels": int(np.count_nonzero(predicted)),
                        "reference_voxels": int(np.count_nonzero(reference)),
                    }
                )
    return pd.DataFrame(rows)


def summarise_overlap(
    per_study: pd.DataFrame, *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Mean IoU and Dice per method and scheme, over all positives and over true positives.

    Subsets: "all_positives" are the studies with label 1; "true_positives" those with label
    1 that the model also predicted positive (the chest X-ray work scores only these). A
    positive study whose reference mask is empty has nothing to localise: it is left out of
    the means and counted. A binarised map that is empty while the reference is not scores
    IoU = Dice = 0 (it is kept, and counted).

    Args:
        per_study: the output of :func:`overlap_per_study`.
        resamples, confidence, seed: bootstrap over studies (module docstring).

    Returns:
        DataFrame indexed by (method, scheme) with, for S in (all_positives, true_positives):
        ``iou_S``, ``iou_S_ci_low``, ``iou_S_ci_high``, ``dice_S``, ``dice_S_ci_low``,
        ``dice_S_ci_high`` (shares in [0, 1]), ``studies_S`` (studies averaged),
        ``empty_reference_S`` (positives left out: empty expert mask) and
        ``empty_prediction_S`` (averaged studies whose binarised map was empty).
        A subset without studies has NaN means and zero counts.

    Raises:
        ValueError: missing columns, bad resamples or confidence.
    """
    required = ["method", "scheme", "label", "predicted", "iou", "dice", "predicted_voxels", "reference_voxels"]
    missing = [column for column in required if column not in per_study.columns]
    if missing:
        raise ValueError(f"per_study has no column(s) {missing}; use overlap_per_study")
    check_resamples(resamples)
    check_confidence(confidence)
    by = ["method", "scheme"]
    index = _group_index(list(dict.fromkeys(zip(per_study["method"], per_study["scheme"]))), by)
    positives = per_study["label"].astype(bool)
    subsets = {"all_positives": positives, "true_positives": positives & per_study["predicted"].astype(bool)}
    table = pd.DataFrame(index=index)
    for subset, chosen in subsets.items():
        rows = per_study[chosen]
        scored = rows[rows["reference_voxels"] > 0]
        means = summarise_means(
            scored, by, ["iou", "dice"], resamples=resamples, confidence=confidence, seed=seed
        ).reindex(index)
        for metric in ("iou", "dice"):
            for suffix in ("", "_ci_low", "_ci_high"):
                table[f"{metric}_{subset}{suffix}"] = means[f"{metric}{suffix}"]
        counts = {
            "studies": scored.groupby(by, sort=False).size(),
            "empty_reference": rows[rows["reference_voxels"] == 0].groupby(by, sort=False).size(),
            "empty_prediction": scored[scored["predicted_voxels"] == 0].groupby(by, sort=False).size(),
        }
        for name, count in counts.items():
            table[f"{name}_{subset}"] = count.reindex(index, fill_value=0).astype(np.int64)
    return table


# --------------------------------------------------------------------------------------------
# Boxes around the top-p% of X-ray maps (Table 6 / Figure 30 protocol)
# --------------------------------------------------------------------------------------------


def box_iou_per_image(
    heatmaps_by_method: HeatmapsByMethod,
    reader_boxes: Sequence[Mapping[str, ArrayLike]],
    class_names: Sequence[str],
    top_fractions: Sequence[float],
    *,
    evaluated: ArrayLike | None = None,
) -> pd.DataFrame:
    """Box IoU of the top-p% boxes of each class map against the readers' boxes, per image.

    For every method, image, class and fraction p: the boxes of the connected components of
    the top p of the class map's pixels (:func:`radxai.evaluate.boxes.boxes_from_heatmap`),
    matched to all readers' boxes of that class by
    :func:`radxai.evaluate.boxes.reader_box_iou` (best predicted box per reader box, mean
    over reader boxes).

    Args:
        heatmaps_by_method: method name -> N arrays (K, H, W), one map per class, classes in
            ``class_names`` order.
        reader_boxes: N mappings class name -> boxes (R, 4) (x_min, y_min, x_max, y_max), in
            pixels of the heatmaps' grid; a class without an entry has no reader box.
        class_names: the K class names.
        top_fractions: the fractions p, e.g. (0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.2).
        evaluated: (N, K) bool, the (image, class) pairs to score; the chest X-ray work scores
            true positives only (label 1 and predicted 1). None: every pair with at least one
            reader box.

    Returns:
        Long DataFrame, one row per (method, class, top_fraction, image) of an evaluated pair:
        ``method``, ``class``, ``top_fraction``, ``image``, ``box_iou`` (NaN when the pair has
        no reader box), ``box_iou_as_published`` (the work's own score:
        :func:`radxai.evaluate.boxes.reader_box_iou_as_published`), ``predicted_boxes`` and
        ``reader_boxes`` (counts).

    Raises:
        ValueError: counts or shapes that disagree, an evaluated pair's map not (K, H, W),
            bad boxes or fractions.
    """
    image_count = len(reader_boxes)
    _check_methods(heatmaps_by_method, image_count, "images")
    class_count = len(class_names)
    if evaluated is None:
        scored = np.array(
            [[len(np.atleast_1d(boxes.get(name, []))) > 0 for name in class_names] for boxes in reader_boxes],
            dtype=bool,
        ).reshape(image_count, class_count)
    else:
        scored = np.asarray(evaluated)
        if scored.shape != (image_count, class_count) or not np.isin(scored, [0, 1]).all():
            raise ValueError(
                f"evaluated must be 0/1 or bool of shape ({image_count}, "
                f"{class_count}) (images, classes); got shape {scored.shape}"
            )
        scored = scored.astype(bool)
    rows = []
    for method, heatmaps in heatmaps_by_method.items():
        for image, (image_heatmaps, boxes_by_class) in enumerate(zip(heatmaps, reader_boxes)):
            per_class = np.asarray(image_heatmaps)
            if per_class.ndim != 3 or per_class.shape[0] != class_count:
                raise ValueError(
                    f"method {method!r} image {image}: heatmaps must be (K, H, W) with "
                    f"K = {class_count} classes; got shape {per_class.shape}"
                )
            for class_index, name in enumerate(class_names):
                if not scored[image, class_index]:
                    continue
                readers = np.asarray(boxes_by_class.get(name, []), dtype=np.float64)
                reader_count = readers.shape[0] if readers.ndim == 2 else int(readers.size > 0)
                for fraction in top_fractions:
                    predicted = boxes_from_heatmap(per_class[class_index], fraction)
                    rows.append(
                        {
                            "method": method,
                            "class": name,
                            "top_fraction": float(fraction),
                            "image": image,
                            "box_iou": reader_box_iou(predicted, readers),
                            "box_iou_as_published": reader_box_iou_as_published(predicted, readers),
                            "predicted_boxes": int(predicted.shape[0]),
                            "reader_boxes": reader_count,
                        }
                    )
    columns = [
        "method",
        "class",
        "top_fraction",
        "image",
        "box_iou",
        "box_iou_as_published",
        "predicted_boxes",
        "reader_boxes",
    ]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------------------------
# Pointing game, mass accuracy, pixel ROC-AUC; OrganIoU
# --------------------------------------------------------------------------------------------


def region_scores_per_study(
    heatmaps_by_method: HeatmapsByMethod,
    masks: Sequence[np.ndarray],
    *,
    tolerance_pixels: float = 0.0,
    resample: str | None = None,
) -> pd.DataFrame:
    """Pointing game, mass accuracy and pixel ROC-AUC of every method's map per study.

    Args:
        heatmaps_by_method: method name -> N non-negative heatmaps (H, W) or (D, H, W).
        masks: N binary reference masks.
        tolerance_pixels: the pointing game's tolerance (see
            :func:`radxai.evaluate.localisation.pointing_game`).
        resample: None or "nearest".

    Returns:
        Long DataFrame, one row per (method, study): ``method``, ``study``, ``pointing_hit``
        (1.0 hit, 0.0 miss), ``mass_accuracy``, ``pixel_roc_auc``, ``reference_voxels``. A
        study with an empty mask has NaN scores (nothing to localise); so does a map without
        mass for ``mass_accuracy``. Summarise with
        ``summarise_means(frame, ["method"], ["pointing_hit", "mass_accuracy", "pixel_roc_auc"])``:
        the mean of ``pointing_hit`` is the pointing game's hit rate.
    """
    study_count = len(masks)
    _check_methods(heatmaps_by_method, study_count, "studies")
    rows = []
    for method, heatmaps in heatmaps_by_method.items():
        for study, (heatmap, mask) in enumerate(zip(heatmaps, masks)):
            values = check_heatmap(heatmap, f"{method} heatmap {study}")
            reference = mask_on_heatmap_grid(mask, values.shape, resample, f"mask {study}")
            row = {
                "method": method,
                "study": study,
                "pointing_hit": float("nan"),
                "mass_accuracy": float("nan"),
                "pixel_roc_auc": float("nan"),
                "reference_voxels": int(np.count_nonzero(reference)),
            }
            if row["reference_voxels"]:
                row.update(
                    pointing_hit=float(pointing_game(values, reference, tolerance_pixels)),
                    mass_accuracy=mass_accuracy(values, reference),
                    pixel_roc_auc=pixel_roc_auc(values, reference),
                )
            rows.append(row)
    return pd.DataFrame(rows)


def organ_iou_per_study(
    heatmaps_by_method: HeatmapsByMethod,
    allowed_masks: Sequence[np.ndarray],
    thresholds: Sequence[float],
    *,
    resample: str | None = None,
) -> pd.DataFrame:
    """OrganIoU of every method's map per study at each threshold.

    Args:
        heatmaps_by_method: method name -> N heatmaps; at the CAM layer's resolution to follow
            the HiResCAM work (then pass full-resolution masks with ``resample="nearest"``).
        allowed_masks: N binary allowed regions (e.g. ``OrganMasks.allowed_region(...)``).
        thresholds: binarisation thresholds in the maps' units; the paper picks the best one
            per abnormality on validation data (e.g. the row maximising the validation mean).
        resample: None or "nearest".

    Returns:
        Long DataFrame, one row per (method, threshold, study): ``method``, ``threshold``,
        ``study``, ``organ_iou`` (NaN when nothing exceeds the threshold). Summarise with
        ``summarise_means(frame, ["method", "threshold"], ["organ_iou"])``.
    """
    study_count = len(allowed_masks)
    _check_methods(heatmaps_by_method, study_count, "studies")
    rows = []
    for method, heatmaps in heatmaps_by_method.items():
        for study, (heatmap, allowed) in enumerate(zip(heatmaps, allowed_masks)):
            values = check_heatmap(heatmap, f"{method} heatmap {study}")
            region = mask_on_heatmap_grid(allowed, values.shape, resample, f"allowed mask {study}")
            for threshold in thresholds:
                rows.append(
                    {
                        "method": method,
                        "threshold": float(threshold),
                        "study": study,
                        "organ_iou": organ_iou(values, region, threshold),
                    }
                )
    return pd.DataFrame(rows)


def positive_part_scaled_to_peak(raw: ArrayLike) -> np.ndarray:
    """Each map's positive part divided by its own maximum, the scaling before OrganIoU thresholds.

    Args:
        raw: (N, *spatial) signed attention, e.g. ``explain(...).raw`` at the CAM layer.

    Returns:
        (N, *spatial) in [0, 1], the maps' float dtype (float64 for integers):
        ``max(m, 0) / max(max(m, 0))`` per map, so thresholds such as 0.25/0.5/0.75 mean the same
        share of each map's peak; a map with no positive value stays all zero (nothing exceeds
        any threshold, OrganIoU undefined).
    """
    values = np.asarray(raw)
    # Floating maps keep their precision, so the thresholds cut exactly where they cut the raw map.
    positive = np.maximum(values if np.issubdtype(values.dtype, np.floating) else values.astype(np.float64), 0)
    if positive.ndim < 2:
        raise ValueError(f"raw must be (N, *spatial); got shape {positive.shape}")
    peak = positive.reshape(len(positive), -1).max(axis=1).reshape(-1, *[1] * (positive.ndim - 1))
    return np.divide(positive, peak, out=np.zeros_like(positive), where=peak > 0)
