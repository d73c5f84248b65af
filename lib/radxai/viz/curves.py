"""Training curves, ROC curves and confusion matrices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def plot_history(history: pd.DataFrame, title: str) -> Figure:
    """Loss and accuracy per epoch, training and validation, from ``History.to_frame()``."""
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True)
    for split, style in (("train", "-"), ("validation", "--")):
        loss_axes.plot(history.index, history[f"{split}_loss"], style, marker="o", markersize=3, label=split)
        accuracy_axes.plot(history.index, history[f"{split}_accuracy"], style, marker="o", markersize=3, label=split)
    loss_axes.set(title="loss", xlabel="epoch", ylabel="binary cross-entropy")
    accuracy_axes.set(title="accuracy (threshold 0.5)", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
    for axes in (loss_axes, accuracy_axes):
        axes.legend(fontsize=8)
        axes.grid(alpha=0.3)
    figure.suptitle(title)
    return figure


def plot_roc(curves: Mapping[str, tuple[np.ndarray, np.ndarray, str]], title: str) -> Figure:
    """ROC curves: ``curves[name] = (false_positive_rate, true_positive_rate, legend_suffix)``.

    The suffix carries the AUROC and its interval, e.g. ``"0.93 (0.85, 0.99)"``.
    """
    figure, axes = plt.subplots(figsize=(4.6, 4.2), constrained_layout=True)
    for name, (false_positive_rate, true_positive_rate, suffix) in curves.items():
        axes.plot(false_positive_rate, true_positive_rate, label=f"{name}: {suffix}")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    axes.set(
        title=title,
        xlabel="false positive rate",
        ylabel="true positive rate",
        xlim=(-0.01, 1.01),
        ylim=(-0.01, 1.01),
        aspect="equal",
    )
    axes.legend(fontsize=7, loc="lower right")
    return figure


def plot_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    """A (C, C) count matrix, rows true class, columns predicted, with counts written in cells."""
    matrix = np.asarray(matrix)
    figure, axes = plt.subplots(figsize=(3.8, 3.4), constrained_layout=True)
    image = axes.imshow(matrix, cmap="Blues", vmin=0)
    for (row, column), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=colour)
    ticks = range(len(class_names))
    axes.set(
        xticks=ticks,
        yticks=ticks,
        xticklabels=class_names,
        yticklabels=class_names,
        xlabel="predicted",
        ylabel="true",
        title=title,
    )
    figure.colorbar(image, ax=axes, label="cases")
    return figure
