"""The report as a PDF (fpdf2; DejaVu Sans from matplotlib, embedded): the same content as the
HTML page, landscape A4 so the side-by-side tables fit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from radxai.reporting import tables
from radxai.reporting.content import ReportContent

__all__ = ["render_pdf"]

_FONT = "DejaVu"
# Relative column widths of each table, in its header's order.
_WIDTHS = {
    tables.SIDE_BY_SIDE_HEADER: (7, 20, 7, 7, 9, 6, 7, 9, 6, 8, 14),
    tables.CLAIMS_HEADER: (30, 16, 12, 34, 8),
    tables.MEASUREMENTS_HEADER: (18, 22, 30, 8, 14, 6),
    tables.NOT_COMPARED_HEADER: (35, 15, 50),
    tables.NOTEBOOKS_HEADER: (50, 25, 25),
    ("Item", "Value"): (25, 75),
}


def render_pdf(content: ReportContent, folder: Path) -> Path:
    """Write ``folder/report.pdf``.

    A figure that cannot be placed (an unreadable image) is named in the PDF instead, and the
    rest is still written.

    Returns:
        The path written.
    """
    from fpdf import FPDF
    from matplotlib import font_manager

    document = FPDF(orientation="landscape", format="A4")
    document.set_auto_page_break(auto=True, margin=12)
    regular = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))
    bold = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight="bold"))
    document.add_font(_FONT, "", regular)
    document.add_font(_FONT, "B", bold)
    document.set_title(content.title)
    document.add_page()
    _heading(document, content.title, 14)
    for problem in content.problems:
        _paragraph(document, f"Incomplete: {problem}")
    _heading(document, "Run", 12)
    _table(document, ("Item", "Value"), content.identity)
    _table(document, tables.NOTEBOOKS_HEADER, tables.notebooks_rows(content.notebooks))
    for section in content.works:
        document.add_page()
        _heading(document, f"Work {section.work}: {section.citation}", 12)
        _paragraph(document, f"Dataset of the work: {section.dataset}.")
        if not section.side_by_side.empty:
            _heading(document, "Published numbers beside this run's", 10)
            _table(document, tables.SIDE_BY_SIDE_HEADER, tables.side_by_side_rows(section.side_by_side))
        if not section.claims.empty:
            _heading(document, "Claims", 10)
            _table(document, tables.CLAIMS_HEADER, tables.claims_rows(section.claims))
        if not section.not_compared.empty:
            _heading(document, "Published numbers radxai does not set beside its own", 10)
            _table(document, tables.NOT_COMPARED_HEADER, tables.not_compared_rows(section.not_compared))
    if not content.own_experiments.empty:
        document.add_page()
        _heading(document, "radxai's own experiments (no published counterpart)", 12)
        _table(document, tables.MEASUREMENTS_HEADER, tables.measurements_rows(content.own_experiments))
    for figure in content.figures:
        document.add_page()
        _heading(document, figure.caption, 10)
        try:
            document.image(
                str(content.run_dir / figure.png), w=document.epw, h=document.eph - 20, keep_aspect_ratio=True
            )
        except Exception as error:  # noqa: BLE001 - any image failure is reported, not raised
            _paragraph(document, f"Figure {figure.png} could not be placed: {error}")
    path = folder / "report.pdf"
    document.output(str(path))
    return path


def _heading(document, text: str, size: int) -> None:
    document.set_font(_FONT, "B", size)
    document.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
    document.ln(1)


def _paragraph(document, text: str) -> None:
    document.set_font(_FONT, "", 8)
    document.multi_cell(0, 4, text, new_x="LMARGIN", new_y="NEXT")
    document.ln(1)


def _table(document, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    document.set_font(_FONT, "", 6.5)
    widths = _WIDTHS.get(tuple(header), tuple(1 for _ in header))
    with document.table(col_widths=widths, text_align="LEFT", line_height=3.2, first_row_as_headings=True) as table:
        for values in (header, *rows):
            row = table.row()
            for value in values:
                row.cell(str(value))
    document.ln(3)
