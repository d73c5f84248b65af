"""Tests of radxai.explain.upsample: interpolation to input size and normalisation to [0, 1]."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from radxai.explain.upsample import minmax, resize, upsample_and_normalise


def test_resize_is_linear_with_half_pixel_centres():
    # align_corners=False: output pixel i samples input coordinate (i + 0.5) / 2 - 0.5,
    # clamped at the border, so [0, 1] becomes [0, 0.25, 0.75, 1].
    heatmaps = np.array([[[0.0, 1.0]]])
    np.testing.assert_allclose(resize(heatmaps, (1, 4)), [[[0.0, 0.25, 0.75, 1.0]]])


def test_resize_handles_three_spatial_axes():
    heatmaps = np.random.default_rng(0).random((2, 2, 3, 4))
    resized = resize(heatmaps, (4, 6, 8))
    assert resized.shape == (2, 4, 6, 8)
    assert resized.dtype == np.float32
    # Linear interpolation stays within the range of the values it interpolates.
    assert resized.min() >= heatmaps.min() - 1e-6 and resized.max() <= heatmaps.max() + 1e-6


def test_resize_at_same_size_returns_the_values():
    heatmaps = np.random.default_rng(1).random((1, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(resize(heatmaps, (5, 5)), heatmaps)


def test_resize_rejects_a_size_with_other_axes():
    with pytest.raises(ValueError, match=r"cannot resize maps of shape \(1, 4, 4\)"):
        resize(np.zeros((1, 4, 4)), (8, 8, 8))


def test_minmax_scales_each_sample_on_its_own():
    heatmaps = np.array([[[1.0, 3.0]], [[-2.0, 2.0]]])
    np.testing.assert_allclose(minmax(heatmaps), [[[0.0, 1.0]], [[0.0, 1.0]]])


@pytest.mark.parametrize("value", [0.0, 5.0, -3.0])
def test_constant_maps_become_zeros_not_nan(value):
    scaled = minmax(np.full((2, 3, 4), value))
    assert not np.isnan(scaled).any()
    np.testing.assert_array_equal(scaled, 0.0)


@pytest.mark.parametrize(("shape", "size"), [((3, 5), (13, 17)), ((3, 5, 7), (13, 17, 19))])
def test_interpolated_constant_map_stays_zero(shape, size):
    # Interpolation leaves rounding ripple on these constant maps (a few float32 ulps);
    # it must not be blown up into a pattern.
    heatmaps = np.full((1, *shape), 3.3, dtype=np.float32)
    assert np.ptp(resize(heatmaps, size)) > 0
    np.testing.assert_array_equal(upsample_and_normalise(heatmaps, size), 0.0)


def test_upsample_and_normalise_rectifies_after_interpolating():
    heatmaps = np.array([[[-1.0, 0.0, 2.0]]])
    result = upsample_and_normalise(heatmaps, (1, 3))
    np.testing.assert_allclose(result, [[[0.0, 0.0, 1.0]]])


def test_a_map_without_positive_evidence_becomes_zeros():
    negative = -np.arange(4.0).reshape(1, 2, 2)
    np.testing.assert_array_equal(upsample_and_normalise(negative, (4, 4)), 0.0)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, (2, 3, 4), elements=st.floats(-1e3, 1e3, width=32)))
def test_minmax_lies_in_unit_interval_and_reaches_both_ends(heatmaps):
    scaled = minmax(heatmaps)
    assert scaled.min() >= 0.0 and scaled.max() <= 1.0
    for sample, original in zip(scaled, heatmaps, strict=True):
        if original.max() - original.min() > 1e-3 * max(1.0, np.abs(original).max()):
            assert sample.min() == 0.0 and sample.max() == pytest.approx(1.0)
