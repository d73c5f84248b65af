"""Figures (PNG + PDF) and tables (CSV + LaTeX) written into a run directory, byte-reproducibly.

Same figure or table, same bytes: PDF creation dates are left out, and files are written to a
temporary name first and then moved into place, so an interrupted write never damages an
earlier output.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

FIGURE_FORMATS = ("png", "pdf")


def _replace_atomically(write, path: Path) -> Path:
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def save_figure(figure: Figure, run_dir: str | os.PathLike[str], name: str, dpi: int = 110) -> list[Path]:
    """Save ``figure`` as ``run_dir/figures/<name>.png`` and ``.pdf``; return both paths.

    ``dpi`` applies to the PNG (the PDF is vector). Metadata that changes from run to run (the
    PDF creation date) is omitted so two runs give identical files.
    """
    folder = Path(run_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for extension in FIGURE_FORMATS:
        metadata = {"CreationDate": None} if extension == "pdf" else {}
        written.append(_replace_atomically(
            lambda target, ext=extension, meta=metadata: figure.savefig(
                target, format=ext, dpi=dpi, bbox_inches="tight", metadata=meta),
            folder / f"{name}.{extension}",
        ))
    return written


def save_table(table: pandas.DataFrame, run_dir: str | os.PathLike[str], name: str,
               float_format: str = "%.4f", caption: str | None = None,
               folder_name: str = "tables") -> list[Path]:
    """Save ``table`` as ``run_dir/<folder_name>/<name>.csv`` and ``.tex``; return both paths.

    Floats are written with ``float_format`` so a table is byte-identical across runs that
    produce the same numbers. Wall-clock measurements, which differ between runs, go to
    ``folder_name="timings"`` so that ``tables/`` stays reproducible byte for byte.
    """
    folder = Path(run_dir) / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = _replace_atomically(
        lambda target: table.to_csv(target, float_format=float_format, lineterminator="\n"),
        folder / f"{name}.csv")
    latex = table.to_latex(float_format=lambda value: float_format % value, caption=caption,
                           label=f"tab:{name}")
    tex_path = _replace_atomically(lambda target: Path(target).write_text(latex), folder / f"{name}.tex")
    return [csv_path, tex_path]
