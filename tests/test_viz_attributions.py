"""Tests of radxai.viz.attributions: signed maps and segment boundaries over an image."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from radxai.viz.attributions import SIGNED_COLORMAP, show_segment_boundaries, show_signed  # noqa: E402


def test_the_signed_scale_is_red_below_clear_at_zero_green_above() -> None:
    red, clear, green = SIGNED_COLORMAP(0.0), SIGNED_COLORMAP(0.5), SIGNED_COLORMAP(1.0)
    assert red[0] > 0.5 and red[1] < 0.1
    assert clear[3] < 0.05
    assert green[1] > 0.5 and green[0] < 0.1


def test_the_colour_scale_is_symmetric_around_zero() -> None:
    figure, axes = plt.subplots()
    values = np.array([[-0.5, 0.0], [0.25, 2.0]])
    artist = show_signed(axes, np.zeros((2, 2)), values, "toy")
    assert artist.get_clim() == (-2.0, 2.0)
    assert axes.get_title() == "toy"
    artist = show_signed(axes, np.zeros((2, 2)), np.zeros((2, 2)), "nothing matters")
    assert artist.get_clim() == (-1.0, 1.0)
    plt.close(figure)


def test_boundaries_are_drawn_on_the_enlarged_image() -> None:
    figure, axes = plt.subplots()
    labels = np.repeat(np.arange(2), 3)[None].repeat(6, axis=0)  # two vertical stripes
    show_segment_boundaries(axes, np.full((6, 6), 0.5), labels, "stripes", enlargement=3)
    drawn = axes.images[0].get_array()
    assert drawn.shape == (18, 18, 3)
    yellow = np.all(np.isclose(drawn, (1, 0.8, 0)), axis=-1)
    assert yellow.any() and not yellow[:, :6].any()  # only near the stripes' common edge
    plt.close(figure)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda axes: show_signed(axes, np.zeros((2, 2)), np.zeros((2, 3)), "t"), r"same \(H, W\)"),
        (lambda axes: show_segment_boundaries(axes, np.zeros((2, 2)), np.zeros((3, 2), int), "t"), r"same \(H, W\)"),
        (
            lambda axes: show_segment_boundaries(axes, np.zeros((2, 2)), np.zeros((2, 2), int), "t", enlargement=0),
            "positive int",
        ),
    ],
)
def test_bad_input_is_named(call, message) -> None:
    figure, axes = plt.subplots()
    with pytest.raises(ValueError, match=message):
        call(axes)
    plt.close(figure)
