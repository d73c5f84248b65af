"""Baselines of perturbation methods: shapes, values, the blur's extent, errors."""

from __future__ import annotations

import numpy as np
import pytest

from radxai.explain.baselines import (
    BASELINES,
    baseline,
    blur_sigma,
    check_settings,
    healthy_fill,
    reference_baseline,
)


def settings_of(name, x):
    """Valid settings of the baseline `name` for a batch x."""
    if name == "constant":
        return {"constant": 2.5}
    if name == "healthy_fill":
        return {"region": np.ones(x.shape[2:], dtype=bool), "healthy_ceiling": 0.0}
    if name == "reference":
        return {"reference": np.zeros_like(x)}
    return {}


@pytest.mark.parametrize("spatial", [(8, 9), (4, 6, 5)])
@pytest.mark.parametrize("name", BASELINES)
def test_baseline_keeps_shape_and_dtype(spatial, name):
    x = np.random.default_rng(0).normal(size=(2, 3, *spatial)).astype(np.float32)
    result = baseline(x, name, **settings_of(name, x))
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
    taps = np.exp(-(np.arange(-radius, radius + 1) ** 2) / (2 * blur_sigma(kernel) ** 2))
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


# --------------------------------------------------------------------------- healthy fill


def lung_case(spatial, samples=2, seed=0):
    """Inputs in [0, 1] with a region (the "lungs", the middle of the first spatial axis) of
    healthy tissue around 0.1 (sd 0.02) holding a bright lesion at 0.8, the rest random."""
    generator = np.random.default_rng(seed)
    x = generator.random((samples, 1, *spatial)).astype(np.float32)
    region = np.zeros(spatial, dtype=bool)
    region[1:-1] = True
    healthy = 0.1 + 0.02 * generator.standard_normal((samples, 1, *spatial))
    x[:, :, region] = healthy[:, :, region]
    lesion = (slice(None), slice(None), 2, *(slice(0, 2) for _ in spatial[1:]))
    x[lesion] = 0.8
    return x, region


@pytest.mark.parametrize("spatial", [(12, 14), (8, 9, 10)])
def test_healthy_fill_replaces_the_region_only_by_healthy_tissue(spatial):
    x, region = lung_case(spatial)
    result = healthy_fill(x, region, healthy_ceiling=0.3, seed=1)
    assert result.dtype == np.float32 and result.shape == x.shape
    np.testing.assert_array_equal(result[:, :, ~region], x[:, :, ~region])
    for sample in range(2):
        inside = x[sample, 0][region]
        healthy = inside[inside <= 0.3]
        filled = result[sample, 0][region]
        # The lesion (0.8) is gone: every region voxel is drawn around the healthy median.
        assert filled.max() < 0.3
        assert np.median(filled) == pytest.approx(np.median(healthy), abs=0.01)
        assert filled.std() == pytest.approx(healthy.std(), rel=0.3)


def test_healthy_fill_is_seeded():
    x, region = lung_case((8, 9, 10))
    first = healthy_fill(x, region, healthy_ceiling=0.3, seed=4)
    np.testing.assert_array_equal(first, healthy_fill(x, region, healthy_ceiling=0.3, seed=4))
    other = healthy_fill(x, region, healthy_ceiling=0.3, seed=5)
    assert not np.allclose(first[:, :, region], other[:, :, region])
    np.testing.assert_array_equal(first[:, :, ~region], other[:, :, ~region])
    # The name dispatches to the same fill.
    named = baseline(x, "healthy_fill", region=region, healthy_ceiling=0.3, seed=4)
    np.testing.assert_array_equal(named, first)


def test_healthy_fill_per_sample_regions_and_no_dependence_on_the_batch():
    x, region = lung_case((10, 11), samples=3)
    regions = np.stack([region, np.roll(region, 1, axis=0), region]).astype(np.uint8)
    result = healthy_fill(x, regions, healthy_ceiling=0.3, seed=2)
    np.testing.assert_array_equal(result[1, :, ~regions[1].astype(bool)], x[1, :, ~regions[1].astype(bool)])
    assert not np.array_equal(result[1], healthy_fill(x, region, healthy_ceiling=0.3, seed=2)[1])
    alone = healthy_fill(x[1:2], regions[1:2], healthy_ceiling=0.3, seed=2)
    np.testing.assert_array_equal(alone[0], result[1])


def test_healthy_fill_keeps_copied_channels_copies():
    x, region = lung_case((10, 11))
    grey = np.repeat(x, 3, axis=1)
    result = healthy_fill(grey, region, healthy_ceiling=0.3)
    np.testing.assert_array_equal(result[:, 0], result[:, 2])


def test_healthy_fill_rejects_bad_regions_and_ceilings():
    x, region = lung_case((6, 7))
    with pytest.raises(ValueError, match=r"region mask has shape \(7, 6\).*\(2, 6, 7\).*\(6, 7\)"):
        healthy_fill(x, region.T, healthy_ceiling=0.3)
    with pytest.raises(ValueError, match=r"region mask has shape \(3, 6, 7\)"):
        healthy_fill(x, np.stack([region] * 3), healthy_ceiling=0.3)
    with pytest.raises(ValueError, match="region mask must be binary"):
        healthy_fill(x, region * 0.5, healthy_ceiling=0.3)
    with pytest.raises(ValueError, match="healthy_ceiling must be finite"):
        healthy_fill(x, region, healthy_ceiling=float("nan"))
    no_healthy = x.copy()
    no_healthy[1, :, region] = 0.9
    with pytest.raises(ValueError, match=r"sample 1, channel 0: none of its \d+ region voxels"):
        healthy_fill(no_healthy, region, healthy_ceiling=0.3)
    # A ceiling in HU on inputs in [0, 1] finds no healthy voxel either.
    with pytest.raises(ValueError, match="sample 0.*input units, not HU"):
        healthy_fill(x, region, healthy_ceiling=-700.0)
    empty = np.stack([region, np.zeros_like(region)])
    with pytest.raises(ValueError, match="sample 1, channel 0: none of its 0 region voxels"):
        healthy_fill(x, empty, healthy_ceiling=0.3)


# --------------------------------------------------------------------------- reference


def test_reference_is_the_given_array():
    x = np.zeros((2, 1, 4, 5, 6), dtype=np.float32)
    reference = np.random.default_rng(1).random(x.shape)
    result = reference_baseline(x, reference)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, reference.astype(np.float32))
    result[0] = 7.0  # a copy: the caller's reference is untouched
    assert reference.max() < 1.0
    np.testing.assert_array_equal(baseline(x, "reference", reference=reference), reference.astype(np.float32))


def test_reference_rejects_another_shape_and_non_finite_values():
    x = np.zeros((2, 1, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"reference has shape \(1, 1, 4, 4\).*input's shape \(2, 1, 4, 4\)"):
        reference_baseline(x, np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"reference has shape \(2, 4, 4\)"):
        reference_baseline(x, np.zeros((2, 4, 4)))
    with_nan = np.zeros(x.shape)
    with_nan[1, 0, 2, 2] = np.nan
    with pytest.raises(ValueError, match="reference has 1 NaN or infinite values"):
        reference_baseline(x, with_nan)


def test_settings_must_be_given_to_their_baseline():
    with pytest.raises(ValueError, match="healthy_fill baseline needs a region mask"):
        baseline(np.zeros((1, 1, 4, 4)), "healthy_fill", healthy_ceiling=0.2)
    with pytest.raises(ValueError, match="reference baseline needs the reference input"):
        baseline(np.zeros((1, 1, 4, 4)), "reference")
    with pytest.raises(ValueError, match="settings of the healthy_fill baseline, not of 'blur'"):
        check_settings("blur", region=np.ones((4, 4)), healthy_ceiling=0.2)
    with pytest.raises(ValueError, match="setting of the reference baseline, not of 'mean'"):
        check_settings("mean", reference=np.zeros((1, 1, 4, 4)))
