"""Boxes on 2D images: several readers' boxes for the findings of a chest X-ray."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

READER_COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple")


def draw_box(axes: Axes, box: Sequence[float], colour: str, label: str | None = None, linestyle: str = "-") -> None:
    """Draw one (x_min, y_min, x_max, y_max) box in pixel coordinates (x = column, y = row)."""
    x_min, y_min, x_max, y_max = box
    # A box covers columns x_min <= c < x_max, and imshow centres pixel c on c: shift by half.
    axes.add_patch(
        Rectangle(
            (x_min - 0.5, y_min - 0.5),
            x_max - x_min,
            y_max - y_min,
            fill=False,
            edgecolor=colour,
            linewidth=1.2,
            linestyle=linestyle,
        )
    )
    if label:
        axes.text(x_min - 0.5, y_min - 1.5, label, color=colour, fontsize=6, va="bottom")


def draw_reader_boxes(axes: Axes, annotations: Iterable, readers: Sequence[str]) -> None:
    """Draw annotations (objects with ``reader_id``, ``finding``, ``box``), one colour per reader."""
    colours = {reader: READER_COLOURS[i % len(READER_COLOURS)] for i, reader in enumerate(readers)}
    for annotation in annotations:
        draw_box(axes, annotation.box, colours[annotation.reader_id], f"{annotation.reader_id}: {annotation.finding}")
