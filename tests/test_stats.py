"""Tests of radxai.evaluate.stats against scikit-learn and hand-worked examples."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics
from hypothesis import given, settings
from hypothesis import strategies as st

from radxai.evaluate import stats


def labelled_scores(seed: int = 0, items: int = 300, separation: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Binary labels with scores that separate the classes by ``separation`` SDs."""
    generator = np.random.default_rng(seed)
    labels = generator.integers(0, 2, items)
    scores = generator.normal(size=items) + separation * labels
    return labels, scores


# Scores from a handful of values force many ties; floats give the untied case.
binary_problems = st.integers(min_value=2, max_value=60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda labels: 0 < sum(labels) < len(labels)),
        st.one_of(
            st.lists(st.integers(-3, 3), min_size=n, max_size=n),
            st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=n, max_size=n),
        ),
    )
)


@settings(max_examples=200, deadline=None)
@given(binary_problems)
def test_auroc_and_roc_curve_match_sklearn_including_ties(problem) -> None:
    labels, scores = problem
    assert stats.auroc(labels, scores) == pytest.approx(sklearn.metrics.roc_auc_score(labels, scores), abs=1e-12)
    ours = stats.roc_curve(labels, scores)
    theirs = sklearn.metrics.roc_curve(labels, scores, drop_intermediate=False)
    for our_values, their_values in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(our_values, their_values)


def test_auroc_is_one_for_perfect_zero_for_inverted_half_for_all_tied() -> None:
    labels = [0, 0, 0, 1, 1]
    scores = [0.1, 0.2, 0.3, 0.8, 0.9]
    assert stats.auroc(labels, scores) == 1.0
    assert stats.auroc(labels, [-score for score in scores]) == 0.0
    assert stats.auroc(labels, [0.5] * 5) == 0.5


def test_auroc_counts_a_tied_pair_as_half() -> None:
    # Pairs (positive, negative): 0.9>0.1 win, 0.9>0.5 win, 0.5=0.5 half, 0.5>0.1 win -> 3.5 / 4.
    assert stats.auroc([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.9]) == 0.875


def test_single_class_gives_nan_not_an_exception() -> None:
    assert np.isnan(stats.auroc([1, 1, 1], [0.2, 0.5, 0.9]))
    false_positive_rate, true_positive_rate, _ = stats.roc_curve([1, 1, 1], [0.2, 0.5, 0.9])
    assert np.isnan(false_positive_rate).all()
    np.testing.assert_allclose(true_positive_rate, [0, 1 / 3, 2 / 3, 1])


def test_roc_curve_by_hand() -> None:
    false_positive_rate, true_positive_rate, thresholds = stats.roc_curve([0, 1, 1, 0], [0.1, 0.4, 0.4, 0.8])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.8, 0.4, 0.1])
    np.testing.assert_array_equal(false_positive_rate, [0, 0.5, 0.5, 1])
    np.testing.assert_array_equal(true_positive_rate, [0, 0, 1, 1])


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [
        ([0, 1, 2], [0.1, 0.2, 0.3], r"labels must be 0 or 1; found \[2\]"),
        ([0, 1, np.nan], [0.1, 0.2, 0.3], "labels must be 0 or 1"),
        ([0, 1, 1], [0.1, 0.2], "differ in length: 3 labels, 2 scores"),
        ([0, 1, 1], [0.1, np.nan, 0.3], r"scores contain NaN at 1 position\(s\) \(first at flat index 1\)"),
        ([[0, 1]], [[0.1, 0.2]], "must be 1-D"),
        ([], [], "empty"),
        ([0, 1], ["low", "high"], "scores must be numbers"),
    ],
)
def test_auroc_and_roc_curve_name_the_problem(labels, scores, message) -> None:
    with pytest.raises(ValueError, match=message):
        stats.auroc(labels, scores)
    with pytest.raises(ValueError, match=message):
        stats.roc_curve(labels, scores)


def test_bootstrap_is_deterministic_per_seed_and_differs_across_seeds() -> None:
    labels, scores = labelled_scores()
    first = stats.bootstrap_ci(labels, scores, seed=3)
    assert stats.bootstrap_ci(labels, scores, seed=3) == first
    other = stats.bootstrap_ci(labels, scores, seed=4)
    assert (other.low, other.high) != (first.low, first.high)
    assert other.estimate == first.estimate


def test_bootstrap_interval_brackets_the_estimate_and_is_ordered() -> None:
    labels, scores = labelled_scores()
    result = stats.bootstrap_ci(labels, scores)
    assert result.estimate == stats.auroc(labels, scores)
    assert result.low <= result.median <= result.high
    assert result.low < result.estimate < result.high
    assert result.resamples_used == 1000 and result.resamples_skipped == 0
    assert result.confidence == 0.95
    # A wider nominal coverage gives a wider interval on the same resamples.
    wider = stats.bootstrap_ci(labels, scores, confidence=0.99)
    assert wider.low <= result.low and wider.high >= result.high


def test_vectorised_auroc_resampling_equals_calling_auroc_per_resample() -> None:
    generator = np.random.default_rng(1)
    labels = generator.integers(0, 2, 80)
    scores = generator.integers(0, 6, 80).astype(float)  # many ties
    fast = stats.bootstrap_ci(labels, scores, resamples=300, seed=7)
    slow = stats.bootstrap_ci(labels, scores, lambda y, s: stats.auroc(y, s), resamples=300, seed=7)
    assert fast == slow


def test_bootstrap_interval_is_the_percentile_interval_of_the_resampled_values() -> None:
    labels, scores = labelled_scores(items=60)
    values = []

    def recording_metric(resampled_labels: np.ndarray, resampled_scores: np.ndarray) -> float:
        values.append(stats.auroc(resampled_labels, resampled_scores))
        return values[-1]

    result = stats.bootstrap_ci(labels, scores, recording_metric, resamples=500, confidence=0.9)
    values.remove(result.estimate)  # one call was the estimate on the full data
    resampled = np.array(values)
    assert result.resamples_used == resampled.size == 500
    np.testing.assert_allclose([result.low, result.median, result.high], np.percentile(resampled, [5, 50, 95]))


def test_single_class_resamples_are_skipped_and_counted() -> None:
    labels = np.array([1] + [0] * 9)
    scores = np.linspace(1.0, 0.0, 10)
    seen_positive_counts = []

    def recording_metric(resampled_labels: np.ndarray, resampled_scores: np.ndarray) -> float:
        seen_positive_counts.append(int(resampled_labels.sum()))
        return stats.auroc(resampled_labels, resampled_scores)

    result = stats.bootstrap_ci(labels, scores, recording_metric, resamples=1000, seed=0)
    # The full-data estimate is one call; every other call is a used resample.
    assert len(seen_positive_counts) == 1 + result.resamples_used
    assert all(0 < count < 10 for count in seen_positive_counts)
    assert result.resamples_used + result.resamples_skipped == 1000
    # A resample misses the single positive with probability 0.9 ** 10 = 0.349.
    assert 280 < result.resamples_skipped < 420
    assert stats.bootstrap_ci(labels, scores, resamples=1000, seed=0) == result


def test_stratified_resamples_keep_class_counts_and_skip_none() -> None:
    labels = np.array([1, 1] + [0] * 8)
    scores = np.linspace(1.0, 0.0, 10)
    positive_counts = []

    def recording_metric(resampled_labels: np.ndarray, resampled_scores: np.ndarray) -> float:
        positive_counts.append(int(resampled_labels.sum()))
        return stats.auroc(resampled_labels, resampled_scores)

    result = stats.bootstrap_ci(labels, scores, recording_metric, resamples=200, stratified=True)
    assert result.resamples_skipped == 0 and result.resamples_used == 200
    assert set(positive_counts) == {2}
    assert stats.bootstrap_ci(labels, scores, resamples=200, stratified=True) == result


def test_bootstrap_of_a_single_class_problem_is_all_nan() -> None:
    result = stats.bootstrap_ci([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], resamples=50)
    assert np.isnan([result.estimate, result.low, result.high, result.median]).all()
    assert result.resamples_used == 0 and result.resamples_skipped == 50


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"resamples": 0}, "resamples must be a positive whole number"),
        ({"resamples": 2.5}, "resamples must be a positive whole number"),
        ({"confidence": 1.0}, "confidence must lie strictly between 0 and 1"),
        ({"confidence": 95}, "confidence must lie strictly between 0 and 1"),
    ],
)
def test_bootstrap_rejects_bad_options(options, message) -> None:
    with pytest.raises(ValueError, match=message):
        stats.bootstrap_ci([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], **options)


def test_median_and_percentiles_match_numpy() -> None:
    values = np.random.default_rng(0).normal(size=501)
    median, low, high = stats.median_and_percentiles(values)
    assert (median, low, high) == tuple(np.percentile(values, [50, 2.5, 97.5]))
    assert stats.median_and_percentiles([1.0, 2.0, 3.0, 4.0, 5.0], 25, 75) == (3.0, 2.0, 4.0)
    with pytest.raises(ValueError, match="0 <= low <= high <= 100"):
        stats.median_and_percentiles(values, 97.5, 2.5)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        stats.median_and_percentiles([])


def test_format_interval() -> None:
    result = stats.BootstrapResult(
        estimate=0.9124, low=0.87051, high=0.95, median=0.91, confidence=0.95, resamples_used=1000, resamples_skipped=0
    )
    assert stats.format_interval(result) == "0.912 (0.871, 0.950)"
    assert stats.format_interval((0.5, 0.25, 0.75), digits=2) == "0.50 (0.25, 0.75)"


def multilabel_problem(items: int = 200) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(5)
    labels = (generator.random((items, 3)) < [0.5, 0.3, 0.1]).astype(int)
    scores = generator.normal(size=(items, 3)) + labels * [2.0, 1.0, 0.5]
    return labels, scores


def test_auroc_per_class_rows_equal_bootstrap_ci_per_column() -> None:
    labels, scores = multilabel_problem()
    names = ["Nodule", "Effusion", "Pneumothorax"]
    table = stats.auroc_per_class(labels, scores, names, resamples=400, seed=2)
    assert list(table.index) == names + ["macro mean"]
    assert list(table.columns) == ["auroc", "ci_low", "ci_high", "positives", "negatives"]
    for k, name in enumerate(names):
        single = stats.bootstrap_ci(labels[:, k], scores[:, k], resamples=400, seed=2)
        assert table.loc[name, "auroc"] == single.estimate
        assert (table.loc[name, "ci_low"], table.loc[name, "ci_high"]) == (single.low, single.high)
        assert table.loc[name, "positives"] == labels[:, k].sum()
        assert table.loc[name, "negatives"] == 200 - labels[:, k].sum()
    macro = table.loc["macro mean"]
    assert macro["auroc"] == pytest.approx(table["auroc"].iloc[:3].mean())
    assert macro["ci_low"] < macro["auroc"] < macro["ci_high"]
    assert macro["positives"] == labels.sum() and macro["negatives"] == labels.size - labels.sum()


def test_auroc_per_class_leaves_a_single_class_column_out_of_the_macro_mean() -> None:
    labels, scores = multilabel_problem(100)
    labels[:, 2] = 0
    table = stats.auroc_per_class(labels, scores, ["a", "b", "absent"], resamples=100)
    assert table.loc["absent", ["auroc", "ci_low", "ci_high"]].isna().all()
    assert table.loc["macro mean", "auroc"] == pytest.approx(table["auroc"].iloc[:2].mean())
    assert not np.isnan(table.loc["macro mean", "ci_low"])


def test_auroc_per_class_names_the_problem() -> None:
    labels, scores = multilabel_problem(20)
    with pytest.raises(ValueError, match="class_names has 2 names but labels have 3 classes"):
        stats.auroc_per_class(labels, scores, ["a", "b"])
    with pytest.raises(ValueError, match="differ in shape"):
        stats.auroc_per_class(labels, scores[:, :2], ["a", "b", "c"])
    with pytest.raises(ValueError, match="must be 2-D"):
        stats.auroc_per_class(labels[:, 0], scores[:, 0], ["a"])


def test_confusion_matrix_matches_sklearn() -> None:
    generator = np.random.default_rng(2)
    labels = generator.integers(0, 4, 500)
    predictions = generator.integers(0, 4, 500)
    ours = stats.confusion_matrix(labels, predictions, num_classes=4)
    np.testing.assert_array_equal(ours, sklearn.metrics.confusion_matrix(labels, predictions, labels=range(4)))
    assert ours.dtype == np.int64
    # Rows are true classes: [[TN, FP], [FN, TP]].
    np.testing.assert_array_equal(stats.confusion_matrix([0, 0, 1, 1, 1], [0, 1, 0, 1, 1]), [[1, 1], [1, 2]])
    np.testing.assert_array_equal(stats.confusion_matrix([True, False], [True, True]), [[0, 1], [0, 1]])


@pytest.mark.parametrize(
    ("labels", "predictions", "message"),
    [
        ([0, 2], [0, 1], r"labels must hold class indices 0..1; found \[2\]"),
        ([0, 1], [0, 0.5], r"predictions must hold class indices 0..1; found \[0.5\]"),
        ([0, 1, 1], [0, 1], "differ in length: 3 vs 2"),
        (["a", "b"], [0, 1], "labels must hold class indices"),
    ],
)
def test_confusion_matrix_names_the_problem(labels, predictions, message) -> None:
    with pytest.raises(ValueError, match=message):
        stats.confusion_matrix(labels, predictions)


def test_precision_recall_f1_matches_sklearn() -> None:
    generator = np.random.default_rng(3)
    labels = (generator.random((300, 4)) < 0.3).astype(int)
    predictions = (generator.random((300, 4)) < 0.3).astype(int)
    predictions[:, 3] = 0  # a class never predicted: precision 0 / 0 -> 0
    table = stats.precision_recall_f1(labels, predictions, ["a", "b", "c", "d"])
    precision, recall, f1, support = sklearn.metrics.precision_recall_fscore_support(
        labels, predictions, zero_division=0
    )
    np.testing.assert_allclose(table["precision"].iloc[:4], precision)
    np.testing.assert_allclose(table["recall"].iloc[:4], recall)
    np.testing.assert_allclose(table["f1"].iloc[:4], f1)
    np.testing.assert_array_equal(table["support"].iloc[:4], support)
    for average, row in [("micro", "micro average"), ("macro", "macro average")]:
        expected = sklearn.metrics.precision_recall_fscore_support(
            labels, predictions, average=average, zero_division=0
        )[:3]
        np.testing.assert_allclose(table.loc[row, ["precision", "recall", "f1"]], expected)
    assert table.loc["d", ["precision", "recall", "f1"]].tolist() == [0.0, 0.0, 0.0]


def test_micro_and_macro_averages_by_hand() -> None:
    # Class a: TP 1, FP 1, FN 0 -> P 1/2, R 1, F1 2/3.  Class b: TP 2, FP 0, FN 2 -> P 1, R 1/2,
    # F1 2/3.  Micro pools TP 3, FP 1, FN 2 -> P 3/4, R 3/5, F1 6/9.  Macro: P 3/4, R 3/4, F1 2/3.
    labels = np.array([[1, 1], [0, 1], [0, 1], [0, 1]])
    predictions = np.array([[1, 1], [1, 1], [0, 0], [0, 0]])
    table = stats.precision_recall_f1(labels, predictions, ["a", "b"])
    assert list(table.index) == ["a", "b", "micro average", "macro average"]
    expected = pd.DataFrame(
        {
            "precision": [1 / 2, 1, 3 / 4, 3 / 4],
            "recall": [1, 1 / 2, 3 / 5, 3 / 4],
            "f1": [2 / 3, 2 / 3, 6 / 9, 2 / 3],
            "support": [1, 4, 5, 5],
        },
        index=pd.Index(["a", "b", "micro average", "macro average"], name="class"),
    )
    pd.testing.assert_frame_equal(table, expected)


def test_precision_recall_f1_names_the_problem() -> None:
    with pytest.raises(ValueError, match=r"predictions must be 0 or 1; found \[0.7\]"):
        stats.precision_recall_f1([[0, 1]], [[0.7, 1]], ["a", "b"])
    with pytest.raises(ValueError, match="class_names has 1 names but labels have 2 classes"):
        stats.precision_recall_f1([[0, 1]], [[0, 1]], ["a"])


def test_accuracy_by_group_by_hand_with_severity_order() -> None:
    labels = [1, 1, 0, 1, 0, 1]
    predictions = [1, 0, 0, 1, 1, 1]
    groups = ["CT-2", "CT-2", "CT-0", "CT-4", "CT-0", "CT-1"]
    order = ["CT-0", "CT-1", "CT-2", "CT-3", "CT-4"]
    table = stats.accuracy_by_group(labels, predictions, groups, group_order=order)
    assert list(table.index) == order and table.index.name == "group"
    assert table["n"].tolist() == [2, 1, 2, 0, 1]
    assert table["correct"].tolist() == [1, 1, 1, 0, 1]
    np.testing.assert_array_equal(table["accuracy"], [0.5, 1.0, 0.5, np.nan, 1.0])
    assert (table["accuracy_ci_low"].dropna() < table["accuracy"].dropna()).all()
    assert np.isnan(table.loc["CT-3", "accuracy_ci_low"])
    sorted_table = stats.accuracy_by_group(labels, predictions, groups)
    assert list(sorted_table.index) == ["CT-0", "CT-1", "CT-2", "CT-4"]


def test_accuracy_by_group_names_the_problem() -> None:
    with pytest.raises(ValueError, match=r"groups \['CT-9'\] are not in group_order"):
        stats.accuracy_by_group([1], [1], ["CT-9"], group_order=["CT-0"])
    with pytest.raises(ValueError, match="differ in length"):
        stats.accuracy_by_group([1, 0], [1], ["CT-0"])


def test_threshold_predictions_is_strictly_greater() -> None:
    np.testing.assert_array_equal(stats.threshold_predictions([0.2, 0.5, 0.51]), [0, 0, 1])
    np.testing.assert_array_equal(stats.threshold_predictions([[-1.0, 2.0]], threshold=0.0), [[0, 1]])
    with pytest.raises(ValueError, match="scores contain NaN"):
        stats.threshold_predictions([0.2, np.nan])


def test_stats_imports_no_deep_learning_framework() -> None:
    code = (
        "import sys, radxai.evaluate.stats; "
        "print([m for m in ('torch', 'tensorflow', 'keras', 'radxai.models', 'sklearn') "
        "if m in sys.modules])"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_bootstrap_mean_ci_brackets_the_mean_and_is_seeded() -> None:
    values = np.random.default_rng(5).normal(0.6, 0.1, size=40)
    result = stats.bootstrap_mean_ci(values, resamples=500, seed=3)
    assert result.estimate == pytest.approx(values.mean())
    assert result.low < result.estimate < result.high
    assert result.resamples_used == 500 and result.resamples_skipped == 0
    assert stats.bootstrap_mean_ci(values, resamples=500, seed=3) == result
    half_width = (result.high - result.low) / 2
    assert half_width == pytest.approx(1.96 * values.std(ddof=1) / np.sqrt(40), rel=0.25)


def test_bootstrap_mean_ci_of_nothing_is_nan_and_nan_values_are_rejected() -> None:
    empty = stats.bootstrap_mean_ci([], resamples=10)
    assert np.isnan(empty.estimate) and np.isnan(empty.low) and empty.resamples_skipped == 10
    with pytest.raises(ValueError, match="1 of 3 values are NaN"):
        stats.bootstrap_mean_ci([0.1, float("nan"), 0.3])


def test_paired_difference_of_identical_scores_is_zero_with_a_zero_width_interval() -> None:
    scores = np.random.default_rng(6).random(25)
    result = stats.bootstrap_paired_difference_ci(scores, scores.copy(), resamples=200)
    assert (result.estimate, result.low, result.high, result.median) == (0.0, 0.0, 0.0, 0.0)
    assert result.resamples_used == 200 and result.resamples_skipped == 0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-64, 64), min_size=1, max_size=30), st.integers(-40, 40))
def test_paired_difference_of_a_constant_shift_is_exactly_the_shift(scores, shift_eighths) -> None:
    # Multiples of 1/8 keep every sum exact, so "exactly" can be asserted with ==.
    second = np.array(scores) / 8
    shift = shift_eighths / 8
    result = stats.bootstrap_paired_difference_ci(second + shift, second, resamples=50)
    assert result.estimate == result.low == result.high == result.median == shift


def test_paired_difference_is_seeded_and_pairs_items() -> None:
    generator = np.random.default_rng(8)
    common = generator.normal(size=60)  # shared per-item difficulty, large against the gap
    first = common + 0.1 + 0.05 * generator.normal(size=60)
    second = common + 0.05 * generator.normal(size=60)
    result = stats.bootstrap_paired_difference_ci(first, second, resamples=400, seed=2)
    assert stats.bootstrap_paired_difference_ci(first, second, resamples=400, seed=2) == result
    assert stats.bootstrap_paired_difference_ci(first, second, resamples=400, seed=3) != result
    assert result.estimate == pytest.approx(first.mean() - second.mean())
    assert 0 < result.low < result.estimate < result.high
    # Pairing removes the shared difficulty: the interval is far narrower than the two means'
    # separate intervals, each of which spans the whole gap.
    separate = stats.bootstrap_mean_ci(first, resamples=400, seed=2)
    assert result.high - result.low < (separate.high - separate.low) / 5


def test_paired_difference_of_nothing_is_nan() -> None:
    result = stats.bootstrap_paired_difference_ci([], [], resamples=10)
    assert np.isnan([result.estimate, result.low, result.high]).all()
    assert result.resamples_skipped == 10


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ([0.1, 0.2, 0.3], [0.1, 0.2], "differ in length: 3 vs 2"),
        ([[0.1, 0.2]], [[0.1, 0.2]], r"must be 1-D \(N,\); got shapes \(1, 2\) and \(1, 2\)"),
        ([0.1, np.nan, 0.3], [0.1, 0.2, np.nan], "2 of 3 pairs hold NaN"),
    ],
)
def test_paired_difference_names_the_problem(first, second, message) -> None:
    with pytest.raises(ValueError, match=message):
        stats.bootstrap_paired_difference_ci(first, second)


def test_paired_difference_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="resamples must be a positive whole number"):
        stats.bootstrap_paired_difference_ci([0.1], [0.2], resamples=0)
    with pytest.raises(ValueError, match="confidence must lie strictly between 0 and 1"):
        stats.bootstrap_paired_difference_ci([0.1], [0.2], confidence=1.5)


def test_wilson_interval_matches_a_closed_form_value() -> None:
    # 8 of 10 at 95%: the textbook Wilson interval is (0.4902, 0.9433).
    low, high = stats.wilson_interval(np.array([8, 0, 3]), np.array([10, 5, 3]))
    np.testing.assert_allclose([low[0], high[0]], [0.4902, 0.9433], atol=1e-4)
    assert low[1] == 0.0 and 0.0 < high[1] < 0.6
    assert high[2] == pytest.approx(1.0) and 0.3 < low[2] < 0.5
    with pytest.raises(ValueError, match="successes <= trials"):
        stats.wilson_interval(np.array([4]), np.array([3]))


@pytest.mark.parametrize("resamples", [True, 0, 2.5])
def test_every_bootstrap_refuses_a_resample_count_that_is_not_a_whole_number(resamples) -> None:
    # `True` once passed as 1 resample in stats while the localisation tables refused it.
    with pytest.raises(ValueError, match="resamples must be a positive whole number"):
        stats.bootstrap_mean_ci([0.1, 0.2, 0.3], resamples=resamples)
    with pytest.raises(ValueError, match="resamples must be a positive whole number"):
        stats.bootstrap_ci([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], resamples=resamples)
