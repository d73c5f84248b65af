"""Classifier statistics: ROC and AUROC, bootstrap confidence intervals, per-class tables.

Modules: `roc`, `bootstrap`, `classification` (thresholded predictions) and `checks`; the
public names are importable from here.

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

from radxai.evaluate.stats.bootstrap import (
    MACRO_MEAN_ROW,
    BootstrapResult,
    auroc_per_class,
    bootstrap_ci,
    bootstrap_mean_ci,
    bootstrap_paired_difference_ci,
    format_interval,
    median_and_percentiles,
)
from radxai.evaluate.stats.checks import check_confidence, check_resamples
from radxai.evaluate.stats.classification import (
    MACRO_AVERAGE_ROW,
    MICRO_AVERAGE_ROW,
    accuracy_by_group,
    confusion_matrix,
    precision_recall_f1,
    threshold_predictions,
    wilson_interval,
)
from radxai.evaluate.stats.roc import auroc, roc_curve

__all__ = [
    "BootstrapResult",
    "MACRO_AVERAGE_ROW",
    "MACRO_MEAN_ROW",
    "MICRO_AVERAGE_ROW",
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
    "wilson_interval",
]
