"""Tests of radxai.narrative: sentences and directions built from computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radxai import narrative
from radxai.evaluate import stats
from radxai.narrative import Estimate, Finding

MIRRORED = {"above": "below", "below": "above", "no difference": "no difference", "undefined": "undefined"}

HIRESCAM = Estimate(0.33, 0.25, 0.41, 30)
GRAD_CAM_LOWER = Estimate(0.15, 0.10, 0.20, 30)
GRAD_CAM_CLOSE = Estimate(0.30, 0.22, 0.38, 28)


# ----------------------------------------------------------------------------- describe


def test_describe_estimate() -> None:
    assert (
        narrative.describe_estimate("HiResCAM OrganIoU", 0.33, 0.25, 0.41, 30)
        == "HiResCAM OrganIoU 0.330 (95% CI 0.250 to 0.410, n = 30)"
    )
    assert (
        narrative.describe_estimate("AUROC", 0.91234, 0.87, 0.95, 200, digits=2, confidence=0.9)
        == "AUROC 0.91 (90% CI 0.87 to 0.95, n = 200)"
    )


def test_describe_estimate_says_what_is_undefined() -> None:
    assert narrative.describe_estimate("Dice", 0.4, 0.4, 0.4, 1) == "Dice 0.400 (95% CI undefined, n = 1)"
    assert narrative.describe_estimate("Dice", 0.4, math.nan, math.nan, 12) == "Dice 0.400 (95% CI undefined, n = 12)"
    assert narrative.describe_estimate("Dice", math.nan, math.nan, math.nan, 0) == "Dice undefined (n = 0)"


def test_a_rounded_zero_has_no_minus_sign() -> None:
    assert narrative.describe_estimate("gap", -0.0001, -0.002, 0.001, 9) == "gap 0.000 (95% CI -0.002 to 0.001, n = 9)"


@pytest.mark.parametrize(
    ("arguments", "options", "message"),
    [
        ((0.3, 0.4, 0.2, 10), {}, r"ci_low \(0.4\) exceeds ci_high \(0.2\)"),
        ((0.3, 0.2, 0.4, -1), {}, "n must be a whole number >= 0; got -1"),
        ((0.3, 0.2, 0.4, 2.0), {}, "n must be a whole number >= 0; got 2.0"),
        ((0.3, 0.2, 0.4, 10), {"confidence": 95}, "confidence must lie strictly between 0 and 1"),
        ((0.3, 0.2, 0.4, 10), {"digits": -1}, "digits must be a whole number >= 0; got -1"),
    ],
)
def test_describe_estimate_names_the_problem(arguments, options, message) -> None:
    with pytest.raises(ValueError, match=message):
        narrative.describe_estimate("Dice", *arguments, **options)


# ----------------------------------------------------------------------------- estimates


def test_estimate_from_a_bootstrap_result_keeps_its_confidence() -> None:
    result = stats.bootstrap_mean_ci([0.2, 0.4, 0.5, 0.9], resamples=100, confidence=0.9)
    estimate = Estimate.from_bootstrap(result, n=4)
    assert estimate == Estimate(result.estimate, result.low, result.high, 4, 0.9)


def test_estimate_from_a_measurements_row_and_a_summary_row() -> None:
    measurement = pd.Series({"metric": "Dice", "value": 0.3, "ci_low": 0.2, "ci_high": 0.4, "n": 12.0})
    assert Estimate.from_row(measurement) == Estimate(0.3, 0.2, 0.4, 12)
    summary = {"dice": 0.3, "dice_ci_low": 0.2, "dice_ci_high": 0.4, "dice_count": 12}
    assert Estimate.from_row(summary, metric="dice", confidence=0.9) == Estimate(0.3, 0.2, 0.4, 12, 0.9)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"value": 0.3, "ci_low": 0.2}, r"row has no column\(s\) \['ci_high', 'n'\]"),
        ({"value": 0.3, "ci_low": 0.2, "ci_high": 0.4, "n": pd.NA}, "n must be a whole number"),
        ({"value": 0.3, "ci_low": 0.2, "ci_high": 0.4, "n": 2.5}, "n must be a whole number"),
    ],
)
def test_estimate_from_row_names_the_problem(row, message) -> None:
    with pytest.raises(ValueError, match=message):
        Estimate.from_row(row)


# ----------------------------------------------------------------------------- two estimates


def test_intervals_that_do_not_overlap_give_above_and_below() -> None:
    finding = narrative.compare_estimates("HiResCAM", HIRESCAM, "Grad-CAM", GRAD_CAM_LOWER, metric="OrganIoU")
    assert finding.direction == "above"
    assert finding.sentence == (
        "HiResCAM above Grad-CAM in OrganIoU: HiResCAM 0.330 (95% CI 0.250 to 0.410, n = 30) vs "
        "Grad-CAM 0.150 (95% CI 0.100 to 0.200, n = 30); the 95% intervals do not overlap, so "
        "HiResCAM does better (higher is better)."
    )
    reverse = narrative.compare_estimates("Grad-CAM", GRAD_CAM_LOWER, "HiResCAM", HIRESCAM, metric="OrganIoU")
    assert reverse.direction == "below"
    assert reverse.sentence.startswith("Grad-CAM below HiResCAM in OrganIoU")
    assert "so HiResCAM does better" in reverse.sentence


def test_lower_is_better_names_the_other_side_as_better() -> None:
    finding = narrative.compare_estimates(
        "HiResCAM", HIRESCAM, "Grad-CAM", GRAD_CAM_LOWER, metric="deletion AUC", higher_is_better=False
    )
    assert finding.direction == "above"
    assert finding.sentence.endswith("so Grad-CAM does better (lower is better).")


def test_overlapping_intervals_show_no_difference_and_name_both_counts() -> None:
    finding = narrative.compare_estimates("HiResCAM", HIRESCAM, "Grad-CAM", GRAD_CAM_CLOSE, metric="OrganIoU", digits=2)
    assert finding.direction == "no difference"
    assert finding.sentence == (
        "No difference between HiResCAM and Grad-CAM in OrganIoU shown at n = 30 and 28: "
        "HiResCAM 0.33 (95% CI 0.25 to 0.41, n = 30) vs Grad-CAM 0.30 (95% CI 0.22 to 0.38, "
        "n = 28); the 95% intervals overlap."
    )


def test_touching_intervals_count_as_overlapping() -> None:
    finding = narrative.compare_estimates(
        "a", Estimate(0.5, 0.4, 0.6, 10), "b", Estimate(0.3, 0.2, 0.4, 10), metric="Dice"
    )
    assert finding.direction == "no difference"
    assert "shown at n = 10:" in finding.sentence


@pytest.mark.parametrize(
    "undefined",
    [Estimate(0.2, 0.2, 0.2, 1), Estimate(0.2, math.nan, math.nan, 10), Estimate(math.nan, math.nan, math.nan, 0)],
)
def test_an_undefined_interval_draws_no_comparison(undefined) -> None:
    finding = narrative.compare_estimates("HiResCAM", HIRESCAM, "Grad-CAM", undefined, metric="OrganIoU")
    assert finding.direction == "undefined"
    assert finding.sentence.startswith("No comparison of HiResCAM and Grad-CAM in OrganIoU can be drawn")
    assert finding.sentence.endswith("the 95% interval of Grad-CAM is undefined.")
    assert f"n = {undefined.n})" in finding.sentence
    assert not finding.reproduces("above") and not finding.reproduces("no difference")


def test_estimates_at_different_confidence_are_not_compared() -> None:
    with pytest.raises(ValueError, match="cannot compare a 95% with a 90% interval"):
        narrative.compare_estimates("a", HIRESCAM, "b", Estimate(0.1, 0.0, 0.2, 9, 0.9), metric="Dice")


estimates = st.tuples(st.floats(-10, 10), st.floats(0, 5), st.floats(0, 5), st.integers(0, 50)).map(
    lambda drawn: Estimate(drawn[0], drawn[0] - drawn[1], drawn[0] + drawn[2], drawn[3])
)


@settings(max_examples=200, deadline=None)
@given(estimates, estimates, st.booleans())
def test_swapping_the_estimates_mirrors_the_direction(first, second, higher_is_better) -> None:
    forward = narrative.compare_estimates("A", first, "B", second, metric="m", higher_is_better=higher_is_better)
    backward = narrative.compare_estimates("B", second, "A", first, metric="m", higher_is_better=higher_is_better)
    assert backward.direction == MIRRORED[forward.direction]
    if forward.direction in ("above", "below"):
        # Who does better does not depend on the order of the arguments.
        assert forward.sentence.split("so ")[-1] == backward.sentence.split("so ")[-1]


# ----------------------------------------------------------------------------- paired


def test_paired_scores_above() -> None:
    generator = np.random.default_rng(0)
    grad_cam = generator.random(30)
    hirescam = grad_cam + 0.17 + 0.03 * generator.normal(size=30)
    finding = narrative.compare_paired("HiResCAM", hirescam, "Grad-CAM", grad_cam, metric="OrganIoU", resamples=500)
    result = stats.bootstrap_paired_difference_ci(hirescam, grad_cam, resamples=500)
    assert finding.direction == "above" and finding.reproduces("above")
    assert finding.sentence == (
        f"HiResCAM above Grad-CAM in OrganIoU by {result.estimate:.3f} (95% CI "
        f"{result.low:.3f} to {result.high:.3f}, n = 30 paired)."
    )


def test_paired_scores_below_are_stated_as_positive_amounts() -> None:
    finding = narrative.compare_paired(
        "Grad-CAM", [0.1, 0.2, 0.3, 0.4], "HiResCAM", [0.3, 0.4, 0.5, 0.6], metric="Dice", digits=2
    )
    assert finding.direction == "below"
    assert finding.sentence == ("Grad-CAM below HiResCAM in Dice by 0.20 (95% CI 0.20 to 0.20, n = 4 paired).")


def test_paired_difference_including_zero_shows_no_difference() -> None:
    finding = narrative.compare_paired(
        "a", [0.1, 0.5, 0.2, 0.6], "b", [0.2, 0.4, 0.3, 0.5], metric="Dice", resamples=300
    )
    result = stats.bootstrap_paired_difference_ci([0.1, 0.5, 0.2, 0.6], [0.2, 0.4, 0.3, 0.5], resamples=300)
    assert result.low < 0 < result.high
    assert finding.direction == "no difference"
    assert finding.sentence == (
        f"No difference between a and b in Dice shown at n = 4 paired: mean difference 0.000 "
        f"(95% CI of the difference {result.low:.3f} to {result.high:.3f} includes 0)."
    )


def test_identical_paired_scores_show_no_difference() -> None:
    finding = narrative.compare_paired("a", [0.3, 0.4], "b", [0.3, 0.4], metric="Dice")
    assert finding.direction == "no difference"
    assert "-0.000 to 0.000" not in finding.sentence and "0.000 to 0.000" in finding.sentence


@pytest.mark.parametrize(("first", "second"), [([0.9], [0.1]), ([], [])])
def test_fewer_than_two_pairs_draw_no_comparison(first, second) -> None:
    finding = narrative.compare_paired("a", first, "b", second, metric="Dice")
    assert finding.direction == "undefined"
    assert finding.sentence == (
        f"No comparison of a and b in Dice can be drawn at "
        f"n = {len(first)} paired: the 95% interval of the difference "
        "is undefined."
    )


def test_paired_comparison_is_seeded_and_checks_its_input() -> None:
    first, second = np.random.default_rng(4).random((2, 12))
    findings = {narrative.compare_paired("a", first, "b", second, metric="m", seed=5).sentence for _ in range(2)}
    assert len(findings) == 1
    with pytest.raises(ValueError, match="differ in length: 3 vs 2"):
        narrative.compare_paired("a", [0.1, 0.2, 0.3], "b", [0.1, 0.2], metric="m")
    with pytest.raises(ValueError, match="1 of 2 pairs hold NaN"):
        narrative.compare_paired("a", [0.1, math.nan], "b", [0.1, 0.2], metric="m")


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 12).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 20), min_size=n, max_size=n), st.lists(st.integers(0, 20), min_size=n, max_size=n)
        )
    )
)
def test_swapping_paired_scores_mirrors_the_direction(scores) -> None:
    first, second = (np.array(values) / 20 for values in scores)
    forward = narrative.compare_paired("A", first, "B", second, metric="m", resamples=200)
    backward = narrative.compare_paired("B", second, "A", first, metric="m", resamples=200)
    assert backward.direction == MIRRORED[forward.direction]


# ----------------------------------------------------------------------------- reference


def test_above_chance() -> None:
    finding = narrative.compare_with_reference(
        "HiResCAM", Estimate(0.7, 0.6, 0.8, 30), 0.5, "chance", metric="pointing game"
    )
    assert finding.direction == "above"
    assert finding.sentence == (
        "HiResCAM above chance (0.5) in pointing game: HiResCAM 0.700 (95% CI 0.600 to 0.800, "
        "n = 30); the 95% interval excludes it."
    )


def test_below_a_published_value() -> None:
    finding = narrative.compare_with_reference(
        "our model", Estimate(0.81, 0.78, 0.84, 200), 0.88, "the published AUROC", metric="AUROC"
    )
    assert finding.direction == "below" and finding.reproduces("below")
    assert finding.sentence.startswith("our model below the published AUROC (0.88) in AUROC")


def test_not_distinguishable_from_chance() -> None:
    finding = narrative.compare_with_reference(
        "HiResCAM", Estimate(0.6, 0.3, 0.9, 4), 0.5, "chance", metric="pointing game", digits=1
    )
    assert finding.direction == "no difference"
    assert finding.sentence == (
        "HiResCAM not distinguishable from chance (0.5) in pointing game at n = 4: HiResCAM 0.6 "
        "(95% CI 0.3 to 0.9, n = 4); the 95% interval includes it."
    )


def test_an_interval_ending_at_the_reference_includes_it() -> None:
    finding = narrative.compare_with_reference("a", Estimate(0.6, 0.5, 0.7, 10), 0.5, "chance", metric="m")
    assert finding.direction == "no difference"


def test_reference_comparison_with_an_undefined_interval() -> None:
    finding = narrative.compare_with_reference("a", Estimate(0.6, 0.6, 0.6, 1), 0.5, "chance", metric="m")
    assert finding.direction == "undefined"
    assert finding.sentence == (
        "No comparison of a with chance (0.5) in m can be drawn: a 0.600 "
        "(95% CI undefined, n = 1); the 95% interval is undefined."
    )


def test_reference_must_be_finite() -> None:
    with pytest.raises(ValueError, match="reference_value must be a finite number; got nan"):
        narrative.compare_with_reference("a", HIRESCAM, math.nan, "chance", metric="m")


# ----------------------------------------------------------------------------- findings


def test_a_finding_shows_as_its_sentence() -> None:
    finding = Finding("mass_accuracy of *HiResCAM* above b.", "above")
    assert str(finding) == "mass_accuracy of *HiResCAM* above b."
    assert finding._repr_markdown_() == r"mass\_accuracy of \*HiResCAM\* above b."


def test_reproduces_compares_with_a_published_direction() -> None:
    finding = Finding("a above b.", "above")
    assert finding.reproduces("above")
    assert not finding.reproduces("below") and not finding.reproduces("no difference")
    with pytest.raises(ValueError, match="published_direction must be one of"):
        finding.reproduces("undefined")
    with pytest.raises(ValueError, match="direction must be one of"):
        Finding("a higher than b.", "higher")
