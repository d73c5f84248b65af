"""Tests of radxai.viz.style: the library's figure style and journal column widths."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from radxai import report  # noqa: E402
from radxai.viz import style  # noqa: E402


def test_figure_size_gives_journal_column_widths() -> None:
    assert style.figure_size("single") == pytest.approx((3.5, 2.625))
    assert style.figure_size("double", aspect=0.5) == pytest.approx((7.2, 3.6))
    with pytest.raises(ValueError, match="width must be one of"):
        style.figure_size("triple")
    with pytest.raises(ValueError, match="aspect"):
        style.figure_size("single", aspect=0)


def test_paper_style_applies_inside_and_restores_after() -> None:
    before = matplotlib.rcParams["font.size"]
    with style.paper_style():
        assert matplotlib.rcParams["font.size"] == 8
        assert matplotlib.rcParams["pdf.fonttype"] == 42
    assert matplotlib.rcParams["font.size"] == before


def test_saved_pdfs_embed_truetype_fonts(tmp_path) -> None:
    figure, axes = plt.subplots(figsize=style.figure_size("single"))
    axes.set_title("Deletion curve")
    axes.set_xlabel("fraction removed")
    _, pdf = report.save_figure(figure, tmp_path, "curve")
    plt.close(figure)
    content = pdf.read_bytes()
    # Type 42 embeds the TrueType program (FontFile2); matplotlib's default Type 3 does not.
    assert b"/FontFile2" in content and b"/Type3" not in content
    assert (tmp_path / "figures" / "captions.json").read_text().count("Deletion curve") == 1
