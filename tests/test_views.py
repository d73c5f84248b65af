"""Tests of radxai.viz.views and radxai.viz.boxes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from radxai.viz import boxes, views  # noqa: E402


def test_take_slice_follows_the_view_axes() -> None:
    array = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    assert views.take_slice(array, "axial", 1).shape == (5, 6)
    assert views.take_slice(array, "coronal", 2).shape == (4, 6)
    assert views.take_slice(array, "sagittal", 3).shape == (4, 5)
    np.testing.assert_array_equal(views.take_slice(array, "sagittal", 3), array[:, :, 3])


def test_bad_view_or_index_is_named() -> None:
    array = np.zeros((4, 5, 6))
    with pytest.raises(ValueError, match="'oblique'"):
        views.take_slice(array, "oblique", 0)
    with pytest.raises(ValueError, match="coronal slice 5 is outside"):
        views.take_slice(array, "coronal", 5)
    with pytest.raises(ValueError, match=r"\(4, 5\)"):
        views.plot_orthogonal_views(np.zeros((4, 5)), (1, 1, 1))


def test_aspect_uses_slice_thickness() -> None:
    assert views.aspect_of("coronal", (5.0, 1.0, 2.0)) == 2.5
    assert views.aspect_of("axial", (5.0, 1.0, 2.0)) == 0.5


def test_centre_of_mask_and_of_empty_volume() -> None:
    mask = np.zeros((10, 10, 10), bool)
    mask[2:4, 6:8, 1:3] = True
    mask[2, 6, 8] = True  # a second, smaller focus must not pull the slice between the two
    assert views.centre_of(mask, mask.shape) == (2, 6, 1)
    assert views.centre_of(np.zeros_like(mask), mask.shape) == (5, 5, 5)


def test_orthogonal_views_and_montage_draw_every_panel() -> None:
    volume = np.random.default_rng(0).normal(size=(8, 12, 12))
    mask = np.zeros(volume.shape, bool)
    mask[3:5, 4:8, 4:8] = True
    figure = views.plot_orthogonal_views(volume, (2.0, 1.0, 1.0), mask=mask, heatmap=np.clip(volume, 0, 1))
    assert len(figure.axes) == 4  # three views and a colourbar
    assert figure.axes[0].get_title().startswith("axial")
    plt.close(figure)
    montage = views.plot_slice_montage(volume, (2.0, 1.0, 1.0), count=6, columns=4, mask=mask)
    drawn = [axes for axes in montage.axes if axes.images]
    assert len(drawn) == 6 + 0  # six slices, colourbar axes hold no image
    plt.close(montage)


def test_reader_boxes_get_one_colour_per_reader() -> None:
    class Annotation:
        def __init__(self, reader_id: str, finding: str, box: tuple) -> None:
            self.reader_id, self.finding, self.box = reader_id, finding, box

    figure, axes = plt.subplots()
    boxes.draw_reader_boxes(
        axes,
        [Annotation("R1", "Cardiomegaly", (1, 2, 5, 6)), Annotation("R2", "Cardiomegaly", (1, 2, 6, 7))],
        ["R1", "R2"],
    )
    colours = {patch.get_edgecolor() for patch in axes.patches}
    assert len(axes.patches) == 2 and len(colours) == 2
    plt.close(figure)
