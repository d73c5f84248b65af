"""Thresholded predictions: confusion matrices, precision, recall and F1, accuracy by group, Wilson intervals."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from radxai.evaluate.stats.checks import (
    _as_float_scores,
    _check_binary,
    _multilabel_labels_and_values,
    _preview,
    check_confidence,
)

MICRO_AVERAGE_ROW = "micro average"
MACRO_AVERAGE_ROW = "macro average"


def threshold_predictions(scores: ArrayLike, threshold: float = 0.5) -> NDArray[np.int64]:
    """Binary predictions from scores: 1 where ``score > threshold``, else 0.

    Strictly greater, matching the library's binarisation of heatmaps (h > t) and Keras'
    binary accuracy; a score exactly at the threshold is negative.

    Args:
        scores: any shape, e.g. (N,) or (N, K) probabilities; NaN not allowed.
        threshold: in the units of ``scores`` (0.5 for probabilities, 0.0 for logits).

    Returns:
        int64 array of 0/1 with the shape of ``scores``.
    """
    score_array = _as_float_scores(scores)
    return (score_array > threshold).astype(np.int64)


def _class_indices(values: ArrayLike, name: str, num_classes: int) -> NDArray[np.int64]:
    """Check (N,) whole numbers in [0, num_classes) and return them as int64."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (N,); got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold class indices 0..{num_classes - 1}; got dtype {array.dtype}")
    valid = (array == np.round(array)) & (array >= 0) & (array < num_classes)
    if not valid.all():
        raise ValueError(f"{name} must hold class indices 0..{num_classes - 1}; found {_preview(array[~valid])}")
    return array.astype(np.int64)


def confusion_matrix(labels: ArrayLike, predictions: ArrayLike, num_classes: int = 2) -> NDArray[np.int64]:
    """Counts of (true class, predicted class) pairs.

    Args:
        labels: (N,) true class indices in [0, num_classes).
        predictions: (N,) predicted class indices in [0, num_classes).
        num_classes: C, the number of classes.

    Returns:
        (C, C) int64; entry [i, j] counts items of true class i predicted as class j (rows
        true, columns predicted). For C = 2: [[TN, FP], [FN, TP]].

    Raises:
        ValueError: num_classes < 1, inputs not (N,) or unequal length, values that are not
            whole numbers in [0, num_classes).
    """
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be a positive whole number; got {num_classes}")
    num_classes = int(num_classes)
    true_classes = _class_indices(labels, "labels", num_classes)
    predicted_classes = _class_indices(predictions, "predictions", num_classes)
    if true_classes.size != predicted_classes.size:
        raise ValueError(f"labels and predictions differ in length: {true_classes.size} vs {predicted_classes.size}")
    pair_counts = np.bincount(true_classes * num_classes + predicted_classes, minlength=num_classes * num_classes)
    return pair_counts.reshape(num_classes, num_classes)


def _ratio_or_zero(
    numerator: NDArray[np.float64] | float, denominator: NDArray[np.float64] | float
) -> NDArray[np.float64]:
    """numerator / denominator, 0 where the denominator is 0."""
    numerator_array = np.asarray(numerator, dtype=np.float64)
    denominator_array = np.asarray(denominator, dtype=np.float64)
    result = np.zeros(np.broadcast(numerator_array, denominator_array).shape)
    np.divide(numerator_array, denominator_array, out=result, where=denominator_array > 0)
    return result


def precision_recall_f1(labels: ArrayLike, predictions: ArrayLike, class_names: Sequence[str]) -> pd.DataFrame:
    """Precision, recall and F1 per class of a multi-label problem, with micro and macro rows.

    Args:
        labels: (N, K) 0 or 1, one column per class.
        predictions: (N, K) 0 or 1 (e.g. from :func:`threshold_predictions`).
        class_names: K names, in column order.

    Returns:
        DataFrame indexed by class name (index name ``"class"``): K rows, then
        ``"micro average"`` (true/false positives and false negatives pooled over classes, then
        the ratios) and ``"macro average"`` (unweighted mean of the K per-class values).
        Columns ``precision``, ``recall``, ``f1`` (fractions in [0, 1]) and ``support`` (true
        positives + false negatives: items labelled positive; for the average rows, the total).
        F1 = 2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall.
        A ratio whose denominator is 0 (a class never predicted, or never present) is set to 0,
        as scikit-learn's ``zero_division=0``: it counts against the macro average instead of
        vanishing from it, and no NaN reaches a table.

    Raises:
        ValueError: shapes not (N, K) or unequal, K != len(class_names), values not in {0, 1}.
    """
    label_array, prediction_values = _multilabel_labels_and_values(labels, predictions, class_names, "predictions")
    prediction_array = _check_binary(prediction_values, "predictions")
    true_positives = (label_array & prediction_array).sum(axis=0)
    false_positives = ((1 - label_array) & prediction_array).sum(axis=0)
    false_negatives = (label_array & (1 - prediction_array)).sum(axis=0)

    def scores_of(tp: NDArray, fp: NDArray, fn: NDArray) -> dict[str, NDArray]:
        return {
            "precision": _ratio_or_zero(tp, tp + fp),
            "recall": _ratio_or_zero(tp, tp + fn),
            "f1": _ratio_or_zero(2 * tp, 2 * tp + fp + fn),
            "support": tp + fn,
        }

    per_class = pd.DataFrame(
        scores_of(true_positives, false_positives, false_negatives), index=pd.Index(list(class_names), name="class")
    )
    micro = scores_of(true_positives.sum(), false_positives.sum(), false_negatives.sum())
    table = pd.concat(
        [
            per_class,
            pd.DataFrame(
                {key: [value.item()] for key, value in micro.items()}, index=pd.Index([MICRO_AVERAGE_ROW], name="class")
            ),
            pd.DataFrame(
                {
                    "precision": [per_class["precision"].mean()],
                    "recall": [per_class["recall"].mean()],
                    "f1": [per_class["f1"].mean()],
                    "support": [int(per_class["support"].sum())],
                },
                index=pd.Index([MACRO_AVERAGE_ROW], name="class"),
            ),
        ]
    )
    return table.astype({"support": np.int64})


def accuracy_by_group(
    labels: ArrayLike, predictions: ArrayLike, groups: ArrayLike, group_order: Sequence[Hashable] | None = None
) -> pd.DataFrame:
    """Accuracy within each subset, e.g. per severity grade CT-0..CT-4.

    Args:
        labels: (N,) true classes (any comparable values).
        predictions: (N,) predicted classes, compared with ``labels`` by equality.
        groups: (N,) group of each item, e.g. "CT-2".
        group_order: the rows, in this order; a listed group without items gets n = 0 and
            accuracy NaN. None: the groups present, sorted.

    Returns:
        DataFrame indexed by group (index name ``"group"``) with columns ``n`` (items),
        ``correct`` (items with prediction == label), ``accuracy`` (correct / n, in [0, 1]) and
        its 95% Wilson interval ``accuracy_ci_low``, ``accuracy_ci_high`` (NaN for n = 0).

    Raises:
        ValueError: inputs not (N,) or of unequal length, a group missing from ``group_order``.
    """
    arrays = {"labels": np.asarray(labels), "predictions": np.asarray(predictions), "groups": np.asarray(groups)}
    for name, array in arrays.items():
        if array.ndim != 1:
            raise ValueError(f"{name} must be 1-D (N,); got shape {array.shape}")
    lengths = {name: array.size for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"labels, predictions and groups differ in length: {lengths}")
    frame = pd.DataFrame({"group": arrays["groups"], "correct": arrays["labels"] == arrays["predictions"]})
    table = frame.groupby("group", sort=True)["correct"].agg(n="size", correct="sum")
    if group_order is not None:
        unlisted = sorted(set(table.index) - set(group_order), key=str)
        if unlisted:
            raise ValueError(f"groups {unlisted} are not in group_order {list(group_order)}")
        table = table.reindex(pd.Index(list(group_order), name="group"), fill_value=0)
    table = table.astype(np.int64)
    accuracy = table["correct"].astype(np.float64) / table["n"].where(table["n"] > 0)
    low, high = wilson_interval(table["correct"].to_numpy(), table["n"].to_numpy())
    return table.assign(accuracy=accuracy, accuracy_ci_low=low, accuracy_ci_high=high)


def wilson_interval(
    successes: ArrayLike, trials: ArrayLike, confidence: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wilson score interval of binomial proportions successes / trials, elementwise.

    Unlike a bootstrap, it stays informative for small n and for proportions of 0 or 1 (a
    group of 3 studies all correct gives (0.44, 1.0), not a zero-width interval). Returns
    (low, high) float64 arrays in [0, 1]; NaN where trials is 0.

    Raises:
        ValueError: negative counts, successes above trials, or a confidence outside (0, 1).
    """
    from scipy.stats import norm

    check_confidence(confidence)
    hits = np.asarray(successes, dtype=np.float64)
    count = np.asarray(trials, dtype=np.float64)
    if hits.shape != count.shape or (hits < 0).any() or (hits > count).any():
        raise ValueError("successes and trials must be counts of one shape with 0 <= successes <= trials")
    z = float(norm.ppf(0.5 + confidence / 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = hits / count
        centre = (share + z**2 / (2 * count)) / (1 + z**2 / count)
        half = z * np.sqrt(share * (1 - share) / count + z**2 / (4 * count**2)) / (1 + z**2 / count)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
