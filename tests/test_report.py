"""Tests of radxai.report's measurements table: one tidy CSV of headline numbers per run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radxai import report

LOCALISATION = {"experiment": "ct_localisation_overlap", "work": "003", "reference": "Table 3.7"}

ORGAN_IOU = [
    {"metric": "OrganIoU", "setting": "HiResCAM", "value": 0.33, "ci_low": 0.25, "ci_high": 0.41, "n": 30},
    {"metric": "OrganIoU", "setting": "Grad-CAM, lungs", "value": 0.16},
]


def table_path(run_dir: Path) -> Path:
    return run_dir / "tables" / report.MEASUREMENTS_FILE


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    path = report.record_measurements(tmp_path, ORGAN_IOU, **LOCALISATION, seeds=[0, 1, 2])
    assert path == table_path(tmp_path)
    table = report.read_measurements(tmp_path)
    assert tuple(table.columns) == report.MEASUREMENT_COLUMNS
    assert table["setting"].tolist() == ["Grad-CAM, lungs", "HiResCAM"]  # sorted by key
    hirescam = table.iloc[1]
    assert (hirescam["value"], hirescam["ci_low"], hirescam["ci_high"]) == (0.33, 0.25, 0.41)
    assert hirescam["n"] == 30
    assert hirescam["work"] == "003"  # text, not the number 3
    assert set(table["seeds"]) == {"0;1;2"} and set(table["profile"]) == {"notebook defaults"}
    grad_cam = table.iloc[0]
    assert math.isnan(grad_cam["ci_low"]) and math.isnan(grad_cam["ci_high"])
    assert grad_cam["n"] is pd.NA


def test_the_file_is_text_with_empty_optional_fields(tmp_path: Path) -> None:
    report.record_measurements(tmp_path, ORGAN_IOU, **LOCALISATION, seeds=4)
    assert table_path(tmp_path).read_text() == (
        "experiment,work,reference,metric,setting,value,ci_low,ci_high,n,seeds,profile\n"
        'ct_localisation_overlap,003,Table 3.7,OrganIoU,"Grad-CAM, lungs",0.16,,,,4,'
        "notebook defaults\n"
        "ct_localisation_overlap,003,Table 3.7,OrganIoU,HiResCAM,0.33,0.25,0.41,30,4,"
        "notebook defaults\n"
    )


def test_a_data_frame_is_accepted_like_mappings(tmp_path: Path) -> None:
    frame = pd.DataFrame(ORGAN_IOU)  # n becomes 30.0 and NaN, the intervals NaN
    report.record_measurements(tmp_path / "frame", frame, **LOCALISATION)
    report.record_measurements(tmp_path / "mappings", ORGAN_IOU, **LOCALISATION)
    assert table_path(tmp_path / "frame").read_bytes() == table_path(tmp_path / "mappings").read_bytes()


def test_recording_a_key_again_replaces_its_row(tmp_path: Path) -> None:
    report.record_measurements(tmp_path, ORGAN_IOU, **LOCALISATION, seeds=0)
    report.record_measurements(
        tmp_path, [{"metric": "OrganIoU", "setting": "HiResCAM", "value": 0.4, "n": 31}], **LOCALISATION, seeds=1
    )
    table = report.read_measurements(tmp_path).set_index("setting")
    assert len(table) == 2
    assert (table.loc["HiResCAM", "value"], table.loc["HiResCAM", "n"]) == (0.4, 31)
    assert math.isnan(table.loc["HiResCAM", "ci_low"])  # the old interval does not linger
    assert table.loc["HiResCAM", "seeds"] == "1"
    assert table.loc["Grad-CAM, lungs", "seeds"] == "0"  # not recorded again: kept


def test_rerunning_a_call_does_not_duplicate_rows(tmp_path: Path) -> None:
    report.record_measurements(tmp_path, ORGAN_IOU, **LOCALISATION)
    first = table_path(tmp_path).read_bytes()
    report.record_measurements(tmp_path, ORGAN_IOU, **LOCALISATION)
    assert table_path(tmp_path).read_bytes() == first


def test_other_experiments_are_kept(tmp_path: Path) -> None:
    report.record_measurements(tmp_path, ORGAN_IOU, **LOCALISATION)
    report.record_measurements(
        tmp_path,
        [{"metric": "AUROC", "setting": "test", "value": 0.91}],
        experiment="positive_control",
        work="radxai",
        reference="",
    )
    table = report.read_measurements(tmp_path)
    assert sorted(table["experiment"]) == ["ct_localisation_overlap"] * 2 + ["positive_control"]
    assert table.loc[table["experiment"] == "positive_control", "reference"].item() == ""


def test_a_row_may_give_its_own_experiment_work_and_reference(tmp_path: Path) -> None:
    rows = [
        {"metric": "Dice", "setting": "HiResCAM", "value": 0.2},
        {
            "metric": "Dice",
            "setting": "HiResCAM",
            "value": 0.3,
            "reference": "Table 3.8",
            "work": "004",
            "experiment": "ct_dice",
        },
    ]
    report.record_measurements(tmp_path, rows, **LOCALISATION)
    table = report.read_measurements(tmp_path)
    assert table[["experiment", "work", "reference"]].values.tolist() == [
        ["ct_dice", "004", "Table 3.8"],
        ["ct_localisation_overlap", "003", "Table 3.7"],
    ]


measurement_rows = st.lists(
    st.fixed_dictionaries(
        {
            "metric": st.sampled_from(["OrganIoU", "Dice", "pointing game"]),
            "setting": st.text(alphabet="ab, \"'\n", max_size=4),
            "value": st.floats(-1e6, 1e6, allow_nan=False),
            "n": st.integers(0, 1000),
        }
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda row: (row["metric"], row["setting"]),
)


@settings(max_examples=40, deadline=None)
@given(measurement_rows, st.randoms(use_true_random=False))
def test_any_order_and_any_split_gives_identical_bytes(tmp_path_factory, rows, random) -> None:
    in_one_call = tmp_path_factory.mktemp("one")
    report.record_measurements(in_one_call, rows, **LOCALISATION)
    shuffled = random.sample(rows, len(rows))
    split = random.randint(0, len(rows))
    in_two_calls = tmp_path_factory.mktemp("two")
    for part in (shuffled[split:], shuffled[:split]):
        if part:
            report.record_measurements(in_two_calls, part, **LOCALISATION)
    assert table_path(in_two_calls).read_bytes() == table_path(in_one_call).read_bytes()
    # Text with commas, quotes and line breaks survives the round trip.
    table = report.read_measurements(in_one_call)
    assert sorted(table["setting"]) == sorted(row["setting"] for row in rows)


def test_numbers_are_written_to_six_significant_digits(tmp_path: Path) -> None:
    rows = [
        {"metric": "m", "setting": "tiny", "value": 1.23456789e-7},
        {"metric": "m", "setting": "third", "value": 1 / 3},
        {"metric": "m", "setting": "zero", "value": -0.0, "ci_low": -1e-3, "ci_high": 1e-3},
    ]
    report.record_measurements(tmp_path, rows, **LOCALISATION)
    lines = table_path(tmp_path).read_text().splitlines()
    assert [line.split(",")[5] for line in lines[1:]] == ["0.333333", "1.23457e-07", "0"]


def test_profile_comes_from_run_json_or_the_argument(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"profile": "smoke", "seeds": {}}))
    report.record_measurements(tmp_path, ORGAN_IOU[:1], **LOCALISATION)
    assert report.read_measurements(tmp_path)["profile"].item() == "smoke"
    report.record_measurements(tmp_path, ORGAN_IOU[:1], **LOCALISATION, profile="full")
    assert report.read_measurements(tmp_path)["profile"].item() == "full"


def test_profile_defaults_when_run_json_does_not_name_one(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"git_commit": "abc"}))
    report.record_measurements(tmp_path, ORGAN_IOU[:1], **LOCALISATION)
    assert report.read_measurements(tmp_path)["profile"].item() == report.DEFAULT_PROFILE


def test_no_file_reads_as_an_empty_table_with_the_columns(tmp_path: Path) -> None:
    table = report.read_measurements(tmp_path)
    assert table.empty and tuple(table.columns) == report.MEASUREMENT_COLUMNS
    assert table["value"].dtype == np.float64 and str(table["n"].dtype) == "Int64"


@pytest.mark.parametrize(
    ("rows", "options", "message"),
    [
        ([], {}, "measurements is empty"),
        ([{"metric": "Dice", "value": 0.2}], {}, r"measurement 0 lacks column\(s\) \['setting'\]"),
        (
            [{"metric": "Dice", "setting": "a", "value": 0.2, "std": 0.1}],
            {},
            r"measurement 0 has unknown column\(s\) \['std'\]",
        ),
        ([{"metric": "Dice", "setting": "a", "value": 0.2, "seeds": 1}], {}, r"unknown column\(s\) \['seeds'\]"),
        (
            [{"metric": "Dice", "setting": "lungs", "value": float("nan")}],
            {},
            "value of metric 'Dice', setting 'lungs' is nan",
        ),
        ([{"metric": "Dice", "setting": "lungs", "value": float("inf")}], {}, "is inf"),
        ([{"metric": "Dice", "setting": "lungs", "value": "0.2"}], {}, "must be a number; got '0.2'"),
        (
            [{"metric": "Dice", "setting": "lungs", "value": 0.2, "n": -1}],
            {},
            "n of metric 'Dice', setting 'lungs' must be a whole number >= 0; got -1",
        ),
        ([{"metric": "Dice", "setting": "lungs", "value": 0.2, "n": 2.5}], {}, "must be a whole number >= 0; got 2.5"),
        (
            [{"metric": "Dice", "setting": "lungs", "value": 0.5, "ci_low": 0.4, "ci_high": 0.1}],
            {},
            r"'lungs': ci_low 0.4 is above ci_high 0.1",
        ),
        (
            [{"metric": "Dice", "setting": "lungs", "value": 0.2, "ci_low": 0.1}],
            {},
            "give both ci_low and ci_high or neither",
        ),
        (
            [{"metric": "Dice", "setting": "lungs", "value": 0.2}] * 2,
            {},
            r"repeat the key\(s\) \[\('ct_localisation_overlap', '003', 'Table 3.7', 'Dice', 'lungs'\)\]",
        ),
        ([{"metric": "", "setting": "lungs", "value": 0.2}], {}, "metric must be a non-empty name"),
        ([{"metric": "Dice", "setting": 3, "value": 0.2}], {}, "setting must be text; got 3"),
        (["Dice"], {}, "measurement 0 must be a mapping"),
        ({"metric": "Dice", "setting": "a", "value": 0.2}, {}, "got a single mapping"),
        (ORGAN_IOU, {"experiment": "CT Overlap"}, "experiment must be a snake_case name"),
        (ORGAN_IOU, {"work": "3"}, "work must be a three-digit work number"),
        (ORGAN_IOU, {"seeds": "0;1"}, "seeds must be an int or a sequence of ints"),
        (ORGAN_IOU, {"seeds": [0, 1.5]}, "seeds must be an int or a sequence of ints"),
        (ORGAN_IOU, {"profile": ""}, "profile must be a non-empty string"),
    ],
)
def test_bad_measurements_name_the_problem_and_leave_the_file_alone(tmp_path: Path, rows, options, message) -> None:
    report.record_measurements(tmp_path, ORGAN_IOU, **LOCALISATION)
    before = table_path(tmp_path).read_bytes()
    with pytest.raises(ValueError, match=message):
        report.record_measurements(tmp_path, rows, **(LOCALISATION | options))
    assert table_path(tmp_path).read_bytes() == before


def test_an_estimate_at_an_interval_bound_is_accepted_within_rounding(tmp_path: Path) -> None:
    report.record_measurements(
        tmp_path,
        [{"metric": "AUROC", "setting": "all", "value": 1.0, "ci_low": 0.9, "ci_high": 1.0 - 1e-13}],
        **LOCALISATION,
    )
    assert report.read_measurements(tmp_path)["value"].item() == 1.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "must hold a JSON object; it holds a list"),
        ("{not json", "is not valid JSON"),
        ('{"profile": 3}', "'profile' must be a non-empty string; got 3"),
    ],
)
def test_an_unreadable_run_json_is_named(tmp_path: Path, content, message) -> None:
    (tmp_path / "run.json").write_text(content)
    with pytest.raises(ValueError, match=message) as raised:
        report.record_measurements(tmp_path, ORGAN_IOU, **LOCALISATION)
    assert str(tmp_path / "run.json") in str(raised.value)
    assert not table_path(tmp_path).exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("metric,value\nDice,0.2\n", "is not a measurements table: its columns are"),
        (
            ",".join(report.MEASUREMENT_COLUMNS) + "\nct,003,,Dice,a,0.2,,,,,full,extra\n",
            "row 1 does not have 11 fields",
        ),
        (
            ",".join(report.MEASUREMENT_COLUMNS) + "\nct,003,,Dice,a,high,,,,,full\n",
            "row 1 is not a valid measurement: could not convert string to float",
        ),
        (
            ",".join(report.MEASUREMENT_COLUMNS) + "\nct,003,,Dice,a,0.2,,,,,full\nct,003,,Dice,a,0.3,,,,,full\n",
            r"repeat the key\(s\)",
        ),
    ],
)
def test_a_corrupt_table_is_named_and_left_untouched(tmp_path: Path, content, message) -> None:
    path = table_path(tmp_path)
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as raised:
        report.record_measurements(tmp_path, ORGAN_IOU, **LOCALISATION)
    assert str(path) in str(raised.value)
    assert path.read_text() == content
    with pytest.raises(ValueError, match=message):
        report.read_measurements(tmp_path)


def test_an_interrupted_write_leaves_the_previous_table(tmp_path: Path, monkeypatch) -> None:
    report.record_measurements(tmp_path, ORGAN_IOU, **LOCALISATION)
    before = table_path(tmp_path).read_bytes()

    def write_then_fail(rows, target) -> None:
        Path(target).write_text("half a table")
        raise OSError("disk full")

    monkeypatch.setattr(report, "_write_measurement_rows", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        report.record_measurements(tmp_path, ORGAN_IOU[:1], **LOCALISATION, seeds=9)
    assert table_path(tmp_path).read_bytes() == before
    assert list(table_path(tmp_path).parent.iterdir()) == [table_path(tmp_path)]


def test_measurements_from_summary_turns_summarise_means_rows_into_measurements(tmp_path) -> None:
    from radxai.evaluate.localisation_tables import summarise_means

    per_item = pd.DataFrame(
        {"method": ["a", "a", "a", "b", "b", "b"], "score": [0.2, 0.4, 0.6, 1.0, 1.0, float("nan")]}
    )
    summary = summarise_means(per_item, ["method"], ["score"], resamples=200, seed=0)
    rows = report.measurements_from_summary(summary, {"score": "mass_accuracy"}, setting_prefix="focal, ")
    assert list(rows["setting"]) == ["focal, a", "focal, b"]
    assert rows.loc[0, "value"] == pytest.approx(0.4) and rows.loc[0, "n"] == 3
    assert rows.loc[1, "n"] == 2  # the NaN item is not counted
    assert (rows["ci_low"] <= rows["value"]).all() and (rows["value"] <= rows["ci_high"]).all()
    report.record_measurements(tmp_path, rows, experiment="positive_control", work="radxai", reference="")
    assert len(report.read_measurements(tmp_path)) == 2
    with pytest.raises(ValueError, match="score_count"):
        report.measurements_from_summary(summary.drop(columns="score_count"), {"score": "x"})


def test_an_interval_that_leaves_out_its_estimate_is_kept(tmp_path) -> None:
    # A percentile bootstrap of a small sample can exclude its full-data estimate.
    row = {"metric": "auroc", "setting": "set 1", "value": 0.5, "ci_low": 0.55, "ci_high": 0.9, "n": 20}
    report.record_measurements(tmp_path, [row], experiment="gaze", work="003", reference="Table 1")
    assert report.read_measurements(tmp_path).loc[0, "ci_low"] == 0.55
