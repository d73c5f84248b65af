"""Tests of radxai.run_comparison: which measurements of a run moved against a reference."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from radxai import cli, report, run_comparison

ROWS = [
    {"metric": "auroc", "setting": "3D CNN", "value": 0.9, "ci_low": 0.8, "ci_high": 0.97, "n": 60},
    {"metric": "evidence_share", "setting": "focal", "value": 0.011, "n": 60},
]


def make_run(folder: Path, rows=ROWS, profile: str = "default") -> Path:
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"profile": profile}))
    report.record_measurements(folder, rows, experiment="control", work="radxai", reference="")
    return folder


def changed(**values) -> list[dict]:
    return [{**row, "value": values.get(row["setting"].replace(" ", "_"), row["value"])} for row in ROWS]


def test_an_unchanged_run_passes(tmp_path) -> None:
    comparison = run_comparison.compare_runs(make_run(tmp_path / "run"), make_run(tmp_path / "reference"))
    assert comparison.passed and comparison.compared == 2
    assert "PASSED" in comparison.summary()


def test_a_value_inside_the_reference_ci_has_not_moved(tmp_path) -> None:
    comparison = run_comparison.compare_runs(
        make_run(tmp_path / "run", changed(**{"3D_CNN": 0.95})), make_run(tmp_path / "reference")
    )
    assert comparison.passed


def test_a_value_outside_the_reference_ci_moved(tmp_path) -> None:
    comparison = run_comparison.compare_runs(
        make_run(tmp_path / "run", changed(**{"3D_CNN": 0.7})), make_run(tmp_path / "reference")
    )
    assert not comparison.passed
    assert comparison.moved["setting"].tolist() == ["3D CNN"]
    assert "outside the reference's CI" in comparison.moved["rule"].iloc[0]
    assert "moved: control / auroc / 3D CNN: 0.9 -> 0.7" in comparison.summary()


def test_a_deterministic_value_is_held_to_the_relative_tolerance(tmp_path) -> None:
    reference = make_run(tmp_path / "reference")
    assert run_comparison.compare_runs(make_run(tmp_path / "close", changed(focal=0.011000001)), reference).passed
    moved = run_comparison.compare_runs(make_run(tmp_path / "far", changed(focal=0.012)), reference)
    assert moved.moved["setting"].tolist() == ["focal"]


def test_a_missing_measurement_fails_and_a_new_one_does_not(tmp_path) -> None:
    reference = make_run(tmp_path / "reference")
    comparison = run_comparison.compare_runs(make_run(tmp_path / "run", ROWS[:1]), reference)
    assert comparison.missing["setting"].tolist() == ["focal"] and not comparison.passed
    extra = ROWS + [{"metric": "auroc", "setting": "AxialNet", "value": 0.8}]
    comparison = run_comparison.compare_runs(make_run(tmp_path / "more", extra), reference)
    assert comparison.passed and comparison.added["setting"].tolist() == ["AxialNet"]


def test_runs_of_different_profiles_are_refused_unless_asked(tmp_path) -> None:
    run, reference = make_run(tmp_path / "run", profile="smoke"), make_run(tmp_path / "reference")
    with pytest.raises(run_comparison.ProfileMismatchError, match="'smoke' run .* 'default' run"):
        run_comparison.compare_runs(run, reference)
    assert run_comparison.compare_runs(run, reference, allow_different_profiles=True).passed


def test_a_directory_without_measurements_is_named(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty has no tables/measurements.csv"):
        run_comparison.compare_runs(tmp_path / "empty", make_run(tmp_path / "reference"))
    with pytest.raises(ValueError, match="relative_tolerance"):
        run_comparison.compare_runs(tmp_path / "reference", tmp_path / "reference", relative_tolerance=0)


def test_the_command_exits_1_on_a_moved_value_and_2_on_a_profile_mismatch(tmp_path, capsys) -> None:
    reference = make_run(tmp_path / "reference")
    assert cli.main(["compare", str(make_run(tmp_path / "same")), str(reference)]) == 0
    assert cli.main(["compare", str(make_run(tmp_path / "moved", changed(focal=0.02))), str(reference)]) == 1
    assert "FAILED" in capsys.readouterr().out
    assert cli.main(["compare", str(make_run(tmp_path / "smoke", profile="smoke")), str(reference)]) == 2
    assert "differ by design" in capsys.readouterr().err


def test_the_committed_reference_results_are_a_usable_reference() -> None:
    # results/default is what `radxai compare` and `radxai reproduce` compare a run with.
    reference = Path(__file__).parents[1] / "results" / "default"
    comparison = run_comparison.compare_runs(reference, reference)
    assert comparison.passed and comparison.compared > 0
    assert comparison.run_profile == "default"
    assert set(report.read_measurements(reference)["profile"]) == {"default"}
    html = (reference / "report" / "index.html").read_text()
    for linked in re.findall(r"(?:src|href)='([^']+)'", html):
        assert (reference / "report" / linked).resolve().is_file(), linked
