"""One matplotlib style for radxai's figures: readable at a journal's column width, fonts
embedded in PDF as TrueType, colour-blind-safe maps.

Use :func:`paper_style` around figure code (or :func:`use_paper_style` once in a notebook) and
:func:`figure_size` for the figure's size. ``SEQUENTIAL_COLORMAP`` (viridis) is for heatmaps and
``DIVERGING_COLORMAP`` (RdBu_r, centred at 0) for signed attributions; the jet map stays only in
figures that reproduce a work which used it (the 3D COVID-19 work's Grad-CAM overlays).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl

__all__ = [
    "DIVERGING_COLORMAP",
    "FIGURE_WIDTHS_INCHES",
    "OKABE_ITO",
    "PAPER_STYLE",
    "PDF_FONTS",
    "REPRODUCED_WORK_COLORMAP",
    "SEQUENTIAL_COLORMAP",
    "figure_size",
    "paper_style",
    "use_paper_style",
]

SEQUENTIAL_COLORMAP = "viridis"
DIVERGING_COLORMAP = "RdBu_r"
REPRODUCED_WORK_COLORMAP = "jet"
# Okabe & Ito's palette, distinguishable under the common colour-vision deficiencies.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
# One column (89 mm) and two columns (183 mm), the common journal widths.
FIGURE_WIDTHS_INCHES = {"single": 3.5, "double": 7.2}
# TrueType (Type 42) fonts in PDF and PostScript: embedded, selectable, accepted by journals;
# matplotlib's default, Type 3, is refused by some submission systems.
PDF_FONTS = {"pdf.fonttype": 42, "ps.fonttype": 42}
PAPER_STYLE: dict[str, Any] = {
    **PDF_FONTS,
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "figure.titlesize": 10,
    "axes.prop_cycle": mpl.cycler(color=OKABE_ITO),
    "image.cmap": SEQUENTIAL_COLORMAP,
    "figure.dpi": 110,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
}


def figure_size(width: str = "single", *, aspect: float = 0.75) -> tuple[float, float]:
    """(width, height) in inches of a figure one or two journal columns wide.

    Parameters
    ----------
    width : {"single", "double"}
        One column (3.5 in, 89 mm) or the full page width (7.2 in, 183 mm).
    aspect : float, keyword-only
        Height over width, a positive number.

    Raises
    ------
    ValueError
        An unknown width or a non-positive aspect.
    """
    if width not in FIGURE_WIDTHS_INCHES:
        raise ValueError(f"width must be one of {sorted(FIGURE_WIDTHS_INCHES)}; got {width!r}")
    if not aspect > 0:
        raise ValueError(f"aspect must be a positive number; got {aspect!r}")
    inches = FIGURE_WIDTHS_INCHES[width]
    return inches, inches * aspect


@contextmanager
def paper_style() -> Iterator[None]:
    """Figures made inside this context use ``PAPER_STYLE``; the previous style comes back after."""
    with mpl.rc_context(PAPER_STYLE):
        yield


def use_paper_style() -> None:
    """Make ``PAPER_STYLE`` the style of every later figure of this process (e.g. a notebook)."""
    mpl.rcParams.update(PAPER_STYLE)
