"""Tests of radxai.viz.faithfulness: the figures draw what the tables hold."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from radxai.evaluate.faithfulness import PerturbationCurve  # noqa: E402
from radxai.viz import faithfulness  # noqa: E402


def curve(scores: list[list[float]], kind: str = "deletion", baseline: str = "blur 11") -> PerturbationCurve:
    values = np.array(scores)
    fractions = np.linspace(0, 1, values.shape[1])
    return PerturbationCurve(
        kind=kind,
        fractions=fractions,
        scores=values,
        auc=np.trapezoid(values, fractions, axis=1),
        target=[1] * len(values),
        baseline=baseline,
        model_evaluations=values.size,
        seconds=0.0,
    )


def test_perturbation_curves_plot_the_mean_curve_with_its_auc() -> None:
    figure = faithfulness.plot_perturbation_curves(
        {"deletion": {"gradcam": curve([[1.0, 0.2, 0.0], [0.8, 0.4, 0.0]]), "random": curve([[1, 1, 0]])}}, "toy"
    )
    lines = figure.axes[0].lines
    np.testing.assert_allclose(lines[0].get_ydata(), [0.9, 0.3, 0.0])
    assert lines[0].get_label() == "gradcam (AUC 0.375)" and lines[1].get_linestyle() == "--"
    plt.close(figure)


def test_perturbation_curves_mark_the_baselines_own_score(tmp_path) -> None:
    # The model scores the blurred baseline 0.9 (deletion's end, insertion's start): the curves
    # measure the baseline, and the figure shows it.
    curves = {
        "deletion": {
            "gradcam": curve([[0.95, 0.9, 0.9], [0.97, 0.92, 0.9]]),
            "random": curve([[0.95, 0.93, 0.9], [0.97, 0.9, 0.9]]),
        },
        "insertion": {
            "gradcam": curve([[0.9, 0.94, 0.95], [0.9, 0.95, 0.97]], kind="insertion"),
            "reference": curve([[0.1, 0.6, 0.95], [0.3, 0.8, 0.97]], kind="insertion", baseline="reference"),
        },
    }
    figure = faithfulness.plot_perturbation_curves(curves, "toy")
    deletion, insertion = figure.axes[:2]
    floors = [line for line in deletion.lines if line.get_label().startswith("baseline score")]
    assert len(floors) == 1  # one baseline, whatever the number of methods
    assert floors[0].get_label() == "baseline score (blur 11) 0.90"
    np.testing.assert_allclose(floors[0].get_ydata(), [0.9, 0.9])
    starts = {
        line.get_label(): line.get_ydata()[0]
        for line in insertion.lines
        if line.get_label().startswith("baseline score")
    }
    assert starts == pytest.approx({"baseline score (blur 11) 0.90": 0.9, "baseline score (reference) 0.20": 0.2})
    legend = [text.get_text() for text in deletion.get_legend().get_texts()]
    assert "baseline score (blur 11) 0.90" in legend
    assert deletion.get_title() == "deletion" and deletion.get_xlabel() == "fraction of voxels removed"
    figure.savefig(tmp_path / "curves.png")
    plt.close(figure)


def test_probability_drops_panels_follow_sources_and_baselines() -> None:
    rows = [
        {
            "source_name": source,
            "baseline": baseline,
            "fraction": fraction,
            "class_name": name,
            "drop": fraction * (name == source),
        }
        for source in ("A", "B")
        for baseline in ("mean", "blur 11")
        for fraction in (0.1, 0.5)
        for name in ("A", "B")
    ]
    figure = faithfulness.plot_probability_drops(pd.DataFrame(rows), "drops")
    panels = [panel for panel in figure.axes if panel.get_title()]
    assert len(panels) == 4 and panels[1].get_title() == "map of A, blur 11"
    own_class = panels[0].lines[0]
    assert own_class.get_label() == "A"
    np.testing.assert_allclose(own_class.get_ydata(), [0.1, 0.5])
    plt.close(figure)


def test_randomisation_grid_has_a_panel_per_method_and_step() -> None:
    heatmaps = {"gradcam": np.zeros((3, 4, 4)), "saliency": np.ones((3, 4, 4))}
    figure = faithfulness.plot_randomisation_grid(heatmaps, ["original", "head", "block4"], "grid")
    assert len([panel for panel in figure.axes if panel.images]) == 6
    with pytest.raises(ValueError, match="gradcam has 3 maps for 2 columns"):
        faithfulness.plot_randomisation_grid(heatmaps, ["original", "head"], "grid")
    plt.close("all")


def test_similarity_curves_average_over_samples() -> None:
    table = pd.DataFrame(
        {
            "method": ["gradcam"] * 4,
            "step": [0, 0, 1, 1],
            "layer": [None, None, "head", "head"],
            "ssim": [1.0, 1.0, 0.2, 0.4],
        }
    )
    figure = faithfulness.plot_similarity_curves(table, ["ssim"], "similarity")
    np.testing.assert_allclose(figure.axes[0].lines[0].get_ydata(), [1.0, 0.3])
    assert [label.get_text() for label in figure.axes[0].get_xticklabels()] == ["original", "head"]
    plt.close(figure)
