"""Tests of radxai.evaluate.binarise: validation, nearest resampling, binarisation schemes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from radxai.evaluate.binarise import (
    Band,
    Otsu,
    Threshold,
    TopFraction,
    binarise,
    check_binary_mask,
    check_heatmap,
    mask_on_heatmap_grid,
    nearest_indices,
    resample_mask,
)

# --------------------------------------------------------------------------------------------
# Schemes
# --------------------------------------------------------------------------------------------


def test_threshold_is_strict_and_band_includes_its_top() -> None:
    heatmap = np.array([[0.3, 0.5], [0.7, 0.9]])
    above = binarise(heatmap, Threshold(0.7))
    np.testing.assert_array_equal(above, [[False, False], [False, True]])
    band = binarise(heatmap, Band(0.3, 0.7))
    np.testing.assert_array_equal(band, [[False, True], [True, False]])


def test_top_fraction_takes_exactly_k_distinct_values() -> None:
    heatmap = np.arange(20, dtype=float).reshape(4, 5)
    mask = binarise(heatmap, TopFraction(0.25))
    assert mask.sum() == 5
    assert heatmap[mask].min() == 15


def test_top_fraction_keeps_a_tied_plateau_whole() -> None:
    heatmap = np.full((4, 4), 0.1)
    heatmap[:3, :3] = 1.0  # nine tied maxima, two wanted
    np.testing.assert_array_equal(binarise(heatmap, TopFraction(2 / 16)), heatmap == 1.0)


def test_top_fraction_never_selects_the_minimum() -> None:
    rectified = np.zeros((10, 10))
    rectified[0, :3] = [3.0, 2.0, 1.0]  # 3 positive voxels, 20 wanted
    np.testing.assert_array_equal(binarise(rectified, TopFraction(0.2)), rectified > 0)
    assert not binarise(np.full((3, 3), 5.0), TopFraction(0.5)).any()
    assert not binarise(np.arange(9.0).reshape(3, 3), TopFraction(0.01)).any()  # k = 0


@settings(max_examples=40)
@given(
    heatmap=arrays(
        np.float64, st.sampled_from([(6, 7), (3, 4, 5)]), elements=st.floats(0, 1, allow_subnormal=False), unique=True
    ),
    fraction=st.floats(0.01, 0.99),
)
def test_top_fraction_selects_the_highest_values(heatmap: np.ndarray, fraction: float) -> None:
    mask = binarise(heatmap, TopFraction(fraction))
    if mask.any() and (~mask).any():
        assert heatmap[mask].min() > heatmap[~mask].max()
    wanted = round(fraction * heatmap.size)
    # Only when every voxel is wanted does the cut reach the minimum, which stays out.
    assert mask.sum() == (wanted if wanted < heatmap.size else heatmap.size - 1)


def test_otsu_separates_two_modes_in_3d() -> None:
    heatmap = np.full((4, 6, 6), 0.1)
    heatmap[1:3, 2:5, 2:5] = 0.9
    heatmap += np.random.default_rng(0).normal(0, 0.01, heatmap.shape)
    np.testing.assert_array_equal(binarise(heatmap, Otsu()), heatmap > 0.5)
    assert not binarise(np.ones((3, 3)), Otsu()).any()


def test_scheme_labels_name_the_rule() -> None:
    assert Threshold(0.7).label == "h > 0.7"
    assert Band(0.3, 0.7).label == "0.3 < h <= 0.7"
    assert TopFraction(0.05).label == "top 5%"
    assert Otsu().label == "Otsu"


def test_bad_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="low < high"):
        Band(0.7, 0.3)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        TopFraction(0.0)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        TopFraction(1.0)
    with pytest.raises(ValueError, match="finite"):
        Threshold(float("nan"))
    with pytest.raises(TypeError, match="must be a number"):
        Threshold("0.5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Threshold\(t\), Band\(lo, hi\), TopFraction\(p\)"):
        binarise(np.ones((2, 2)), 0.5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def test_heatmap_checks_name_the_problem() -> None:
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        check_heatmap(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"2D \(H, W\) or 3D \(D, H, W\); got shape \(4,\)"):
        check_heatmap(np.ones(4))
    with pytest.raises(TypeError, match="real numbers"):
        check_heatmap(np.array([["a", "b"]]))
    assert check_heatmap(np.ones((2, 2), dtype=np.uint8)).dtype == np.float64


def test_mask_must_be_binary() -> None:
    assert check_binary_mask(np.array([[0.0, 1.0]])).dtype == bool
    with pytest.raises(ValueError, match=r"binary.*\[2, 3\]"):
        check_binary_mask(np.array([[0, 1], [2, 3]]))
    with pytest.raises(TypeError, match="boolean or 0/1"):
        check_binary_mask(np.array([["x", "y"]]))


# --------------------------------------------------------------------------------------------
# Resampling
# --------------------------------------------------------------------------------------------


def test_nearest_resampling_picks_cell_centres() -> None:
    fine = np.zeros((4, 4), dtype=bool)
    fine[1, 1] = fine[3, 3] = True
    # Output cell i of 2 takes input cell floor((i + 0.5) * 2) = 1, 3.
    np.testing.assert_array_equal(resample_mask(fine, (2, 2)), [[True, False], [False, True]])
    coarse = np.array([[True, False], [False, False]])
    np.testing.assert_array_equal(resample_mask(coarse, (4, 4)), np.kron(coarse, np.ones((2, 2), dtype=bool)))


@settings(max_examples=30)
@given(mask=arrays(bool, st.sampled_from([(3, 4), (2, 3, 2)])), factor=st.integers(1, 3))
def test_upsampling_then_downsampling_gives_the_mask_back(mask: np.ndarray, factor: int) -> None:
    large = resample_mask(mask, [extent * factor for extent in mask.shape])
    assert large.sum() == mask.sum() * factor**mask.ndim
    np.testing.assert_array_equal(resample_mask(large, mask.shape), mask)


@given(st.integers(1, 200), st.integers(1, 200))
def test_nearest_indices_are_the_exact_cell_centres(n_in: int, n_out: int) -> None:
    indices = nearest_indices(n_in, n_out)
    # floor((i + 1/2) n_in / n_out) in exact rational arithmetic
    expected = [int(Fraction(2 * i + 1, 2) * n_in / n_out) for i in range(n_out)]
    assert indices.tolist() == expected
    assert indices.min() >= 0 and indices.max() < n_in


def test_shapes_must_match_unless_resampling_is_asked_for() -> None:
    mask = np.zeros((4, 4, 4), dtype=bool)
    with pytest.raises(
        ValueError,
        match=r"heatmap shape \(2, 2, 2\) differs from mask shape "
        r"\(4, 4, 4\).*resample='nearest'",
    ):
        mask_on_heatmap_grid(mask, (2, 2, 2), None)
    assert mask_on_heatmap_grid(mask, (2, 2, 2), "nearest").shape == (2, 2, 2)
    with pytest.raises(ValueError, match=r"resample must be None or one of \['nearest'\]"):
        mask_on_heatmap_grid(mask, (2, 2, 2), "linear")
    with pytest.raises(ValueError, match="one positive extent per mask axis"):
        resample_mask(mask, (2, 2))
