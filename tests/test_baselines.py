"""Baselines of perturbation methods: shapes, values, the blur's extent, errors."""

from __future__ import annotations

import numpy as np
import pytest

from radxai.explain.baselines import BASELINES, baseline, blur_sigma


@pytest.mark.parametrize("spatial", [(8, 9), (4, 6, 5)])
@pytest.mark.parametrize("name", BASELINES)
def test_baseline_keeps_shape_and_dtype(spatial, name):
    x = np.random.default_rng(0).normal(size=(2, 3, *spatial)).astype(np.float32)
    result = baseline(x, name, constant=2.5)
    assert result.shape == x.shape
    assert result.dtype == np.float32


def test_zero_and_constant():
    x = np.ones((1, 1, 4, 4), dtype=np.float32)
    assert np.all(baseline(x, "zero") == 0)
    assert np.all(baseline(x, "constant", constant=-1000.0) == -1000.0)


def test_mean_is_per_sample_and_channel():
    x = np.zeros((2, 2, 3, 3), dtype=np.float32)
    x[0, 0] = 1.0
    x[1, 1, 0, 0] = 9.0
    result = baseline(x, "mean")
    assert np.allclose(result[0, 0], 1.0) and np.allclose(result[0, 1], 0.0)
    assert np.allclose(result[1, 1], 1.0) and np.allclose(result[1, 0], 0.0)


def test_blur_sigma_follows_opencv_rule():
    assert blur_sigma(11) == pytest.approx(2.0)
    assert blur_sigma(21) == pytest.approx(3.5)


@pytest.mark.parametrize("spatial", [(31, 31), (21, 21, 21)])
def test_blur_spreads_an_impulse_within_the_kernel_only(spatial):
    x = np.zeros((1, 2, *spatial), dtype=np.float32)
    centre = tuple(extent // 2 for extent in spatial)
    x[(0, 0, *centre)] = 1.0
    result = baseline(x, "blur", blur_kernel=11)
    assert result[0, 0].sum() == pytest.approx(1.0, abs=1e-5)
    assert np.all(result[0, 1] == 0), "blur must not leak across channels"
    support = np.argwhere(result[0, 0] > 0)
    assert np.all(np.abs(support - np.array(centre)) <= 5)
    assert result[(0, 0, *centre)] < 1.0


@pytest.mark.parametrize("kernel", [11, 21])
def test_blur_is_opencvs_gaussian_blur_borders_included(kernel):
    # cv2.GaussianBlur(image, (k, k), 0): k taps of a normalised Gaussian, border reflected
    # without repeating the edge pixel (numpy's pad mode "reflect"), applied along each axis.
    image = np.random.default_rng(3).random((24, 24))
    radius = (kernel - 1) // 2
    taps = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * blur_sigma(kernel) ** 2))
    taps /= taps.sum()
    expected = np.pad(image, radius, mode="reflect")
    for axis in (0, 1):
        expected = np.apply_along_axis(lambda line: np.convolve(line, taps, mode="valid"), axis, expected)
    result = baseline(image[None, None].astype(np.float32), "blur", blur_kernel=kernel)[0, 0]
    np.testing.assert_allclose(result, expected, atol=1e-6)


def test_blur_of_a_constant_image_is_the_constant():
    x = np.full((1, 1, 12, 12), 3.0, dtype=np.float32)
    assert np.allclose(baseline(x, "blur", blur_kernel=21), 3.0)


def test_unknown_baseline_lists_the_names():
    with pytest.raises(ValueError, match="unknown baseline 'noise'.*zero, constant, mean, blur"):
        baseline(np.zeros((1, 1, 4, 4)), "noise")


@pytest.mark.parametrize("kernel", [4, 1, 0])
def test_even_or_tiny_blur_kernel_is_rejected(kernel):
    with pytest.raises(ValueError, match="odd integer >= 3"):
        baseline(np.zeros((1, 1, 8, 8)), "blur", blur_kernel=kernel)


def test_input_without_batch_and_channel_axes_is_rejected():
    with pytest.raises(ValueError, match=r"\(N, C, \*spatial\).*\(8,\)"):
        baseline(np.zeros(8), "zero")


def test_non_finite_constant_is_rejected():
    with pytest.raises(ValueError, match="finite"):
        baseline(np.zeros((1, 1, 4, 4)), "constant", constant=float("nan"))
