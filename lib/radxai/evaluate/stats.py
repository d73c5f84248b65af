"""Classifier statistics: ROC and AUROC, bootstrap confidence intervals, per-class tables.

Inputs are array-likes (converted with numpy); outputs are numpy arrays, floats, a dataclass or
pandas DataFrames. Nothing here needs a model or a deep-learning framework.

Conventions used throughout:
- labels are 0 (negative) or 1 (positive); scores are any real numbers where higher means
  "more positive" (probabilities, logits, ...). Scores may tie; ties count as half.
- AUROC is a dimensionless number in [0, 1]: the probability that a random positive item scores
  higher than a random negative one (the Mann-Whitney U statistic divided by positives x
  negatives).
- Confidence intervals are percentile bootstrap intervals, as in the works this library
  reproduces (1000 resamples, 95%, seeded with ``numpy.random.default_rng``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

__all__ = [
    "BootstrapResult",
    "accuracy_by_group",
    "auroc",
    "auroc_per_class",
    "bootstrap_ci",
    "bootstrap_mean_ci",
    "bootstrap_paired_difference_ci",
    "check_confidence",
    "check_resamples",
    "confusion_matrix",
    "format_interval",
    "median_and_percentiles",
    "precision_recall_f1",
    "roc_curve",
    "threshold_predictions",
]

Metric = Callable[[NDArray[np.int64], NDArray[np.float64]], float]

# Resample indices are drawn in blocks of at most this many entries (resamples x items), so a
# bootstrap over a large test set stays at tens of megabytes instead of resamples x N at once.
_INDEX_BLOCK_ENTRIES = 2_000_000

MACRO_MEAN_ROW = "macro mean"
MICRO_AVERAGE_ROW = "micro average"
MACRO_AVERAGE_ROW = "macro average"


# --------------------------------------------------------------------------------------------
# Input checks (every public function validates at its edge and names the problem)
# --------------------------------------------------------------------------------------------

def _preview(values: NDArray) -> list:
    """Up to five distinct offending values, for error messages."""
    return np.unique(values)[:5].tolist()


def _check_binary(values: NDArray, name: str) -> NDArray[np.int64]:
    """Return ``values`` as int64 after checking every entry is 0 or 1."""
    is_binary = np.isin(values, [0, 1])
    if not is_binary.all():
        raise ValueError(f"{name} must be 0 or 1; found {_preview(values[~is_binary])}")
    return values.astype(np.int64)


def _check_no_nan(values: NDArray[np.float64], name: str) -> None:
    nan_positions = np.flatnonzero(np.isnan(values.ravel()))
    if nan_positions.size:
        raise ValueError(f"{name} contain NaN at {nan_positions.size} position(s) "
                         f"(first at flat index {nan_positions[0]})")


def _as_float_scores(scores: ArrayLike, name: str = "scores") -> NDArray[np.float64]:
    try:
        score_array = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numbers: {error}") from error
    _check_no_nan(score_array, name)
    return score_array


def _binary_labels_and_scores(labels: ArrayLike,
                              scores: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Validate a binary problem: labels (N,) in {0, 1} and scores (N,) without NaN, N >= 1."""
    label_array = np.asarray(labels)
    score_array = _as_float_scores(scores)
    if label_array.ndim != 1 or score_array.ndim != 1:
        raise ValueError("labels and scores must be 1-D (N,); got shapes "
                         f"{label_array.shape} and {score_array.shape}")
    if label_array.shape != score_array.shape:
        raise ValueError(f"labels and scores differ in length: {label_array.size} labels, "
                         f"{score_array.size} scores")
    if label_array.size == 0:
        raise ValueError("labels and scores are empty")
    return _check_binary(label_array, "labels"), score_array


def _multilabel_labels_and_values(labels: ArrayLike, values: ArrayLike, class_names: Sequence[str],
                                  values_name: str) -> tuple[NDArray[np.int64], NDArray]:
    """Validate a multi-label problem: labels (N, K) in {0, 1}, values (N, K), K class names."""
    label_array = np.asarray(labels)
    value_array = np.asarray(values)
    if label_array.ndim != 2 or value_array.ndim != 2:
        raise ValueError(f"labels and {values_name} must be 2-D (N, K); got shapes "
                         f"{label_array.shape} and {value_array.shape}")
    if label_array.shape != value_array.shape:
        raise ValueError(f"labels and {values_name} differ in shape: {label_array.shape} vs "
                         f"{value_array.shape}")
    if len(class_names) != label_array.shape[1]:
        raise ValueError(f"class_names has {len(class_names)} names but labels have "
                         f"{label_array.shape[1]} classes (columns)")
    return _check_binary(label_array, "labels"), value_array


def check_confidence(confidence: float) -> None:
    """ValueError unless ``confidence`` lies strictly between 0 and 1."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1; got {confidence}")


def check_resamples(resamples: int) -> None:
    """ValueError unless ``resamples`` is a whole number >= 1 (``True`` is refused, not read as 1)."""
    if isinstance(resamples, bool) or int(resamples) != resamples or resamples < 1:
        raise ValueError(f"resamples must be a positive whole number; got {resamples}")


# --------------------------------------------------------------------------------------------
# ROC and AUROC
# --------------------------------------------------------------------------------------------

def _rate(counts: NDArray[np.int64], total: int) -> NDArray[np.float64]:
    """counts / total; all NaN when total is 0 (the rate is undefined, not zero)."""
    if total == 0:
        return np.full(counts.shape, np.nan)
    return counts / total


def roc_curve(labels: ArrayLike,
              scores: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                          NDArray[np.float64]]:
    """Receiver operating characteristic: one point per distinct score, plus the origin.

    Args:
        labels: (N,) 0 or 1.
        scores: (N,) real numbers, higher = more positive; ties allowed, NaN not.

    Returns:
        ``(false_positive_rate, true_positive_rate, thresholds)``, each (M + 1,) where M is the
        number of distinct scores. Point i classifies ``score >= thresholds[i]`` as positive;
        thresholds decrease from ``+inf`` (nothing positive, the point (0, 0)) to the lowest
        score (everything positive, the point (1, 1)). Rates are fractions in [0, 1]. Every
        distinct score is kept (no collinear points are dropped). If the labels hold one class
        only, the rate over the missing class is undefined and returned as all NaN.

    Raises:
        ValueError: labels not in {0, 1}, NaN scores, shapes not (N,) or unequal, empty input.
    """
    label_array, score_array = _binary_labels_and_scores(labels, scores)
    order = np.argsort(-score_array, kind="stable")
    sorted_scores = score_array[order]
    # The last position of each run of equal scores: the cut-off just below that score.
    run_ends = np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])
    true_positives = np.cumsum(label_array[order])[run_ends]
    false_positives = run_ends + 1 - true_positives
    positives = int(label_array.sum())
    negatives = label_array.size - positives
    false_positive_rate = _rate(np.r_[0, false_positives], negatives)
    true_positive_rate = _rate(np.r_[0, true_positives], positives)
    thresholds = np.r_[np.inf, sorted_scores[run_ends]]
    return false_positive_rate, true_positive_rate, thresholds


def auroc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve by the Mann-Whitney rank statistic (ties count as half).

    Args:
        labels: (N,) 0 or 1.
        scores: (N,) real numbers, higher = more positive; ties allowed, NaN not.

    Returns:
        AUROC in [0, 1] (dimensionless): 1 when every positive outscores every negative, 0 when
        the order is inverted, 0.5 when all scores tie. NaN when the labels hold one class only:
        the statistic compares positives with negatives, so with no pairs it is undefined. NaN
        rather than an exception because single-class subsets (a rare finding, a bootstrap
        resample) are an expected outcome that tables should show, not a caller error.

    Raises:
        ValueError: labels not in {0, 1}, NaN scores, shapes not (N,) or unequal, empty input.
    """
    label_array, score_array = _binary_labels_and_scores(labels, scores)
    positives = int(label_array.sum())
    negatives = label_array.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    # Average ranks give tied pairs half a win each.
    ranks = rankdata(score_array, method="average")
    positive_rank_sum = ranks[label_array == 1].sum()
    wins = positive_rank_sum - positives * (positives + 1) / 2
    return float(wins / (positives * negatives))


def _auroc_from_counts(draw_counts: NDArray[np.int64], labels: NDArray[np.int64],
                       scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """AUROC of many resamples at once: draw_counts (B, N) -> (B,), NaN where single-class.

    ``draw_counts[b, i]`` is how often item i appears in resample b. The Mann-Whitney numerator
    with multiplicities is, over positive draws, the negative draws scored lower plus half those
    scored equal. Sorting the N items once by score makes that a few cumulative sums per
    resample, O(B x N), instead of ranking every resample separately.
    """
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    is_positive = labels[order].astype(bool)
    counts = draw_counts[:, order].astype(np.float64)
    positive_draws = counts * is_positive
    negative_draws = counts * ~is_positive

    # Each sorted position belongs to a run of equal scores spanning [run_start, run_end).
    starts_run = np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]
    run_index = np.cumsum(starts_run) - 1
    run_starts = np.flatnonzero(starts_run)
    run_ends = np.r_[run_starts[1:], scores.size]
    run_start = run_starts[run_index]
    run_end = run_ends[run_index]

    negatives_before = np.zeros((counts.shape[0], scores.size + 1))
    np.cumsum(negative_draws, axis=1, out=negatives_before[:, 1:])
    negatives_below = negatives_before[:, run_start]
    negatives_tied = negatives_before[:, run_end] - negatives_below
    wins = (positive_draws * (negatives_below + 0.5 * negatives_tied)).sum(axis=1)

    pairs = positive_draws.sum(axis=1) * negative_draws.sum(axis=1)
    result = np.full(counts.shape[0], np.nan)
    np.divide(wins, pairs, out=result, where=pairs > 0)
    return result


# --------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------

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


def _resample_indices(item_count: int, resamples: int, seed: int,
                      strata: NDArray[np.int64] | None = None) -> Iterator[NDArray[np.int64]]:
    """Yield blocks (B_block, N) of item indices, B_block summing to ``resamples``.

    Plain resampling draws N items with replacement from all items. With ``strata`` (N,)
    each stratum (label value) is drawn with replacement to its own size, so every resample
    keeps the original class counts. Same arguments -> same indices.
    """
    generator = np.random.default_rng(seed)
    if strata is None:
        groups = [np.arange(item_count)]
    else:
        groups = [members for value in np.unique(strata)
                  if (members := np.flatnonzero(strata == value)).size]
    block = max(1, _INDEX_BLOCK_ENTRIES // item_count)
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        yield np.concatenate(
            [members[generator.integers(0, members.size, size=(size, members.size))]
             for members in groups], axis=1)


def _draw_counts(indices: NDArray[np.int64], item_count: int) -> NDArray[np.int64]:
    """How often each item appears in each resample: indices (B, N) -> counts (B, N)."""
    row_offsets = item_count * np.arange(indices.shape[0])[:, None]
    flat_counts = np.bincount((indices + row_offsets).ravel(),
                              minlength=indices.shape[0] * item_count)
    return flat_counts.reshape(indices.shape[0], item_count)


def median_and_percentiles(values: ArrayLike, low: float = 2.5,
                           high: float = 97.5) -> tuple[float, float, float]:
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
        raise ValueError(f"percentiles must satisfy 0 <= low <= high <= 100; got low={low}, "
                         f"high={high}")
    median, low_value, high_value = np.percentile(value_array, [50.0, low, high])
    return float(median), float(low_value), float(high_value)


def _summarise(estimate: float, resampled: NDArray[np.float64], resamples_skipped: int,
               confidence: float) -> BootstrapResult:
    """Percentile interval over the resampled values that were computed."""
    tail = 100.0 * (1.0 - confidence) / 2.0
    if resampled.size:
        median, low, high = median_and_percentiles(resampled, tail, 100.0 - tail)
    else:
        median = low = high = float("nan")
    return BootstrapResult(estimate=float(estimate), low=low, high=high, median=median,
                           confidence=confidence, resamples_used=int(resampled.size),
                           resamples_skipped=resamples_skipped)


def bootstrap_ci(labels: ArrayLike, scores: ArrayLike, metric: Metric = auroc,
                 resamples: int = 1000, confidence: float = 0.95, seed: int = 0, *,
                 stratified: bool = False) -> BootstrapResult:
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
            values = np.array([metric(resampled_labels[row], score_array[indices[row]])
                               if has_both_classes[row] else np.nan
                               for row in range(indices.shape[0])], dtype=np.float64)
        blocks.append(values[has_both_classes])
    resampled = np.concatenate(blocks)
    return _summarise(metric(label_array, score_array), resampled, int(resamples) - resampled.size,
                      confidence)


def bootstrap_mean_ci(values: ArrayLike, resamples: int = 1000, confidence: float = 0.95,
                      seed: int = 0) -> BootstrapResult:
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
        raise ValueError(f"{int(np.isnan(value_array).sum())} of {value_array.size} values are "
                         "NaN; drop undefined items before bootstrapping their mean")
    if value_array.size == 0:
        return _summarise(float("nan"), np.empty(0), int(resamples), confidence)
    means = np.concatenate([value_array[indices].mean(axis=1)
                            for indices in _resample_indices(value_array.size, int(resamples), seed)])
    return _summarise(float(value_array.mean()), means, 0, confidence)


def bootstrap_paired_difference_ci(first: ArrayLike, second: ArrayLike, resamples: int = 1000,
                                   confidence: float = 0.95, seed: int = 0) -> BootstrapResult:
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
        raise ValueError("first and second must be 1-D (N,); got shapes "
                         f"{first_array.shape} and {second_array.shape}")
    if first_array.size != second_array.size:
        raise ValueError(f"first and second must pair item for item but differ in length: "
                         f"{first_array.size} vs {second_array.size}")
    undefined_pairs = int((np.isnan(first_array) | np.isnan(second_array)).sum())
    if undefined_pairs:
        raise ValueError(f"{undefined_pairs} of {first_array.size} pairs hold NaN; drop "
                         "undefined pairs before bootstrapping their difference")
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


def auroc_per_class(labels: ArrayLike, scores: ArrayLike, class_names: Sequence[str],
                    resamples: int = 1000, seed: int = 0,
                    confidence: float = 0.95) -> pd.DataFrame:
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
    resampled = np.concatenate([
        np.stack([_auroc_from_counts(counts, label_array[:, k], score_array[:, k])
                  for k in range(class_count)], axis=1)
        for counts in (_draw_counts(indices, item_count)
                       for indices in _resample_indices(item_count, int(resamples), seed))])

    rows = []
    for k, name in enumerate(class_names):
        column = resampled[:, k]
        defined = column[~np.isnan(column)]
        summary = _summarise(estimates[k], defined, int(resamples) - defined.size, confidence)
        positives = int(label_array[:, k].sum())
        rows.append({"class": name, "auroc": summary.estimate, "ci_low": summary.low,
                     "ci_high": summary.high, "positives": positives,
                     "negatives": item_count - positives})

    included = ~np.isnan(estimates)
    if included.any():
        macro_per_resample = resampled[:, included].mean(axis=1)
        defined = macro_per_resample[~np.isnan(macro_per_resample)]
        macro = _summarise(estimates[included].mean(), defined, int(resamples) - defined.size,
                           confidence)
    else:
        macro = _summarise(float("nan"), np.empty(0), int(resamples), confidence)
    total_positives = int(label_array.sum())
    rows.append({"class": MACRO_MEAN_ROW, "auroc": macro.estimate, "ci_low": macro.low,
                 "ci_high": macro.high, "positives": total_positives,
                 "negatives": label_array.size - total_positives})
    return pd.DataFrame(rows).set_index("class")


# --------------------------------------------------------------------------------------------
# Thresholded predictions
# --------------------------------------------------------------------------------------------

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
        raise ValueError(f"{name} must hold class indices 0..{num_classes - 1}; got dtype "
                         f"{array.dtype}")
    valid = (array == np.round(array)) & (array >= 0) & (array < num_classes)
    if not valid.all():
        raise ValueError(f"{name} must hold class indices 0..{num_classes - 1}; found "
                         f"{_preview(array[~valid])}")
    return array.astype(np.int64)


def confusion_matrix(labels: ArrayLike, predictions: ArrayLike,
                     num_classes: int = 2) -> NDArray[np.int64]:
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
        raise ValueError(f"labels and predictions differ in length: {true_classes.size} vs "
                         f"{predicted_classes.size}")
    pair_counts = np.bincount(true_classes * num_classes + predicted_classes,
                              minlength=num_classes * num_classes)
    return pair_counts.reshape(num_classes, num_classes)


def _ratio_or_zero(numerator: NDArray[np.float64] | float,
                   denominator: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """numerator / denominator, 0 where the denominator is 0."""
    numerator_array = np.asarray(numerator, dtype=np.float64)
    denominator_array = np.asarray(denominator, dtype=np.float64)
    result = np.zeros(np.broadcast(numerator_array, denominator_array).shape)
    np.divide(numerator_array, denominator_array, out=result, where=denominator_array > 0)
    return result


def precision_recall_f1(labels: ArrayLike, predictions: ArrayLike,
                        class_names: Sequence[str]) -> pd.DataFrame:
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
    label_array, prediction_values = _multilabel_labels_and_values(labels, predictions,
                                                                   class_names, "predictions")
    prediction_array = _check_binary(prediction_values, "predictions")
    true_positives = (label_array & prediction_array).sum(axis=0)
    false_positives = ((1 - label_array) & prediction_array).sum(axis=0)
    false_negatives = (label_array & (1 - prediction_array)).sum(axis=0)

    def scores_of(tp: NDArray, fp: NDArray, fn: NDArray) -> dict[str, NDArray]:
        return {"precision": _ratio_or_zero(tp, tp + fp), "recall": _ratio_or_zero(tp, tp + fn),
                "f1": _ratio_or_zero(2 * tp, 2 * tp + fp + fn), "support": tp + fn}

    per_class = pd.DataFrame(scores_of(true_positives, false_positives, false_negatives),
                             index=pd.Index(list(class_names), name="class"))
    micro = scores_of(true_positives.sum(), false_positives.sum(), false_negatives.sum())
    table = pd.concat([
        per_class,
        pd.DataFrame({key: [value.item()] for key, value in micro.items()},
                     index=pd.Index([MICRO_AVERAGE_ROW], name="class")),
        pd.DataFrame({"precision": [per_class["precision"].mean()],
                      "recall": [per_class["recall"].mean()], "f1": [per_class["f1"].mean()],
                      "support": [int(per_class["support"].sum())]},
                     index=pd.Index([MACRO_AVERAGE_ROW], name="class")),
    ])
    return table.astype({"support": np.int64})


def accuracy_by_group(labels: ArrayLike, predictions: ArrayLike, groups: ArrayLike,
                      group_order: Sequence[Hashable] | None = None) -> pd.DataFrame:
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
    arrays = {"labels": np.asarray(labels), "predictions": np.asarray(predictions),
              "groups": np.asarray(groups)}
    for name, array in arrays.items():
        if array.ndim != 1:
            raise ValueError(f"{name} must be 1-D (N,); got shape {array.shape}")
    lengths = {name: array.size for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"labels, predictions and groups differ in length: {lengths}")
    frame = pd.DataFrame({"group": arrays["groups"],
                          "correct": arrays["labels"] == arrays["predictions"]})
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


def wilson_interval(successes: ArrayLike, trials: ArrayLike,
                    confidence: float = 0.95) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
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
