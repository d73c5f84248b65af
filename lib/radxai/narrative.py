"""Sentences built from computed numbers, for notebooks to show instead of hand-written text.

A conclusion typed into a notebook stays the same when a new profile changes the numbers; a
sentence built here from the numbers cannot contradict them. Every sentence names n.

The comparisons return a :class:`Finding`: the sentence and its direction, one of ``DIRECTIONS``,
so code can check whether a published direction is reproduced (``finding.reproduces("above")``).
The verdicts:

- two separate estimates (:func:`compare_estimates`): "above" or "below" when their confidence
  intervals do not overlap, else "no difference" (shown). Overlapping intervals do not prove
  equality; for scores of the same items :func:`compare_paired` is the sharper test.
- paired scores (:func:`compare_paired`): whether the interval of the mean paired difference
  excludes 0.
- an estimate against a fixed value such as chance (:func:`compare_with_reference`): whether its
  interval excludes that value.

An interval that touches the other interval, 0 or the reference counts as including it. An
interval is *undefined* when n < 2 (a bootstrap of one item has zero width and says nothing) or
when the value or a bound is NaN; no verdict is drawn from it and the direction is "undefined".
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from radxai.evaluate.stats import bootstrap_paired_difference_ci

__all__ = [
    "DIRECTIONS",
    "Estimate",
    "Finding",
    "compare_estimates",
    "compare_paired",
    "compare_with_reference",
    "describe_estimate",
]

DIRECTIONS = ("above", "below", "no difference", "undefined")
# The directions a published claim can take; "undefined" is an outcome, never a claim.
_CLAIMED_DIRECTIONS = DIRECTIONS[:3]
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


class _IntervalResult(Protocol):
    """What :meth:`Estimate.from_bootstrap` reads: a ``stats.BootstrapResult`` or alike."""

    estimate: float
    low: float
    high: float
    confidence: float


@dataclass(frozen=True)
class Finding:
    """A sentence about computed numbers and the direction it states.

    Attributes:
        sentence: the text, naming n.
        direction: one of ``DIRECTIONS``: "above" or "below" (the first item, or the estimate,
            lies above or below the second, or the reference), "no difference" (none shown at
            this n) or "undefined" (no interval, so no verdict).
    """

    sentence: str
    direction: str

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}; got {self.direction!r}")

    def __str__(self) -> str:
        return self.sentence

    def _repr_markdown_(self) -> str:
        # Names such as "mass_accuracy" or "*" would otherwise turn into emphasis in Jupyter.
        return _MARKDOWN_SPECIAL.sub(r"\\\1", self.sentence)

    def reproduces(self, published_direction: str) -> bool:
        """Whether this finding states the published direction ("above", "below" or
        "no difference"); an undefined finding reproduces nothing."""
        if published_direction not in _CLAIMED_DIRECTIONS:
            raise ValueError(f"published_direction must be one of {_CLAIMED_DIRECTIONS}; got {published_direction!r}")
        return self.direction == published_direction


@dataclass(frozen=True)
class Estimate:
    """A number with its confidence interval and the count of items behind it.

    Attributes:
        value: the estimate, in the metric's units; NaN if undefined.
        ci_low, ci_high: the interval's bounds, same units; NaN if undefined. A percentile
            bootstrap interval need not contain ``value``, so that is not required.
        n: items behind the estimate (studies, images, pairs), a whole number >= 0.
        confidence: the interval's nominal coverage, in (0, 1).

    Raises:
        ValueError: ci_low > ci_high, n not a whole number >= 0, confidence not in (0, 1).
    """

    value: float
    ci_low: float
    ci_high: float
    n: int
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, numbers.Integral) or self.n < 0:
            raise ValueError(f"n must be a whole number >= 0; got {self.n!r}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must lie strictly between 0 and 1; got {self.confidence}")
        if self.ci_low > self.ci_high:
            raise ValueError(f"ci_low ({self.ci_low}) exceeds ci_high ({self.ci_high})")

    @property
    def interval_defined(self) -> bool:
        """True when a verdict can rest on the interval: n >= 2 and no NaN."""
        return self.n >= 2 and not any(math.isnan(number) for number in (self.value, self.ci_low, self.ci_high))

    @classmethod
    def from_bootstrap(cls, result: _IntervalResult, *, n: int) -> Estimate:
        """From a ``stats.BootstrapResult`` (estimate, low, high, confidence) over ``n`` items."""
        return cls(result.estimate, result.low, result.high, n, result.confidence)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, metric: str | None = None, confidence: float = 0.95) -> Estimate:
        """From a table row: a mapping or a pandas Series.

        Args:
            row: with ``metric=None``, a row of the measurements table (``value``, ``ci_low``,
                ``ci_high``, ``n``); with a metric M, a row of
                ``localisation_tables.summarise_means`` (``M``, ``M_ci_low``, ``M_ci_high``,
                ``M_count``).
            metric: which of the two layouts, see ``row``.
            confidence: the coverage the table's intervals were computed at.

        Raises:
            ValueError: a column missing, n missing or not a whole number.
        """
        columns = (
            ("value", "ci_low", "ci_high", "n")
            if metric is None
            else (metric, f"{metric}_ci_low", f"{metric}_ci_high", f"{metric}_count")
        )
        missing = [column for column in columns if column not in row]
        if missing:
            raise ValueError(f"row has no column(s) {missing}")
        value, ci_low, ci_high, count = (row[column] for column in columns)
        # Tables hold counts as floats (a column with a gap) or nullable integers (pd.NA).
        try:
            is_whole = float(count).is_integer()
        except (TypeError, ValueError):
            is_whole = False
        if not is_whole:
            raise ValueError(f"row's {columns[3]} must be a whole number; got {count!r}")
        return cls(float(value), float(ci_low), float(ci_high), int(count), confidence)


def describe_estimate(
    name: str, value: float, ci_low: float, ci_high: float, n: int, *, digits: int = 3, confidence: float = 0.95
) -> str:
    """``"HiResCAM OrganIoU 0.330 (95% CI 0.250 to 0.410, n = 30)"``.

    Args:
        name: what was measured, e.g. "HiResCAM OrganIoU".
        value, ci_low, ci_high, n, confidence: as in :class:`Estimate`.
        digits: decimal places of every number.

    Returns:
        The description; "95% CI undefined" for an undefined interval (n < 2 or NaN bounds)
        and "undefined" for a NaN value.

    Raises:
        ValueError: as :class:`Estimate`, or digits not a whole number >= 0.
    """
    _check_digits(digits)
    return f"{name} {_estimate_text(Estimate(value, ci_low, ci_high, n, confidence), digits)}"


def compare_estimates(
    first_name: str,
    first: Estimate,
    second_name: str,
    second: Estimate,
    *,
    metric: str,
    higher_is_better: bool = True,
    digits: int = 3,
) -> Finding:
    """Compare two separately estimated numbers by the overlap of their intervals.

    Args:
        first_name, second_name: what the estimates are of, e.g. "HiResCAM", "Grad-CAM".
        first, second: the estimates, at the same confidence.
        metric: the metric's name for the sentence, e.g. "OrganIoU".
        higher_is_better: which side a shown difference favours (False for, e.g., the area
            under a deletion curve); the direction itself is about values, not merit.
        digits: decimal places of every number.

    Returns:
        A :class:`Finding`: "above"/"below" when the intervals do not overlap, "no difference"
        when they do, "undefined" when either interval is undefined.

    Raises:
        ValueError: the estimates have different confidence levels, bad digits.
    """
    _check_digits(digits)
    if first.confidence != second.confidence:
        raise ValueError(f"cannot compare a {_percent(first.confidence)} with a {_percent(second.confidence)} interval")
    level = _percent(first.confidence)
    numbers_text = f"{first_name} {_estimate_text(first, digits)} vs {second_name} {_estimate_text(second, digits)}"
    undefined = [
        name for name, estimate in ((first_name, first), (second_name, second)) if not estimate.interval_defined
    ]
    if undefined:
        return Finding(
            f"No comparison of {first_name} and {second_name} in {metric} can be "
            f"drawn: {numbers_text}; the {level} interval of "
            f"{' and '.join(undefined)} is undefined.",
            "undefined",
        )
    if first.ci_low > second.ci_high or first.ci_high < second.ci_low:
        direction = "above" if first.ci_low > second.ci_high else "below"
        first_is_better = (direction == "above") == higher_is_better
        better = first_name if first_is_better else second_name
        return Finding(
            f"{first_name} {direction} {second_name} in {metric}: {numbers_text}; the "
            f"{level} intervals do not overlap, so {better} does better "
            f"({'higher' if higher_is_better else 'lower'} is better).",
            direction,
        )
    counts = f"n = {first.n}" if first.n == second.n else f"n = {first.n} and {second.n}"
    return Finding(
        f"No difference between {first_name} and {second_name} in {metric} shown at "
        f"{counts}: {numbers_text}; the {level} intervals overlap.",
        "no difference",
    )


def compare_paired(
    first_name: str,
    first_values: ArrayLike,
    second_name: str,
    second_values: ArrayLike,
    *,
    metric: str,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    digits: int = 3,
) -> Finding:
    """Compare two scores of the same items by the interval of their mean paired difference.

    Args:
        first_name, second_name: what the scores are of, e.g. "HiResCAM", "Grad-CAM".
        first_values, second_values: (N,) scores of the same N items in the same order; NaN
            not allowed (drop undefined pairs first).
        metric: the metric's name for the sentence.
        resamples, confidence, seed: of
            :func:`radxai.evaluate.stats.bootstrap_paired_difference_ci`.
        digits: decimal places of every number.

    Returns:
        A :class:`Finding`: "above"/"below" when the interval of the mean of
        ``first - second`` lies above/below 0, "no difference" when it includes 0, "undefined"
        for fewer than 2 pairs. The sentence gives the difference's size and interval.

    Raises:
        ValueError: as ``bootstrap_paired_difference_ci`` (unequal lengths, NaN, ...), bad digits.
    """
    _check_digits(digits)
    result = bootstrap_paired_difference_ci(
        first_values, second_values, resamples=resamples, confidence=confidence, seed=seed
    )
    difference = Estimate.from_bootstrap(result, n=np.asarray(first_values).size)
    level = _percent(confidence)
    pairs = f"n = {difference.n} paired"
    if not difference.interval_defined:
        return Finding(
            f"No comparison of {first_name} and {second_name} in {metric} can be "
            f"drawn at {pairs}: the {level} interval of the difference is undefined.",
            "undefined",
        )
    if difference.ci_low > 0 or difference.ci_high < 0:
        direction = "above" if difference.ci_low > 0 else "below"
        # Sizes are stated as positive amounts: "below by 0.170", not "below by -0.170".
        sign = 1.0 if direction == "above" else -1.0
        low, high = sorted((sign * difference.ci_low, sign * difference.ci_high))
        return Finding(
            f"{first_name} {direction} {second_name} in {metric} by "
            f"{_number(sign * difference.value, digits)} ({level} CI "
            f"{_number(low, digits)} to {_number(high, digits)}, {pairs}).",
            direction,
        )
    return Finding(
        f"No difference between {first_name} and {second_name} in {metric} shown at "
        f"{pairs}: mean difference {_number(difference.value, digits)} ({level} CI of "
        f"the difference {_number(difference.ci_low, digits)} to "
        f"{_number(difference.ci_high, digits)} includes 0).",
        "no difference",
    )


def compare_with_reference(
    name: str, estimate: Estimate, reference_value: float, reference_name: str, *, metric: str, digits: int = 3
) -> Finding:
    """Compare an estimate with a fixed value, e.g. chance (0.5) or a published number.

    Args:
        name: what the estimate is of, e.g. "HiResCAM".
        estimate: the estimate with its interval.
        reference_value: the fixed value, in the metric's units; finite.
        reference_name: what the value is, e.g. "chance".
        metric: the metric's name for the sentence.
        digits: decimal places of the estimate's numbers (the reference is shown as given,
            to six significant digits).

    Returns:
        A :class:`Finding`: "above"/"below" when the interval lies above/below the reference,
        "no difference" when it includes it, "undefined" when the interval is undefined.

    Raises:
        ValueError: a reference value that is not finite, bad digits.
    """
    _check_digits(digits)
    if not math.isfinite(reference_value):
        raise ValueError(f"reference_value must be a finite number; got {reference_value}")
    reference = f"{reference_name} ({reference_value:.{digits}g})"
    level = _percent(estimate.confidence)
    numbers_text = f"{name} {_estimate_text(estimate, digits)}"
    if not estimate.interval_defined:
        return Finding(
            f"No comparison of {name} with {reference} in {metric} can be drawn: "
            f"{numbers_text}; the {level} interval is undefined.",
            "undefined",
        )
    if estimate.ci_low > reference_value or estimate.ci_high < reference_value:
        direction = "above" if estimate.ci_low > reference_value else "below"
        return Finding(
            f"{name} {direction} {reference} in {metric}: {numbers_text}; the {level} interval excludes it.", direction
        )
    return Finding(
        f"{name} not distinguishable from {reference} in {metric} at "
        f"n = {estimate.n}: {numbers_text}; the {level} interval includes it.",
        "no difference",
    )


def _estimate_text(estimate: Estimate, digits: int) -> str:
    """``"0.330 (95% CI 0.250 to 0.410, n = 30)"``, with "undefined" where there is nothing."""
    if math.isnan(estimate.value):
        return f"undefined (n = {estimate.n})"
    level = _percent(estimate.confidence)
    if not estimate.interval_defined:
        return f"{_number(estimate.value, digits)} ({level} CI undefined, n = {estimate.n})"
    return (
        f"{_number(estimate.value, digits)} ({level} CI {_number(estimate.ci_low, digits)} "
        f"to {_number(estimate.ci_high, digits)}, n = {estimate.n})"
    )


def _number(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    # A tiny negative number rounds to "-0.000", which reads as a sign that is not there.
    return text.lstrip("-") if float(text) == 0.0 else text


def _percent(confidence: float) -> str:
    return f"{100 * confidence:g}%"


def _check_digits(digits: int) -> None:
    if isinstance(digits, bool) or not isinstance(digits, numbers.Integral) or digits < 0:
        raise ValueError(f"digits must be a whole number >= 0; got {digits!r}")
