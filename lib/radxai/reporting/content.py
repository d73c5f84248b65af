"""What a run's report says, gathered from its run directory; the renderers only lay it out.

Nothing here computes a measurement: the numbers come from ``tables/measurements.csv``, the
identity from ``run.json``, the published numbers from ``radxai.published``. What a run lacks
(an interrupted notebook, no measurements, a figure that cannot be read) becomes a line of
``ReportContent.problems`` instead of an error, so an incomplete run still gets a report that
says what is missing.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from radxai import reproduction
from radxai.published import PublishedWork, load_published
from radxai.report import CAPTIONS_FILE, MEASUREMENT_COLUMNS, read_measurements

__all__ = ["Figure", "ReportContent", "WorkSection", "gather_content", "format_number", "format_interval"]


@dataclass(frozen=True)
class Figure:
    """A figure of the run: ``path`` relative to the run directory, PNG and, if written, PDF."""

    name: str
    png: str
    pdf: str | None
    caption: str


@dataclass(frozen=True)
class WorkSection:
    """One reproduced work: its published numbers beside the run's, and its claims' verdicts."""

    work: str
    citation: str
    dataset: str
    side_by_side: pd.DataFrame
    claims: pd.DataFrame
    not_compared: pd.DataFrame


@dataclass
class ReportContent:
    """Everything a report shows, in the order it shows it."""

    run_dir: Path
    title: str
    identity: list[tuple[str, str]]
    notebooks: pd.DataFrame
    works: list[WorkSection]
    own_experiments: pd.DataFrame
    figures: list[Figure]
    packages: dict[str, str]
    problems: list[str] = field(default_factory=list)


def gather_content(
    run_dir: str | os.PathLike[str], published: Mapping[str, PublishedWork] | None = None
) -> ReportContent:
    """Read a run directory into a :class:`ReportContent`.

    Args:
        run_dir: the run directory (``run.json``, ``tables/measurements.csv``, ``figures/``).
        published: the works' published numbers; None loads those shipped with radxai.

    Returns:
        The content. Missing parts are listed in ``problems``.

    Raises:
        FileNotFoundError: ``run_dir`` is not a directory.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a run directory")
    problems: list[str] = []
    record = _run_record(run_dir, problems)
    measurements = _measurements(run_dir, problems)
    works = load_published() if published is None else published
    side_by_side = reproduction.side_by_side(measurements, works)
    claims = reproduction.claim_verdicts(measurements, works)
    not_compared = reproduction.unmeasured_entries(works)
    sections = [
        WorkSection(
            work=number,
            citation=work.citation,
            dataset=work.dataset,
            side_by_side=side_by_side[side_by_side.work == number].reset_index(drop=True),
            claims=claims[claims.work == number].reset_index(drop=True),
            not_compared=not_compared[not_compared.work == number].reset_index(drop=True),
        )
        for number, work in works.items()
    ]
    own = measurements[measurements.work == "radxai"].reset_index(drop=True)
    notebooks = _notebooks(record, problems)
    return ReportContent(
        run_dir=run_dir,
        title=f"radxai reproduction report: {run_dir.name}",
        identity=_identity(run_dir, record, measurements),
        notebooks=notebooks,
        works=sections,
        own_experiments=own,
        figures=_figures(run_dir, problems),
        packages=dict(record.get("packages") or {}),
        problems=problems,
    )


def format_number(value: Any, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits; an em dash for a missing number."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "\u2014"
    number = float(value)
    if number.is_integer() and abs(number) < 1e12:
        return str(int(number))
    if abs(number) < 10.0**-digits:
        return f"{number:.{digits - 1}e}"
    # Keep every digit before the decimal point: 1234.5 is "1234.5"-like, never "1.23e+03".
    return f"{number:.{max(digits, int(math.log10(abs(number))) + 1)}g}"


def format_interval(low: Any, high: Any, digits: int = 3) -> str:
    """``"0.12 to 0.34"``; an em dash when either bound is missing."""
    if any(
        bound is None or bound is pd.NA or (isinstance(bound, float) and math.isnan(bound)) for bound in (low, high)
    ):
        return "\u2014"
    return f"{format_number(low, digits)} to {format_number(high, digits)}"


def _run_record(run_dir: Path, problems: list[str]) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not path.is_file():
        problems.append("run.json is missing: the run's identity (commit, profile, timings) is unknown.")
        return {}
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        problems.append(f"run.json cannot be read ({error}): the run's identity is unknown.")
        return {}
    if record.get("status") != "completed":
        failed = record.get("failed_notebook")
        problems.append(
            f"The run's status is {record.get('status')!r}"
            + (f" (failed in {failed})" if failed else "")
            + ": its measurements are those of the notebooks that completed."
        )
    return record


def _measurements(run_dir: Path, problems: list[str]) -> pd.DataFrame:
    try:
        measurements = read_measurements(run_dir)
    except ValueError as error:
        problems.append(f"The measurements table cannot be read: {error}")
        return pd.DataFrame(columns=list(MEASUREMENT_COLUMNS))
    if measurements.empty:
        problems.append(
            "tables/measurements.csv is missing or empty: no number of this run can be set beside the published ones."
        )
    return measurements


def _identity(run_dir: Path, record: Mapping[str, Any], measurements: pd.DataFrame) -> list[tuple[str, str]]:
    git = record.get("git") or {}
    commit = git.get("commit", "unknown")
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    parameters = record.get("profile_parameters") or {}
    seconds = sum(entry.get("seconds") or 0 for entry in (record.get("notebooks") or {}).values())
    seeds = sorted(set(measurements["seeds"].dropna())) if not measurements.empty else []
    return [
        ("Run directory", run_dir.name),
        (
            "Profile",
            f"{record.get('profile', 'unknown')}: {' '.join(str(record.get('profile_description', '')).split())}",
        ),
        ("Status", str(record.get("status", "unknown"))),
        ("Started / finished", f"{record.get('started', '?')} / {record.get('finished', '?')}"),
        ("Wall time of the notebooks", f"{seconds / 60:.1f} min"),
        ("Commit", commit),
        ("Seed (profile)", str(parameters.get("seed", "unknown"))),
        ("Training seeds behind the measurements", ", ".join(seeds) or "none recorded"),
        ("Python / platform", f"{record.get('python', '?')} / {record.get('platform', '?')}"),
        ("Machine", str(record.get("machine") or "not recorded (a run made before run.json recorded it)")),
        ("Measurements", f"{len(measurements)} numbers in tables/measurements.csv"),
    ]


def _notebooks(record: Mapping[str, Any], problems: list[str]) -> pd.DataFrame:
    rows = [
        {"notebook": name, "status": entry.get("status", "unknown"), "minutes": (entry.get("seconds") or math.nan) / 60}
        for name, entry in (record.get("notebooks") or {}).items()
    ]
    selected = record.get("selected_notebooks") or []
    ran = {row["notebook"] for row in rows}
    rows += [{"notebook": name, "status": "not run", "minutes": math.nan} for name in selected if name not in ran]
    unfinished = [row["notebook"] for row in rows if row["status"] != "completed"]
    if unfinished:
        problems.append(f"Not completed: {', '.join(unfinished)}; their measurements are missing.")
    return pd.DataFrame(rows, columns=["notebook", "status", "minutes"])


def _figures(run_dir: Path, problems: list[str]) -> list[Figure]:
    folder = run_dir / "figures"
    captions: dict[str, str] = {}
    if (folder / CAPTIONS_FILE).is_file():
        try:
            captions = json.loads((folder / CAPTIONS_FILE).read_text())
        except json.JSONDecodeError:
            problems.append(f"figures/{CAPTIONS_FILE} cannot be read; figures are captioned by name.")
    figures = []
    for png in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        if not _readable_png(png):
            problems.append(f"Figure {png.name} cannot be read as a PNG image; it is left out.")
            continue
        pdf = png.with_suffix(".pdf")
        caption = captions.get(png.stem) or png.stem.replace("_", " ").capitalize() + "."
        figures.append(
            Figure(
                name=png.stem,
                png=f"figures/{png.name}",
                pdf=f"figures/{pdf.name}" if pdf.is_file() else None,
                caption=caption,
            )
        )
    return figures


def _readable_png(path: Path) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError):
        return False
    return True
