"""Tests of radxai.viz.intervals."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from radxai.viz import intervals  # noqa: E402


def summary_of(index: pd.Index, mean: list[float]) -> pd.DataFrame:
    values = np.array(mean)
    return pd.DataFrame({"dice": values, "dice_ci_low": values - 0.1, "dice_ci_high": values + 0.05}, index=index)


def test_interval_bars_draw_one_bar_per_row_with_its_interval() -> None:
    summary = summary_of(pd.Index(["gradcam", "hirescam"], name="method"), [0.4, 0.6])
    figure = intervals.plot_interval_bars(summary, ["dice"], "Dice", metric_labels=["Dice"])
    panel = figure.axes[0]
    assert [patch.get_height() for patch in panel.patches] == pytest.approx([0.4, 0.6])
    assert [label.get_text() for label in panel.get_xticklabels()] == ["gradcam", "hirescam"]
    error_segments = panel.collections[0].get_segments()
    assert error_segments[0][:, 1] == pytest.approx([0.3, 0.45])
    plt.close(figure)


def test_interval_curves_draw_one_line_per_series_in_x_order() -> None:
    index = pd.MultiIndex.from_tuples([("a", 0.2), ("a", 0.1), ("b", 0.1), ("b", 0.2)], names=["class", "top_fraction"])
    figure = intervals.plot_interval_curves(
        summary_of(index, [0.5, 0.3, 0.2, 0.1]), "dice", "top_fraction", "class", "t", "p", "IoU"
    )
    lines = figure.axes[0].lines
    assert [line.get_label() for line in lines] == ["a", "b"]
    np.testing.assert_allclose(lines[0].get_xdata(), [0.1, 0.2])
    np.testing.assert_allclose(lines[0].get_ydata(), [0.3, 0.5])
    plt.close(figure)


def test_missing_interval_columns_are_named() -> None:
    summary = pd.DataFrame({"dice": [0.5]}, index=["gradcam"])
    with pytest.raises(KeyError, match="dice_ci_low"):
        intervals.plot_interval_bars(summary, ["dice"], "Dice")
