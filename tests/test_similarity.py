"""Tests of radxai.evaluate.similarity: Spearman, SSIM and HOG similarity of two maps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from radxai.evaluate.similarity import (
    MEASURES,
    hog_similarity,
    map_similarities,
    spearman_similarity,
    ssim_similarity,
)

SMALL_HOG = {"pixels_per_cell": (4, 4), "cells_per_block": (2, 2)}


def smooth_map(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A map with structure (a blob and a ramp) plus a little noise, in [0, 1]."""
    generator = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(-1, 1, size) for size in shape], indexing="ij")
    centre = generator.uniform(-0.5, 0.5, len(shape))
    blob = np.exp(-sum((grid - c) ** 2 for grid, c in zip(grids, centre)) / 0.2)
    values = blob + 0.3 * grids[-1] + 0.05 * generator.random(shape)
    return (values - values.min()) / np.ptp(values)


@settings(max_examples=20, deadline=None)
@given(three_d=st.booleans(), seed=st.integers(0, 10_000))
def test_identical_maps_have_similarity_one(three_d: bool, seed: int) -> None:
    shape = (3, 24, 24) if three_d else (24, 24)
    values = smooth_map(shape, seed)
    similarity = map_similarities(values, values.copy(), data_range=1.0)
    assert list(similarity) == list(MEASURES)
    for measure, value in similarity.items():
        assert value == pytest.approx(1.0, abs=1e-12), measure


def test_different_maps_are_less_similar_than_identical_ones() -> None:
    first, second = smooth_map((32, 32), 1), smooth_map((32, 32), 2)
    similarity = map_similarities(first, second, data_range=1.0, pixels_per_cell=(8, 8))
    for measure, value in similarity.items():
        assert value < 0.95, measure
    noise = np.random.default_rng(0).random((32, 32))
    assert abs(spearman_similarity(first, noise)) < 0.2
    assert ssim_similarity(first, noise, data_range=1.0) < 0.2


@settings(max_examples=30, deadline=None)
@given(values=arrays(np.float64, (5, 6), elements=st.integers(-50, 50).map(float), unique=True))
def test_spearman_sees_ranks_and_signs(values: np.ndarray) -> None:
    # A monotone transform keeps the ranking; negation reverses it, and the absolute
    # version sees what the magnitudes say.
    assert spearman_similarity(values, values**3 + 100) == pytest.approx(1.0)
    assert spearman_similarity(values, -values) == pytest.approx(-1.0)
    magnitudes = np.abs(values)
    if np.ptp(magnitudes) > 0:
        assert spearman_similarity(values, -values, absolute=True) == pytest.approx(1.0)


def test_spearman_of_a_constant_map_is_nan_and_any_shape_is_accepted() -> None:
    assert math.isnan(spearman_similarity(np.zeros((4, 4)), np.random.default_rng(0).random((4, 4))))
    raw = np.random.default_rng(1).standard_normal((2, 3, 3))  # e.g. a CAM's raw map
    assert spearman_similarity(raw, raw) == pytest.approx(1.0)
    assert spearman_similarity(np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 2.0])) == pytest.approx(-0.5)


def test_ssim_data_range_and_window() -> None:
    first, second = smooth_map((10, 12), 3), smooth_map((10, 12), 4)
    joint = ssim_similarity(first, second)
    assert joint == pytest.approx(ssim_similarity(first, second, data_range=1.0))  # both span [0, 1]
    # A wider data range makes the same differences look smaller.
    assert ssim_similarity(first, second, data_range=10.0) > joint
    assert ssim_similarity(first, second) == pytest.approx(ssim_similarity(second, first))
    # 3D works; a 4-voxel axis gets a 3-voxel window.
    volume = smooth_map((4, 9, 9), 5)
    assert ssim_similarity(volume, volume + 0.01) < 1.0
    assert ssim_similarity(np.zeros((4, 9, 9)), np.zeros((4, 9, 9))) == 1.0


def test_hog_of_a_volume_is_the_mean_over_slices_without_blank_ones() -> None:
    first, second = smooth_map((3, 16, 16), 6), smooth_map((3, 16, 16), 7)
    first[1] = 0.0  # a blank slice: no gradients, undefined correlation
    per_slice = [hog_similarity(first[i], second[i], **SMALL_HOG) for i in (0, 2)]
    assert math.isnan(hog_similarity(first[1], second[1], **SMALL_HOG))
    assert hog_similarity(first, second, axis=0, **SMALL_HOG) == pytest.approx(np.mean(per_slice))
    # Slicing along another axis gives (H, W) = (3, 16) slices, too small for one block.
    with pytest.raises(ValueError, match=r"slices along axis 1 of at least 8 x 8 pixels.*\(3, 16\)"):
        hog_similarity(first, second, axis=1, **SMALL_HOG)
    assert math.isnan(hog_similarity(np.zeros((2, 16, 16)), second[:2], **SMALL_HOG))


def test_bad_maps_get_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"different shapes \(4, 4\) and \(4, 5\)"):
        spearman_similarity(np.ones((4, 4)), np.ones((4, 5)))
    with_nan = np.zeros((4, 4))
    with_nan[2, 1] = np.nan
    with pytest.raises(ValueError, match="first map has 1 NaN"):
        ssim_similarity(with_nan, np.ones((4, 4)))
    with pytest.raises(ValueError, match=r"2D \(H, W\) or 3D \(D, H, W\)"):
        ssim_similarity(np.ones(5), np.ones(5))
    with pytest.raises(ValueError, match="at least 3 voxels along every axis"):
        ssim_similarity(np.ones((2, 8)), np.zeros((2, 8)))
    with pytest.raises(ValueError, match="data_range must be positive"):
        ssim_similarity(np.ones((4, 4)), np.zeros((4, 4)), data_range=0.0)
    with pytest.raises(ValueError, match="data_range must be positive"):  # also for identical maps
        ssim_similarity(np.ones((4, 4)), np.ones((4, 4)), data_range=-1.0)
    with pytest.raises(ValueError, match="at least 24 x 24 pixels"):
        hog_similarity(np.ones((16, 16)), np.zeros((16, 16)))
    with pytest.raises(ValueError, match="axis must be 0, 1 or 2"):
        hog_similarity(np.ones((2, 24, 24)), np.zeros((2, 24, 24)), axis=3)
