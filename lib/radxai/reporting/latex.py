"""The report as LaTeX: ``report.tex`` (a complete document) and one ``tables/<name>.tex`` per
table, each a ``longtable`` a thesis can ``\\input`` (it needs the booktabs and longtable
packages). Figures are included from the run's ``figures/*.pdf``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from radxai.reporting import tables
from radxai.reporting.content import ReportContent

__all__ = ["escape_latex", "render_latex"]

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\u2014": "---",
    "\u2013": "--",
    "\u2264": r"$\leq$",
    "\u2265": r"$\geq$",
    "\u00b1": r"$\pm$",
    "\u00d7": r"$\times$",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_SPECIAL_PATTERN = re.compile("|".join(re.escape(character) for character in _SPECIAL))
# Column widths (fractions of \linewidth) of the tables, chosen so each fits a page in portrait.
_SIDE_BY_SIDE_COLUMNS = (0.09, 0.27, 0.08, 0.13, 0.17, 0.09, 0.13)
_CLAIMS_COLUMNS = (0.28, 0.14, 0.45, 0.08)


def escape_latex(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (and dashes, <=, >= made LaTeX)."""
    return _SPECIAL_PATTERN.sub(lambda match: _SPECIAL[match.group()], str(text))


def render_latex(content: ReportContent, folder: Path) -> list[Path]:
    """Write ``folder/report.tex`` and ``folder/tables/*.tex``; return every path written."""
    table_folder = folder / "tables"
    table_folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    body = [
        r"\section*{Run}",
        _input(table_folder, "run_identity", ("Item", "Value"), content.identity, (0.3, 0.65), written),
    ]
    body.append(
        _input(
            table_folder,
            "notebooks",
            tables.NOTEBOOKS_HEADER,
            tables.notebooks_rows(content.notebooks),
            (0.5, 0.2, 0.15),
            written,
        )
    )
    if content.problems:
        body.append(r"\paragraph{Incomplete run.}" + " ".join(escape_latex(problem) for problem in content.problems))
    for section in content.works:
        body.append(rf"\section*{{Work {section.work}: {escape_latex(section.citation)}}}")
        if not section.side_by_side.empty:
            rows = [
                (
                    reference,
                    setting,
                    metric,
                    _with_interval(published, interval, n),
                    _with_interval(measured, measured_interval, measured_n),
                    as_published,
                    measured_setting,
                )
                for (
                    reference,
                    setting,
                    metric,
                    published,
                    interval,
                    n,
                    measured,
                    measured_interval,
                    measured_n,
                    as_published,
                    measured_setting,
                ) in tables.side_by_side_rows(section.side_by_side)
            ]
            body.append(
                _input(
                    table_folder,
                    f"work_{section.work}_side_by_side",
                    (
                        "Reference",
                        "Setting (published)",
                        "Metric",
                        "Published (95% CI, n)",
                        "Measured (95% CI, n)",
                        "Work's definition",
                        "Measured setting",
                    ),
                    rows,
                    _SIDE_BY_SIDE_COLUMNS,
                    written,
                )
            )
        if not section.claims.empty:
            rows = [
                (text, verdict, evidence, holds)
                for text, _, verdict, evidence, holds in tables.claims_rows(section.claims)
            ]
            body.append(
                _input(
                    table_folder,
                    f"work_{section.work}_claims",
                    ("Claim", "Verdict", "Evidence", "Holds in the work"),
                    rows,
                    _CLAIMS_COLUMNS,
                    written,
                )
            )
    if not content.own_experiments.empty:
        body.append(r"\section*{radxai's own experiments}")
        body.append(
            _input(
                table_folder,
                "own_experiments",
                tables.MEASUREMENTS_HEADER,
                tables.measurements_rows(content.own_experiments),
                (0.2, 0.22, 0.26, 0.08, 0.12, 0.05),
                written,
            )
        )
    figures = [figure for figure in content.figures if figure.pdf]
    if figures:
        body.append(r"\section*{Figures}")
        for figure in figures:
            body.append(
                r"\begin{figure}[htbp]\centering"
                rf"\includegraphics[width=\linewidth,height=0.8\textheight,keepaspectratio]{{../{figure.pdf}}}"
                rf"\caption{{{escape_latex(figure.caption)}}}\end{{figure}}"
            )
    document = "\n".join(
        [
            r"\documentclass[10pt]{article}",
            r"\usepackage[margin=2cm]{geometry}",
            r"\usepackage[T1]{fontenc}",
            r"\usepackage{booktabs,longtable,array,graphicx}",
            rf"\title{{{escape_latex(content.title)}}}",
            r"\date{}",
            r"\begin{document}",
            r"\maketitle",
            *body,
            r"\end{document}",
            "",
        ]
    )
    report = folder / "report.tex"
    report.write_text(document, encoding="utf-8")
    return [report, *written]


def _with_interval(value: str, interval: str, n: str) -> str:
    details = [part for part in (interval if interval != "\u2014" else "", f"n = {n}" if n != "\u2014" else "") if part]
    return f"{value} ({', '.join(details)})" if details else value


def _input(
    folder: Path,
    name: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    written: list[Path],
) -> str:
    columns = "".join(rf">{{\raggedright\arraybackslash}}p{{{width:.2f}\linewidth}}" for width in widths)
    head = " & ".join(rf"\textbf{{{escape_latex(cell)}}}" for cell in header) + r" \\"
    lines = [r"{\footnotesize", rf"\begin{{longtable}}{{{columns}}}", r"\toprule", head, r"\midrule", r"\endhead"]
    lines += [" & ".join(escape_latex(cell) for cell in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{longtable}}", ""]
    path = folder / f"{name}.tex"
    path.write_text("\n".join(lines), encoding="utf-8")
    written.append(path)
    return rf"\input{{tables/{name}}}"
