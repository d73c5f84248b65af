"""Means with confidence intervals: the figures of the localisation and faithfulness tables.

Both functions read the summaries of `radxai.evaluate.localisation_tables.summarise_means`
(and `summarise_overlap`): for a metric M the columns ``M``, ``M_ci_low`` and ``M_ci_high``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["plot_interval_bars", "plot_interval_curves"]


def _interval_columns(summary: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the (2, n) error-bar lengths of `metric`; KeyError names missing columns."""
    columns = [metric, f"{metric}_ci_low", f"{metric}_ci_high"]
    missing = [column for column in columns if column not in summary.columns]
    if missing:
        raise KeyError(f"summary has no columns {missing}; it has {list(summary.columns)}")
    mean, low, high = (summary[column].to_numpy(dtype=float) for column in columns)
    return mean, np.vstack([mean - low, high - mean])


def plot_interval_bars(
    summary: pd.DataFrame,
    metrics: Sequence[str],
    title: str,
    metric_labels: Sequence[str] | None = None,
    ylabel: str = "mean (95% CI)",
) -> Figure:
    """One panel per metric: a bar per row of `summary` (its index labels the bars) with the
    bootstrap interval as an error bar. Values are shares, so the y axis spans [0, 1]."""
    import matplotlib.pyplot as plt

    labels = list(metric_labels) if metric_labels is not None else list(metrics)
    figure, axes = plt.subplots(
        1, len(metrics), figsize=(4.2 * len(metrics), 3.6), constrained_layout=True, squeeze=False
    )
    names = [" / ".join(map(str, key)) if isinstance(key, tuple) else str(key) for key in summary.index]
    for panel, metric, label in zip(axes[0], metrics, labels):
        mean, errors = _interval_columns(summary, metric)
        positions = np.arange(len(names))
        panel.bar(positions, mean, yerr=errors, capsize=3, color="tab:blue", alpha=0.8)
        panel.set_xticks(positions, names, rotation=45, ha="right")
        panel.set_ylim(0, 1)
        panel.set_title(label)
        panel.set_ylabel(ylabel)
    figure.suptitle(title)
    return figure


def plot_interval_curves(
    summary: pd.DataFrame,
    metric: str,
    x: str,
    series: str,
    title: str,
    xlabel: str,
    ylabel: str,
    axes: Axes | None = None,
) -> Figure:
    """`metric` against the index level `x`, one line per value of the index level `series`,
    with the bootstrap interval shaded (e.g. box IoU against the top fraction per class)."""
    import matplotlib.pyplot as plt

    if axes is None:
        figure, axes = plt.subplots(figsize=(6.4, 4.0), constrained_layout=True)
    else:
        figure = axes.figure
    for name, rows in summary.groupby(level=series, sort=False):
        rows = rows.sort_index(level=x)
        positions = rows.index.get_level_values(x).to_numpy(dtype=float)
        mean, errors = _interval_columns(rows, metric)
        axes.plot(positions, mean, marker="o", label=str(name))
        axes.fill_between(positions, mean - errors[0], mean + errors[1], alpha=0.15)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend(fontsize="small", ncols=2)
    return figure
