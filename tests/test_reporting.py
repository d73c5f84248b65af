"""Tests of radxai.reporting: the run's report in HTML, Markdown, LaTeX and PDF."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from radxai import cli, report, reporting  # noqa: E402
from radxai.published import load_published  # noqa: E402
from radxai.reporting.content import format_interval, format_number  # noqa: E402
from radxai.reporting.latex import escape_latex  # noqa: E402

PUBLISHED = {
    "work": "002",
    "citation": "Draelos & Carin, HiResCAM",
    "dataset": "RAD-ChestCT",
    "entries": [
        {
            "id": f"organ_iou_{method}",
            "reference": "Table 2",
            "metric": "organ_iou",
            "metric_definition": "IoU of the organ mask",
            "setting": f"{method}, AxialNet",
            "unit": "percent",
            "value": value,
            "n": 7209,
            "source_line": str(value),
        }
        for method, value in (("hirescam", 27.6), ("gradcam", 21.4))
    ],
    "claims": [
        {
            "id": "hirescam_above",
            "text": "HiResCAM OrganIoU above Grad-CAM.",
            "holds_in_numbers": True,
            "entries": ["organ_iou_hirescam", "organ_iou_gradcam"],
        }
    ],
    "comparisons": {
        "entries": [
            {
                "entry": f"organ_iou_{method}",
                "published_scale": 0.01,
                "measured": {
                    "experiment": "mask_loss_organ_iou",
                    "metric": "organ_iou",
                    "setting": f"{label}, with mask loss",
                },
            }
            for method, label in (("hirescam", "HiResCAM"), ("gradcam", "Grad-CAM"))
        ],
        "claims": [
            {
                "claim": "hirescam_above",
                "check": "above",
                "subject": {
                    "experiment": "mask_loss_organ_iou",
                    "metric": "organ_iou",
                    "setting": "HiResCAM, with mask loss",
                },
                "than": {
                    "experiment": "mask_loss_organ_iou",
                    "metric": "organ_iou",
                    "setting": "Grad-CAM, with mask loss",
                },
            }
        ],
    },
}
MEASURED = [
    {
        "metric": "organ_iou",
        "setting": "HiResCAM, with mask loss",
        "value": 0.3125,
        "ci_low": 0.28,
        "ci_high": 0.35,
        "n": 40,
    },
    {
        "metric": "organ_iou",
        "setting": "Grad-CAM, with mask loss",
        "value": 0.1875,
        "ci_low": 0.15,
        "ci_high": 0.22,
        "n": 40,
    },
]


@pytest.fixture
def published(tmp_path: Path):
    folder = tmp_path / "published"
    folder.mkdir()
    (folder / "002.yaml").write_text(yaml.safe_dump(PUBLISHED))
    return load_published(folder)


def make_run(run_dir: Path, *, status: str = "completed") -> Path:
    run_dir.mkdir(parents=True)
    record = {
        "profile": "smoke",
        "profile_description": "tiny",
        "status": status,
        "failed_notebook": None if status == "completed" else "08_guided_training.ipynb",
        "git": {"commit": "abc123", "dirty": False},
        "python": "3.11",
        "platform": "Linux",
        "packages": {"torch": "2.13.0"},
        "profile_parameters": {"seed": 0},
        "notebooks": {"02_training.ipynb": {"status": "completed", "seconds": 60.0}},
        "selected_notebooks": ["02_training.ipynb"] + ([] if status == "completed" else ["08_guided_training.ipynb"]),
    }
    (run_dir / "run.json").write_text(json.dumps(record))
    report.record_measurements(
        run_dir, MEASURED, experiment="mask_loss_organ_iou", work="002", reference="Table 2", seeds=0
    )
    report.record_measurements(
        run_dir,
        [{"metric": "auroc", "setting": "focal 3D CNN", "value": 0.9}],
        experiment="positive_control",
        work="radxai",
        reference="",
    )
    for name in ("organ_iou_bars", "roc"):
        figure, axes = plt.subplots()
        axes.plot([0, 1], [0, 1])
        axes.set_title(f"The {name} figure")
        report.save_figure(figure, run_dir, name)
        plt.close(figure)
    return run_dir


def test_every_compared_published_number_appears_in_html_and_latex(tmp_path, published) -> None:
    run_dir = make_run(tmp_path / "run")
    written = reporting.write_report(run_dir, published)
    assert not written.failures and not written.problems
    html = (written.folder / "index.html").read_text()
    latex = (written.folder / "report.tex").read_text() + "".join(
        path.read_text() for path in (written.folder / "tables").glob("*.tex")
    )
    for text in ("0.276", "0.214", "0.312", "0.188", "0.28 to 0.35", "abc123"):
        assert text in html, text
        assert text in latex, text
    assert "reproduced" in html and "reproduced" in latex
    assert "The roc figure" in html and "The roc figure" in latex
    assert (written.folder / "report.pdf").read_bytes().startswith(b"%PDF")
    assert "0.276" in (written.folder / "report.md").read_text()


def test_the_html_references_only_files_that_exist(tmp_path, published) -> None:
    run_dir = make_run(tmp_path / "run")
    folder = reporting.write_report(run_dir, published).folder
    references = re.findall(r"(?:src|href)='([^']+)'", (folder / "index.html").read_text())
    assert references, "the figures are referenced"
    for reference in references:
        assert not reference.startswith(("http:", "https:", "//")), reference
        assert (folder / reference).resolve().is_file(), reference


def test_an_interrupted_run_reports_what_exists_and_names_what_is_missing(tmp_path, published) -> None:
    run_dir = make_run(tmp_path / "run", status="failed")
    (run_dir / "figures" / "broken.png").write_bytes(b"not an image")
    written = reporting.write_report(run_dir, published)
    assert not written.failures
    html = (written.folder / "index.html").read_text()
    assert "08_guided_training.ipynb" in html and "not run" in html
    assert "broken.png cannot be read" in html
    assert "0.312" in html  # what was measured is still there


def test_a_run_without_measurements_still_gets_a_report(tmp_path, published) -> None:
    (tmp_path / "bare").mkdir()
    written = reporting.write_report(tmp_path / "bare", published)
    assert any("measurements.csv is missing" in problem for problem in written.problems)
    assert any("run.json is missing" in problem for problem in written.problems)
    assert "not measured" in (written.folder / "index.html").read_text()


def test_a_layout_that_fails_is_named_and_the_others_are_written(tmp_path, published, monkeypatch) -> None:
    def broken(content, folder):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(reporting, "render_pdf", broken)
    run_dir = make_run(tmp_path / "run")
    written = reporting.write_report(run_dir, published)
    assert written.failures == {"PDF": "RuntimeError: no fonts"}
    assert (written.folder / "index.html").is_file()


def test_the_command_writes_the_report(tmp_path, capsys) -> None:
    run_dir = make_run(tmp_path / "run")
    assert cli.main(["report", str(run_dir)]) == 0
    assert "index.html" in capsys.readouterr().out
    assert (run_dir / "report" / "report.pdf").is_file()


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0095, "0.0095"), (86.0, "86"), (0.312345, "0.312"), (2.12e-12, "2.12e-12"), (float("nan"), "\u2014")],
)
def test_numbers_are_shown_to_three_significant_digits(value, text) -> None:
    assert format_number(value) == text
    assert format_interval(0.1, float("nan")) == "\u2014"


def test_latex_special_characters_are_escaped() -> None:
    assert escape_latex("50% of a_b & {c} \u2264 #1") == r"50\% of a\_b \& \{c\} $\leq$ \#1"
