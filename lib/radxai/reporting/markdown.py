"""The report as Markdown (``report.md``), for reading on a code host beside the committed
reference results. Figures by relative path, like the HTML page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from radxai.reporting import tables
from radxai.reporting.content import ReportContent

__all__ = ["render_markdown"]


def render_markdown(content: ReportContent, folder: Path) -> Path:
    """Write ``folder/report.md``; ``folder`` is a direct child of the run directory."""
    lines = [f"# {content.title}", ""]
    if content.problems:
        lines += ["**This run is incomplete or partly unreadable:**", ""]
        lines += [f"- {problem}" for problem in content.problems] + [""]
    lines += [
        "## Run",
        "",
        *_table(("Item", "Value"), content.identity),
        "",
        "### Notebooks",
        "",
        *_table(tables.NOTEBOOKS_HEADER, tables.notebooks_rows(content.notebooks)),
        "",
    ]
    for section in content.works:
        lines += [f"## Work {section.work}: {section.citation}", "", f"Dataset of the work: {section.dataset}.", ""]
        if not section.side_by_side.empty:
            lines += [
                "### Published numbers beside this run's",
                "",
                *_table(tables.SIDE_BY_SIDE_HEADER, tables.side_by_side_rows(section.side_by_side)),
                "",
            ]
        if not section.claims.empty:
            lines += ["### Claims", "", *_table(tables.CLAIMS_HEADER, tables.claims_rows(section.claims)), ""]
        if not section.not_compared.empty:
            lines += [
                "### Published numbers radxai does not set beside its own",
                "",
                *_table(tables.NOT_COMPARED_HEADER, tables.not_compared_rows(section.not_compared)),
                "",
            ]
    if not content.own_experiments.empty:
        lines += [
            "## radxai's own experiments (no published counterpart)",
            "",
            *_table(tables.MEASUREMENTS_HEADER, tables.measurements_rows(content.own_experiments)),
            "",
        ]
    if content.figures:
        lines += ["## Figures", ""]
        for figure in content.figures:
            lines += [f"![{figure.caption}](../{figure.png})", "", f"*{figure.caption}*", ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    return [
        "| " + " | ".join(cell(name) for name in header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(cell(value) for value in row) + " |" for row in rows),
    ]
