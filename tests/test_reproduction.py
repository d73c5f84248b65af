"""Tests of radxai.reproduction: published numbers beside a run's, and the claims' verdicts."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from radxai import report, reproduction
from radxai.published import load_published

WORK = {
    "work": "000",
    "citation": "A work (2021)",
    "dataset": "synthetic",
    "entries": [
        {
            "id": f"accuracy_{grade}",
            "reference": "Table 1",
            "experiment": "severity",
            "metric": "accuracy",
            "metric_definition": "share correct",
            "setting": f"grade {grade}",
            "unit": "percent",
            "value": value,
            "n": 100,
            "source_line": f"{grade} {value}",
        }
        for grade, value in (("CT-0", 86.0), ("CT-1", 32.0), ("CT-2", 50.4))
    ]
    + [
        {
            "id": "box",
            "reference": "Table 2",
            "experiment": "boxes",
            "metric": "box_iou",
            "metric_definition": "union without subtracting the intersection",
            "setting": "p = 0.1",
            "unit": "fraction",
            "value": 0.2,
            "source_line": "0.1 0.2",
        },
        {
            "id": "unmatched",
            "reference": "Figure 3 (inset)",
            "experiment": "other",
            "metric": "f1",
            "metric_definition": "F1",
            "setting": "all",
            "unit": "fraction",
            "value": 0.8,
            "source_line": "0.8",
        },
    ],
    "claims": [
        {
            "id": "ct1_hardest",
            "text": "CT-1 is the hardest grade.",
            "holds_in_numbers": True,
            "entries": ["accuracy_CT-0", "accuracy_CT-1", "accuracy_CT-2"],
        },
        {
            "id": "ct0_above_ct2",
            "text": "CT-0 above CT-2.",
            "holds_in_numbers": True,
            "entries": ["accuracy_CT-0", "accuracy_CT-2"],
        },
    ],
    "comparisons": {
        "entries": [
            *(
                {
                    "entry": f"accuracy_{grade}",
                    "published_scale": 0.01,
                    "measured": {"experiment": "by_severity", "metric": "accuracy", "setting": f"3D CNN, {grade}"},
                }
                for grade in ("CT-0", "CT-1", "CT-2")
            ),
            {
                "entry": "box",
                "measured": {"experiment": "boxes", "metric": "box_iou", "setting": "p 0.1"},
                "as_published": {"experiment": "boxes", "metric": "box_iou_as_published", "setting": "p 0.1"},
            },
        ],
        "claims": [
            {
                "claim": "ct1_hardest",
                "check": "lowest",
                "subject": {"experiment": "by_severity", "metric": "accuracy", "setting": "3D CNN, CT-1"},
                "among": [
                    {"experiment": "by_severity", "metric": "accuracy", "setting": f"3D CNN, {grade}"}
                    for grade in ("CT-0", "CT-2")
                ],
            },
            {
                "claim": "ct0_above_ct2",
                "check": "above",
                "subject": {"experiment": "by_severity", "metric": "accuracy", "setting": "3D CNN, CT-0"},
                "than": {"experiment": "by_severity", "metric": "accuracy", "setting": "3D CNN, CT-2"},
            },
        ],
    },
}


def write_work(folder: Path, content: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "work.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def measurements(tmp_path: Path, rows: list[dict]) -> pd.DataFrame:
    report.record_measurements(tmp_path, rows, experiment="by_severity", work="000", reference="Table 1")
    return report.read_measurements(tmp_path)


def grade(name: str, value: float, low: float, high: float, n: int = 30) -> dict:
    return {"metric": "accuracy", "setting": f"3D CNN, {name}", "value": value, "ci_low": low, "ci_high": high, "n": n}


@pytest.fixture
def works(tmp_path: Path):
    write_work(tmp_path / "published", WORK)
    return load_published(tmp_path / "published")


def test_side_by_side_puts_the_published_number_in_the_measured_unit(tmp_path, works) -> None:
    table = measurements(tmp_path, [grade("CT-1", 0.4, 0.3, 0.5)])
    joined = reproduction.side_by_side(table, works).set_index("entry")
    assert joined.loc["accuracy_CT-1", "published"] == pytest.approx(0.32)
    assert joined.loc["accuracy_CT-1", "measured"] == pytest.approx(0.4)
    assert joined.loc["accuracy_CT-1", "measured_n"] == 30
    assert joined.loc["accuracy_CT-1", "status"] == "measured"
    assert joined.loc["accuracy_CT-0", "status"] == "not measured in this run"
    assert math.isnan(joined.loc["accuracy_CT-0", "measured"])


def test_side_by_side_shows_the_works_own_definition_beside_the_standard_one(tmp_path, works) -> None:
    report.record_measurements(
        tmp_path,
        [
            {"metric": "box_iou", "setting": "p 0.1", "value": 0.5},
            {"metric": "box_iou_as_published", "setting": "p 0.1", "value": 1 / 3},
        ],
        experiment="boxes",
        work="000",
        reference="Table 2",
    )
    row = reproduction.side_by_side(report.read_measurements(tmp_path), works).set_index("entry").loc["box"]
    assert (row["measured"], row["measured_as_published"]) == pytest.approx((0.5, 1 / 3))


@pytest.mark.parametrize(
    ("values", "verdict"),
    [
        # CT-1 clearly the lowest: intervals apart.
        ({"CT-0": (0.9, 0.85, 0.95), "CT-1": (0.3, 0.2, 0.4), "CT-2": (0.6, 0.5, 0.7)}, "reproduced"),
        # CT-1 lowest by the point estimate only.
        ({"CT-0": (0.9, 0.85, 0.95), "CT-1": (0.5, 0.4, 0.6), "CT-2": (0.55, 0.45, 0.65)}, "same direction, not shown"),
        # CT-2 lower than CT-1 by the point estimate, intervals overlap.
        (
            {"CT-0": (0.9, 0.85, 0.95), "CT-1": (0.55, 0.45, 0.65), "CT-2": (0.5, 0.4, 0.6)},
            "opposite direction, not shown",
        ),
        # CT-2 clearly lower than CT-1.
        ({"CT-0": (0.9, 0.85, 0.95), "CT-1": (0.7, 0.65, 0.75), "CT-2": (0.3, 0.2, 0.4)}, "contradicted"),
    ],
)
def test_a_lowest_claim_is_judged_by_its_intervals(tmp_path, works, values, verdict) -> None:
    table = measurements(tmp_path, [grade(name, *numbers) for name, numbers in values.items()])
    verdicts = reproduction.claim_verdicts(table, works).set_index("claim")
    assert verdicts.loc["ct1_hardest", "verdict"] == verdict
    assert "n = 30" in verdicts.loc["ct1_hardest", "evidence"]


def test_tied_estimates_are_neither_direction(tmp_path, works) -> None:
    table = measurements(tmp_path, [grade("CT-0", 1.0, 0.7, 1.0), grade("CT-2", 1.0, 0.7, 1.0)])
    verdicts = reproduction.claim_verdicts(table, works).set_index("claim")
    assert verdicts.loc["ct0_above_ct2", "verdict"] == "equal estimates, not shown"


def test_an_above_claim_without_intervals_is_not_shown(tmp_path, works) -> None:
    table = measurements(tmp_path, [grade("CT-0", 0.9, 0.9, 0.9, n=1), grade("CT-2", 0.5, 0.5, 0.5, n=1)])
    verdicts = reproduction.claim_verdicts(table, works).set_index("claim")
    assert verdicts.loc["ct0_above_ct2", "verdict"] == "same direction, not shown"
    assert verdicts.loc["ct1_hardest", "verdict"] == "not measured"
    assert "3D CNN, CT-1" in verdicts.loc["ct1_hardest", "evidence"]


def test_unmeasured_entries_lists_what_no_comparison_answers(works) -> None:
    listed = reproduction.unmeasured_entries(works)
    assert listed.to_dict("records") == [{"work": "000", "experiment": "other", "entries": 1, "references": "Figure 3"}]


def test_a_key_measured_twice_is_refused(works) -> None:
    row = {
        "experiment": "by_severity",
        "metric": "accuracy",
        "setting": "3D CNN, CT-1",
        "value": 0.5,
        "ci_low": float("nan"),
        "ci_high": float("nan"),
        "n": 3,
    }
    table = pd.DataFrame([{**row, "work": "000"}, {**row, "work": "001"}])
    with pytest.raises(ValueError, match="twice"):
        reproduction.side_by_side(table, works)


def test_every_comparison_of_the_shipped_files_names_a_metric_a_notebook_records() -> None:
    # The notebooks are the only writers of measurements: a comparison whose metric no notebook
    # records could never be filled.
    sources = "".join(path.read_text() for path in Path(__file__).parents[1].glob("notebooks/*.ipynb"))
    for work in load_published().values():
        for comparison in work.entry_comparisons:
            keys = [comparison.measured] + ([comparison.as_published] if comparison.as_published else [])
            for key in keys:
                assert f'\\"{key.experiment}\\"' in sources, (work.work, comparison.entry["id"], key)
        for check in work.claim_checks:
            for key in (check.subject, *check.others):
                assert f'\\"{key.experiment}\\"' in sources, (work.work, check.claim["id"], key)
