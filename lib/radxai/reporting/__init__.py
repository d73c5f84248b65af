"""The reproduction report of a run: ``RUN_DIR/report/`` with ``index.html``, ``report.pdf``,
``report.md``, ``report.tex`` and ``tables/*.tex``.

Per reproduced work, the published numbers (``radxai.published``) stand beside the run's
measurements (``tables/measurements.csv``) with CIs and n, the same metric under the work's own
definition where that differs, and whether each checkable claim reproduces; then radxai's own
experiments, the figures and the run's identity. An interrupted run gets a report that says
what is missing; a layout that fails (e.g. the PDF) is named and the others are still written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from radxai.published import PublishedWork
from radxai.reporting.content import ReportContent, gather_content
from radxai.reporting.html import render_html
from radxai.reporting.latex import render_latex
from radxai.reporting.markdown import render_markdown
from radxai.reporting.pdf import render_pdf

__all__ = ["REPORT_FOLDER", "ReportFiles", "ReportContent", "gather_content", "write_report"]

REPORT_FOLDER = "report"


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report` wrote.

    Attributes:
        folder: ``RUN_DIR/report``.
        files: every file written.
        failures: ``{layout: error text}`` for a layout that could not be written.
        problems: what the run lacks (from :class:`ReportContent`).
        seconds: wall time of the rendering.
    """

    folder: Path
    files: list[Path]
    failures: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def write_report(run_dir: str | os.PathLike[str], published: Mapping[str, PublishedWork] | None = None) -> ReportFiles:
    """Render the report of ``run_dir`` into ``run_dir/report/``.

    Args:
        run_dir: a run directory of ``radxai reproduce`` (or any folder in its layout).
        published: the works' published numbers; None uses those shipped with radxai.

    Returns:
        A :class:`ReportFiles`.

    Raises:
        FileNotFoundError: ``run_dir`` is not a directory.
        radxai.published.PublishedDataError: a malformed published-numbers file.
    """
    started = time.perf_counter()
    content = gather_content(run_dir, published)
    folder = Path(run_dir) / REPORT_FOLDER
    folder.mkdir(exist_ok=True)
    files: list[Path] = []
    failures: dict[str, str] = {}
    for layout, render in (
        ("HTML", render_html),
        ("Markdown", render_markdown),
        ("LaTeX", render_latex),
        ("PDF", render_pdf),
    ):
        try:
            written = render(content, folder)
        except Exception as error:  # noqa: BLE001 - one failed layout must not stop the others
            failures[layout] = f"{type(error).__name__}: {error}"
            continue
        files += written if isinstance(written, list) else [written]
    return ReportFiles(
        folder=folder,
        files=files,
        failures=failures,
        problems=list(content.problems),
        seconds=time.perf_counter() - started,
    )
