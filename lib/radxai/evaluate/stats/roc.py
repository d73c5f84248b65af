"""ROC curves and AUROC (the Mann-Whitney U statistic over positives x negatives, ties count half)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

from radxai.evaluate.stats.checks import (
    _binary_labels_and_scores,
)


def _rate(counts: NDArray[np.int64], total: int) -> NDArray[np.float64]:
    """counts / total; all NaN when total is 0 (the rate is undefined, not zero)."""
    if total == 0:
        return np.full(counts.shape, np.nan)
    return counts / total


def roc_curve(
    labels: ArrayLike, scores: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
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


def _auroc_from_counts(
    draw_counts: NDArray[np.int64], labels: NDArray[np.int64], scores: NDArray[np.float64]
) -> NDArray[np.float64]:
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
