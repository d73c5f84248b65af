"""Figures of faithfulness and sanity results: perturbation curves, probability drops,
randomisation grids and similarity curves.

They draw the tables of `radxai.evaluate.faithfulness` and `radxai.evaluate.sanity`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "plot_perturbation_curves",
    "plot_probability_drops",
    "plot_randomisation_grid",
    "plot_similarity_curves",
]

# Black line styles of the baseline-score lines, one per baseline in a panel.
_BASELINE_LINE_STYLES = (":", "-.", (0, (5, 2, 1, 2, 1, 2)))


def plot_perturbation_curves(curves: Mapping[str, Mapping[str, object]], title: str) -> Figure:
    """Mean deletion and insertion curves per method, one panel per kind, with the baseline's
    own score.

    curves: kind ("deletion", "insertion") -> method -> a `PerturbationCurve`; each line is
    the mean probability over the curve's samples, labelled with the mean AUC. One black
    dotted (then dash-dotted) line per baseline marks the mean probability the model gives
    the baseline itself (`PerturbationCurve.baseline_scores`, labelled "baseline score
    (<label>)"): the floor every deletion curve falls to and the level every insertion curve
    starts from, whatever the map. A baseline line near the top of a panel means the curves
    measure the baseline.
    """
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        1, len(curves), figsize=(5.2 * len(curves), 3.8), constrained_layout=True, squeeze=False
    )
    for panel, (kind, by_method) in zip(axes[0], curves.items()):
        for method, curve in by_method.items():
            panel.plot(
                curve.fractions,
                curve.scores.mean(axis=0),
                label=f"{method} (AUC {curve.auc.mean():.3f})",
                linestyle="--" if method == "random" else "-",
            )
        # The baseline's score does not depend on the map: one line per baseline label.
        floors = {curve.baseline: curve.baseline_scores.mean() for curve in by_method.values()}
        for (label, score), style in zip(floors.items(), itertools.cycle(_BASELINE_LINE_STYLES)):
            panel.axhline(
                score, color="black", linestyle=style, linewidth=1.2, label=f"baseline score ({label}) {score:.2f}"
            )
        action = "removed" if kind == "deletion" else "inserted"
        panel.set_xlabel(f"fraction of voxels {action}")
        panel.set_ylabel("probability of the target class")
        panel.set_ylim(0, 1)
        panel.set_title(kind)
        panel.legend(fontsize="small")
    figure.suptitle(title)
    return figure


def plot_probability_drops(summary: pd.DataFrame, title: str) -> Figure:
    """The chest X-ray work's Figure 32: one row of panels per source class (the class whose
    map chose the replaced pixels), one panel per baseline, one line per class: the mean drop
    p_orig - p_new against the fraction replaced.

    summary: `radxai.evaluate.faithfulness.mean_probability_drops` output; names are used
    when it has source_name and class_name columns.
    """
    import matplotlib.pyplot as plt

    source_column = "source_name" if "source_name" in summary else "source_class"
    class_column = "class_name" if "class_name" in summary else "class"
    sources = list(dict.fromkeys(summary[source_column]))
    baselines = list(dict.fromkeys(summary["baseline"]))
    figure, axes = plt.subplots(
        len(sources),
        len(baselines),
        figsize=(4.0 * len(baselines), 2.9 * len(sources)),
        constrained_layout=True,
        squeeze=False,
        sharey=True,
    )
    for row, source in enumerate(sources):
        for column, baseline in enumerate(baselines):
            panel = axes[row, column]
            rows = summary[(summary[source_column] == source) & (summary["baseline"] == baseline)]
            for name, lines in rows.groupby(class_column, sort=False):
                lines = lines.sort_values("fraction")
                panel.plot(lines["fraction"], lines["drop"], marker="o", markersize=3, label=str(name))
            panel.axhline(0.0, color="grey", linewidth=0.8)
            panel.set_title(f"map of {source}, {baseline}", fontsize="medium")
            panel.set_xlabel("fraction of pixels replaced")
            if column == 0:
                panel.set_ylabel("p_orig - p_new")
    axes[0, -1].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    figure.suptitle(title)
    return figure


def plot_randomisation_grid(
    images: Mapping[str, np.ndarray], column_labels: Sequence[str], title: str, background: np.ndarray | None = None
) -> Figure:
    """Rows = methods, columns = randomisation steps: the cascading randomisation figure.

    images: method -> (steps, H, W) maps in [0, 1] (one sample, one slice for 3D maps).
    column_labels: one label per step ("original", then the layers). background: an optional
    (H, W) image shown in grey under the maps.
    """
    import matplotlib.pyplot as plt

    methods = list(images)
    columns = len(column_labels)
    figure, axes = plt.subplots(
        len(methods), columns, figsize=(1.25 * columns + 1, 1.25 * len(methods)), constrained_layout=True, squeeze=False
    )
    artist = None
    for row, method in enumerate(methods):
        if len(images[method]) != columns:
            raise ValueError(f"{method} has {len(images[method])} maps for {columns} columns")
        for column in range(columns):
            panel = axes[row, column]
            if background is not None:
                panel.imshow(background, cmap="gray")
            artist = panel.imshow(
                images[method][column], cmap="jet", vmin=0, vmax=1, alpha=0.5 if background is not None else 1.0
            )
            panel.set_xticks([])
            panel.set_yticks([])
            if row == 0:
                panel.set_title(column_labels[column], fontsize="small")
            if column == 0:
                panel.set_ylabel(method, fontsize="small")
    figure.colorbar(artist, ax=axes, shrink=0.6, label="normalised attribution")
    figure.suptitle(title)
    return figure


def plot_similarity_curves(table: pd.DataFrame, measures: Sequence[str], title: str) -> Figure:
    """Mean similarity to the original map against the randomisation step, one panel per
    measure and one line per method (a `SanityCheck.table`)."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        1, len(measures), figsize=(4.4 * len(measures), 3.6), constrained_layout=True, squeeze=False
    )
    steps = table.groupby("step")["layer"].first()
    labels = ["original" if pd.isna(layer) else str(layer) for layer in steps]
    for panel, measure in zip(axes[0], measures):
        means = table.groupby(["method", "step"], sort=False)[measure].mean()
        for method in dict.fromkeys(table["method"]):
            panel.plot(means[method].index, means[method].to_numpy(), marker="o", label=method)
        panel.set_xticks(steps.index, labels, rotation=60, ha="right", fontsize="small")
        panel.set_xlabel("randomised down to layer")
        panel.set_ylabel(f"{measure} to the original map")
        panel.set_title(measure)
    axes[0, -1].legend(fontsize="x-small")
    figure.suptitle(title)
    return figure
