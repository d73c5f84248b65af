"""The report as one HTML page that opens from disk with no network: inline CSS, figures by
relative path (``../figures/...``, files of the run directory)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from radxai.reporting import tables
from radxai.reporting.content import ReportContent

__all__ = ["render_html"]

_STYLE = """
body { font-family: sans-serif; max-width: 75em; margin: 2em auto; padding: 0 1em; line-height: 1.4; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.verdict-reproduced { background: #d8ecd8; }
td.verdict-contradicted { background: #f3d3d3; }
td.verdict-opposite { background: #f7e6cc; }
.problems { background: #fff4d6; border: 1px solid #e0c060; padding: 0.5em 1em; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
"""


def render_html(content: ReportContent, folder: Path) -> Path:
    """Write ``folder/index.html``; ``folder`` is a direct child of the run directory.

    Returns:
        The path written.
    """
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(content.title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(content.title)}</h1>"
    ]
    if content.problems:
        parts.append(
            "<div class='problems'><strong>This run is incomplete or partly unreadable:</strong><ul>"
            + "".join(f"<li>{escape(problem)}</li>" for problem in content.problems)
            + "</ul></div>"
        )
    parts.append("<h2>Run</h2>" + _table(("Item", "Value"), content.identity))
    parts.append("<h3>Notebooks</h3>" + _table(tables.NOTEBOOKS_HEADER, tables.notebooks_rows(content.notebooks)))
    for section in content.works:
        parts.append(
            f"<h2>Work {escape(section.work)}: {escape(section.citation)}</h2>"
            f"<p>Dataset of the work: {escape(section.dataset)}.</p>"
        )
        parts.append(
            "<h3>Published numbers beside this run's</h3>"
            + (
                _table(tables.SIDE_BY_SIDE_HEADER, tables.side_by_side_rows(section.side_by_side))
                if not section.side_by_side.empty
                else "<p>No published number of this work has a counterpart in radxai's experiments.</p>"
            )
        )
        if not section.claims.empty:
            parts.append(
                "<h3>Claims</h3>" + _table(tables.CLAIMS_HEADER, tables.claims_rows(section.claims), verdict_column=2)
            )
        if not section.not_compared.empty:
            parts.append(
                "<h3>Published numbers radxai does not set beside its own</h3>"
                + _table(tables.NOT_COMPARED_HEADER, tables.not_compared_rows(section.not_compared))
            )
    if not content.own_experiments.empty:
        parts.append(
            "<h2>radxai's own experiments (no published counterpart)</h2>"
            + _table(tables.MEASUREMENTS_HEADER, tables.measurements_rows(content.own_experiments))
        )
    parts.append("<h2>Figures</h2>")
    for figure in content.figures:
        parts.append(
            f"<figure id='{escape(figure.name)}'><img src='../{escape(figure.png)}' "
            f"alt='{escape(figure.caption)}' loading='lazy'>"
            f"<figcaption>{escape(figure.caption)}</figcaption></figure>"
        )
    if content.packages:
        parts.append("<h2>Package versions</h2>" + _table(("Package", "Version"), sorted(content.packages.items())))
    parts.append("</body></html>\n")
    path = folder / "index.html"
    path.write_text("".join(parts), encoding="utf-8")
    return path


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], verdict_column: int | None = None) -> str:
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = []
    for row in rows:
        cells = []
        for position, cell in enumerate(row):
            css = f" class='verdict-{escape(str(cell).split()[0].rstrip(','))}'" if position == verdict_column else ""
            cells.append(f"<td{css}>{escape(str(cell))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
