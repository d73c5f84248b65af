"""Tests of radxai.viz.curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from radxai.viz import curves  # noqa: E402


def test_history_plot_has_loss_and_accuracy_for_both_splits() -> None:
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "train_loss": [0.7, 0.5, 0.4],
            "validation_loss": [0.7, 0.6, 0.6],
            "train_accuracy": [0.5, 0.7, 0.8],
            "validation_accuracy": [0.5, 0.6, 0.6],
        }
    ).set_index("epoch")
    figure = curves.plot_history(history, "toy")
    loss_axes, accuracy_axes = figure.axes
    assert len(loss_axes.lines) == 2 and len(accuracy_axes.lines) == 2
    np.testing.assert_allclose(loss_axes.lines[1].get_ydata(), [0.7, 0.6, 0.6])
    plt.close(figure)


def test_roc_plot_labels_each_curve_and_chance() -> None:
    figure = curves.plot_roc({"cnn3d": (np.array([0, 0.5, 1]), np.array([0, 0.9, 1]), "0.90")}, "ROC")
    labels = [line.get_label() for line in figure.axes[0].lines]
    assert labels == ["cnn3d: 0.90", "chance"]
    plt.close(figure)


def test_confusion_matrix_writes_every_count() -> None:
    figure = curves.plot_confusion_matrix(np.array([[5, 1], [2, 7]]), ["normal", "covid"], "test split")
    texts = sorted(text.get_text() for text in figure.axes[0].texts)
    assert texts == ["1", "2", "5", "7"]
    plt.close(figure)
