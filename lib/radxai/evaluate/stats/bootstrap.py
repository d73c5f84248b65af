"""Percentile bootstrap intervals: of a metric over labelled scores, of a mean, of a paired difference, per class."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from radxai.evaluate.stats.checks import (
    _as_float_scores,
    _binary_labels_and_scores,
    _multilabel_labels_and_values,
    check_confidence,
    check_resamples,
)
from radxai.evaluate.stats.roc import _auroc_from_counts, auroc

Metric = Callable[[NDArray[np.int64], NDArray[np.float64]], float]

# Resample indices are drawn in blocks of at most this many entries (resamples x items), so a
# bootstrap over a large test set stays at tens of megabytes instead of resamples x N at once.
_INDEX_BLOCK_ENTRIES = 2_000_000

MACRO_MEAN_ROW = "macro mean"


@dataclass(frozen=True)
class BootstrapResult:
    """A metric on the full data with a percentile bootstrap interval.

    Attributes:
        estimate: the metric on the full (not resampled) data.
        low: lower percentile, (1 - confidence) / 2, of the resampled metric values.
        high: upper percentile, 1 - (1 - confidence) / 2, of the resampled metric values.
        median: median of the resampled metric values.
        confidence: the interval's nominal coverage, e.g. 0.95.
        resamples_used: resamples whose metric entered the interval.
        resamples_skipped: resamples left out because they held one class only (AUROC and
            most binary metrics are undefined there). low/high/median are NaN if none was used.
    """

    estimate: float
    low: float
    high: float
    median: float
    confidence: float
    resamples_used: int
    resamples_skipped: int


def _resample_indices(
    item_count: int, resamples: int, seed: int, strata: NDArray[np.int64] | None = None
) -> Iterator[NDArray[np.int64]]:
    """Yield blocks (B_block, N) of item indices, B_block summing to ``resamples``.

    Plain resampling draws N items with replacement from all items. With ``strata`` (N,)
    each stratum (label value) is drawn with replacement to its own size, so every resample
    keeps the original class counts. Same arguments -> same indices.
    """
    generator = np.random.default_rng(seed)
    if strata is None:
        groups = [np.arange(item_count)]
    else:
        groups = [members for value in np.unique(strata) if (members := np.flatnonzero(strata == value)).size]
    block = max(1, _INDEX_BLOCK_ENTRIES // item_count)
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        yield np.concatenate(
            [members[generator.integers(0, members.size, size=(size, members.size))] for members in groups], axis=1
        )


def _draw_counts(indices: NDArray[np.int64], item_count: int) -> NDArray[np.int64]:
    """How often each item appears in each resample: indices (B, N) -> counts (B, N)."""
    row_offsets = item_count * np.arange(indices.shape[0])[:, None]
    flat_counts = np.bincount((indices + row_offsets).ravel(), minlength=indices.shape[0] * item_count)
    return flat_counts.reshape(indices.shape[0], item_count)


def median_and_percentiles(values: ArrayLike, low: float = 2.5, high: float = 97.5) -> tuple[float, float, float]:
    """Median and two percentiles of a sample, as the eye-gaze work reports resampled AUCs.

    Args:
        values: (M,) numbers, e.g. one metric value per bootstrap resample.
        low, high: percentiles in [0, 100] with low <= high (default: the central 95%).

    Returns:
        ``(median, low_value, high_value)`` in the units of ``values``, by numpy's linear
        interpolation between order statistics. NaN in ``values`` propagates to all three, so a
        missing value is visible rather than silently dropped.

    Raises:
        ValueError: values not 1-D or empty, percentiles outside [0, 100] or low > high.
    """
    value_array = np.asarray(values, dtype=np.float64)
    if value_array.ndim != 1 or value_array.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array; got shape {value_array.shape}")
    if not 0.0 <= low <= high <= 100.0:
        raise ValueError(f"percentiles must satisfy 0 <= low <= high <= 100; got low={low}, high={high}")
    median, low_value, high_value = np.percentile(value_array, [50.0, low, high])
    return float(median), float(low_value), float(high_value)


def _summarise(
    estimate: float, resampled: NDArray[np.float64], resamples_skipped: int, confidence: float
) -> BootstrapResult:
    """Percentile interval over the resampled values that were computed."""
    tail = 100.0 * (1.0 - confidence) / 2.0
    if resampled.size:
        median, low, high = median_and_percentiles(resampled, tail, 100.0 - tail)
    else:
        median = low = high = float("nan")
    return BootstrapResult(
        estimate=float(estimate),
        low=low,
        high=high,
        median=median,
        confidence=confidence,
        resamples_used=int(resampled.size),
        resamples_skipped=resamples_skipped,
    )


def bootstrap_ci(
    labels: ArrayLike,
    scores: ArrayLike,
    metric: Metric = auroc,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    *,
    stratified: bool = False,
) -> BootstrapResult:
    """Percentile bootstrap confidence interval of a binary metric (AUROC by default).

    Args:
        labels: (N,) 0 or 1.
        scores: (N,) real numbers passed to ``metric`` (scores, or 0/1 predictions for metrics
            such as accuracy); NaN not allowed.
        metric: ``metric(labels (n,), scores (n,)) -> float``. With ``auroc`` itself all
            resamples are evaluated in one vectorised pass; any other callable is called once
            per resample.
        resamples: number of bootstrap resamples.
        confidence: nominal coverage in (0, 1); 0.95 gives the 2.5th and 97.5th percentiles.
        seed: seed of ``numpy.random.default_rng``; the same inputs and seed give the same
            result on the same machine.
        stratified: False (default) resamples N items from all items, as the reproduced works
            do; a resample may then hold one class only and is skipped (counted in
            ``resamples_skipped``). True resamples positives and negatives separately, each to
            its own count, so class balance is fixed and no resample is skipped.

    Returns:
        A :class:`BootstrapResult`; ``estimate`` is the metric on the full data.

    Raises:
        ValueError: invalid labels or scores (see :func:`auroc`), resamples < 1, confidence not
            in (0, 1).
    """
    label_array, score_array = _binary_labels_and_scores(labels, scores)
    check_resamples(resamples)
    check_confidence(confidence)
    item_count = label_array.size
    strata = label_array if stratified else None
    blocks = []
    for indices in _resample_indices(item_count, int(resamples), seed, strata):
        resampled_labels = label_array[indices]
        positives = resampled_labels.sum(axis=1)
        has_both_classes = (positives > 0) & (positives < item_count)
        if metric is auroc:
            values = _auroc_from_counts(_draw_counts(indices, item_count), label_array, score_array)
        else:
            values = np.array(
                [
                    metric(resampled_labels[row], score_array[indices[row]]) if has_both_classes[row] else np.nan
                    for row in range(indices.shape[0])
                ],
                dtype=np.float64,
            )
        blocks.append(values[has_both_classes])
    resampled = np.concatenate(blocks)
    return _summarise(metric(label_array, score_array), resampled, int(resamples) - resampled.size, confidence)


def bootstrap_mean_ci(
    values: ArrayLike, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> BootstrapResult:
    """Mean of per-item scores (N,) with a percentile bootstrap interval.

    For scores without classes (per-study Dice, per-image box IoU, deletion AUCs):
    ``bootstrap_ci`` resamples binary labels and would skip every resample here. NaN values
    are not allowed (drop and count undefined items first). An empty sample gives NaN for
    the estimate and the interval, with every resample counted as skipped.

    Raises ValueError for NaN values, resamples < 1 or confidence not in (0, 1).
    """
    value_array = np.asarray(values, dtype=np.float64).ravel()
    check_resamples(resamples)
    check_confidence(confidence)
    if np.isnan(value_array).any():
        raise ValueError(
            f"{int(np.isnan(value_array).sum())} of {value_array.size} values are "
            "NaN; drop undefined items before bootstrapping their mean"
        )
    if value_array.size == 0:
        return _summarise(float("nan"), np.empty(0), int(resamples), confidence)
    means = np.concatenate(
        [value_array[indices].mean(axis=1) for indices in _resample_indices(value_array.size, int(resamples), seed)]
    )
    return _summarise(float(value_array.mean()), means, 0, confidence)


def bootstrap_paired_difference_ci(
    first: ArrayLike, second: ArrayLike, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> BootstrapResult:
    """Mean of ``first - second`` over paired items with a percentile bootstrap interval.

    For two scores of the same items (HiResCAM and Grad-CAM OrganIoU of the same studies):
    resampling whole pairs keeps their correlation, so the interval is narrower than one
    read off two separate intervals whenever the scores move together.

    Args:
        first, second: (N,) scores of the same N items in the same order, in the same units;
            NaN not allowed (drop pairs with an undefined score first, as for
            :func:`bootstrap_mean_ci`).
        resamples, confidence, seed: as in :func:`bootstrap_mean_ci`; the pairs are resampled.

    Returns:
        A :class:`BootstrapResult` in the units of the scores; ``estimate`` is the mean of the
        differences ``first - second`` (``mean(first) - mean(second)`` up to rounding), positive
        when ``first`` is higher. Empty input gives NaN for the estimate and the interval, with
        every resample counted as skipped.

    Raises:
        ValueError: inputs not (N,) or of unequal length, NaN in either, resamples < 1,
            confidence not in (0, 1).
    """
    first_array = np.asarray(first, dtype=np.float64)
    second_array = np.asarray(second, dtype=np.float64)
    if first_array.ndim != 1 or second_array.ndim != 1:
        raise ValueError(f"first and second must be 1-D (N,); got shapes {first_array.shape} and {second_array.shape}")
    if first_array.size != second_array.size:
        raise ValueError(
            f"first and second must pair item for item but differ in length: {first_array.size} vs {second_array.size}"
        )
    undefined_pairs = int((np.isnan(first_array) | np.isnan(second_array)).sum())
    if undefined_pairs:
        raise ValueError(
            f"{undefined_pairs} of {first_array.size} pairs hold NaN; drop "
            "undefined pairs before bootstrapping their difference"
        )
    # Resampling the per-pair differences is resampling the pairs: the mean of a resample's
    # differences is the difference of its two means.
    return bootstrap_mean_ci(first_array - second_array, resamples, confidence, seed)


def format_interval(result: BootstrapResult | tuple[float, float, float], digits: int = 3) -> str:
    """Format a value with its interval as ``"0.912 (0.871, 0.950)"``.

    Args:
        result: a :class:`BootstrapResult` (shows ``estimate (low, high)``) or a
            ``(centre, low, high)`` tuple such as :func:`median_and_percentiles` returns.
        digits: decimal places, trailing zeros kept so columns line up.
    """
    if isinstance(result, BootstrapResult):
        centre, low, high = result.estimate, result.low, result.high
    else:
        centre, low, high = result
    return f"{centre:.{digits}f} ({low:.{digits}f}, {high:.{digits}f})"


def auroc_per_class(
    labels: ArrayLike,
    scores: ArrayLike,
    class_names: Sequence[str],
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """AUROC with bootstrap interval for every class of a multi-label problem, plus a macro mean.

    Args:
        labels: (N, K) 0 or 1, one column per class.
        scores: (N, K) real numbers, higher = more positive; NaN not allowed.
        class_names: K names, in column order.
        resamples, seed, confidence: as in :func:`bootstrap_ci` (plain resampling of images).

    Returns:
        DataFrame indexed by class name (index name ``"class"``) with K rows and a last row
        ``"macro mean"``; columns ``auroc``, ``ci_low``, ``ci_high`` (dimensionless, [0, 1]),
        ``positives``, ``negatives`` (item counts). All classes share the same resampled images,
        so a class's row equals ``bootstrap_ci`` on its column with the same seed, and the macro
        row's interval is that of the per-resample mean over classes (it keeps the correlation
        between classes). A class with one label value only has NaN AUROC and interval and is
        left out of the macro mean; a resample in which any included class has one label value
        only is skipped for the macro row. The macro row's counts are totals over all classes.

    Raises:
        ValueError: shapes not (N, K) or unequal, K != len(class_names), labels not in {0, 1},
            NaN scores, empty input, resamples < 1, confidence not in (0, 1).
    """
    label_array, score_array = _multilabel_labels_and_values(labels, scores, class_names, "scores")
    score_array = _as_float_scores(score_array)
    if label_array.shape[0] == 0:
        raise ValueError("labels and scores are empty")
    check_resamples(resamples)
    check_confidence(confidence)
    item_count, class_count = label_array.shape

    estimates = np.array([auroc(label_array[:, k], score_array[:, k]) for k in range(class_count)])
    resampled = np.concatenate(
        [
            np.stack(
                [_auroc_from_counts(counts, label_array[:, k], score_array[:, k]) for k in range(class_count)], axis=1
            )
            for counts in (
                _draw_counts(indices, item_count) for indices in _resample_indices(item_count, int(resamples), seed)
            )
        ]
    )

    rows = []
    for k, name in enumerate(class_names):
        column = resampled[:, k]
        defined = column[~np.isnan(column)]
        summary = _summarise(estimates[k], defined, int(resamples) - defined.size, confidence)
        positives = int(label_array[:, k].sum())
        rows.append(
            {
                "class": name,
                "auroc": summary.estimate,
                "ci_low": summary.low,
                "ci_high": summary.high,
                "positives": positives,
                "negatives": item_count - positives,
            }
        )

    included = ~np.isnan(estimates)
    if included.any():
        macro_per_resample = resampled[:, included].mean(axis=1)
        defined = macro_per_resample[~np.isnan(macro_per_resample)]
        macro = _summarise(estimates[included].mean(), defined, int(resamples) - defined.size, confidence)
    else:
        macro = _summarise(float("nan"), np.empty(0), int(resamples), confidence)
    total_positives = int(label_array.sum())
    rows.append(
        {
            "class": MACRO_MEAN_ROW,
            "auroc": macro.estimate,
            "ci_low": macro.low,
            "ci_high": macro.high,
            "positives": total_positives,
            "negatives": label_array.size - total_positives,
        }
    )
    return pd.DataFrame(rows).set_index("class")
