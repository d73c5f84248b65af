"""Tests of radxai.explain.segments: superpixels, supervoxels, label checks, painting, means."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from radxai.explain.segments import (
    SEGMENTATIONS,
    check_segments,
    felzenszwalb_segments,
    paint_segments,
    quickshift_segments,
    restrict_to_region,
    segment,
    segment_counts,
    segment_means,
    slic_segments,
)


def quadrant_image(size: int = 32) -> np.ndarray:
    """(1, 1, size, size): four quadrants of intensities 0, 1, 2, 3 (in HU-like units x 100)."""
    half = size // 2
    image = np.zeros((size, size), dtype=np.float32)
    image[:half, half:] = 100.0
    image[half:, :half] = 200.0
    image[half:, half:] = 300.0
    return image[None, None]


def assert_contiguous(labels: np.ndarray) -> None:
    for sample in labels:
        used = np.unique(sample)
        np.testing.assert_array_equal(used, np.arange(len(used)))


def test_slic_finds_the_four_quadrants_of_a_piecewise_constant_image():
    labels = slic_segments(quadrant_image(), n_segments=4, compactness=0.01, sigma=0.0)
    assert labels.shape == (1, 32, 32) and labels.dtype == np.int64
    assert_contiguous(labels)
    quadrants = [labels[0, :16, :16], labels[0, :16, 16:], labels[0, 16:, :16], labels[0, 16:, 16:]]
    # Each quadrant is one segment, and the four are different.
    assert all(len(np.unique(quadrant)) == 1 for quadrant in quadrants)
    assert len({int(quadrant[0, 0]) for quadrant in quadrants}) == 4


def test_slic_supervoxels_never_straddle_an_intensity_edge_in_3d():
    volume = np.zeros((1, 1, 12, 16, 16), dtype=np.float32)
    volume[..., 8:] = 1.0
    labels = slic_segments(volume, n_segments=8, compactness=0.01, sigma=0.0)
    assert labels.shape == (1, 12, 16, 16)
    assert_contiguous(labels)
    assert segment_counts(labels)[0] >= 2
    for label in np.unique(labels):
        assert len(np.unique(volume[0, 0][labels[0] == label])) == 1


def test_slic_does_not_depend_on_the_intensity_units():
    """Images are scaled to [0, 1] first: HU and normalised values give the same segments."""
    rng = np.random.default_rng(0)
    image = rng.normal(size=(1, 1, 24, 24)).astype(np.float32)
    normalised = slic_segments(image, n_segments=9)
    in_hounsfield = slic_segments(image * 700.0 - 500.0, n_segments=9)
    np.testing.assert_array_equal(normalised, in_hounsfield)


def test_slic_segments_each_sample_and_several_channels_together():
    rng = np.random.default_rng(1)
    x = rng.random((2, 3, 20, 20)).astype(np.float32)
    labels = slic_segments(x, n_segments=6)
    assert labels.shape == (2, 20, 20)
    assert_contiguous(labels)
    assert not np.array_equal(labels[0], labels[1])


def test_more_segments_asked_gives_more_segments():
    image = np.random.default_rng(2).random((1, 1, 40, 40)).astype(np.float32)
    coarse = segment_counts(slic_segments(image, n_segments=4, compactness=1.0))[0]
    fine = segment_counts(slic_segments(image, n_segments=64, compactness=1.0))[0]
    assert fine > 4 * coarse


def test_slic_with_spacing_follows_the_voxel_size():
    volume = np.random.default_rng(3).random((1, 1, 8, 16, 16)).astype(np.float32)
    isotropic = slic_segments(volume, n_segments=8, compactness=10.0)
    anisotropic = slic_segments(volume, n_segments=8, compactness=10.0, spacing=(4.0, 1.0, 1.0))
    assert not np.array_equal(isotropic, anisotropic)
    with pytest.raises(ValueError, match="spacing must give 3 positive values"):
        slic_segments(volume, spacing=(1.0, 1.0))


@pytest.mark.parametrize("method", ["quickshift", "felzenszwalb"])
def test_2d_only_segmentations_find_the_quadrants_and_refuse_volumes(method):
    # No smoothing: blurred edge pixels would join either side.
    options = {"quickshift": {"max_dist": 6.0}, "felzenszwalb": {"sigma": 0.0}}[method]
    labels = segment(quadrant_image(), method, **options)
    assert labels.shape == (1, 32, 32)
    assert_contiguous(labels)
    image = quadrant_image()[0, 0]
    for label in np.unique(labels):
        assert len(np.unique(image[labels[0] == label])) == 1
    with pytest.raises(ValueError, match=f"{method} segments batches .* of 2D images"):
        segment(np.zeros((1, 1, 4, 8, 8), dtype=np.float32), method)


def test_quickshift_is_seeded():
    image = np.random.default_rng(4).random((1, 1, 24, 24)).astype(np.float32)
    first = quickshift_segments(image, seed=7)
    np.testing.assert_array_equal(first, quickshift_segments(image, seed=7))


def test_felzenszwalb_scale_controls_the_segment_size():
    image = np.random.default_rng(5).random((1, 1, 32, 32)).astype(np.float32)
    small = segment_counts(felzenszwalb_segments(image, scale=1.0, min_size=2))[0]
    large = segment_counts(felzenszwalb_segments(image, scale=1000.0, min_size=2))[0]
    assert small > large


def test_unknown_segmentation_and_options_are_named():
    x = quadrant_image()
    with pytest.raises(ValueError, match="unknown segmentation 'watershed'.*slic, quickshift"):
        segment(x, "watershed")
    with pytest.raises(TypeError, match="scale"):
        segment(x, "slic", scale=3.0)
    assert SEGMENTATIONS == ("slic", "quickshift", "felzenszwalb")


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"n_segments": 0}, ValueError, "n_segments must be a positive int"),
        ({"n_segments": 2.5}, ValueError, "n_segments must be a positive int"),
        ({"compactness": 0.0}, ValueError, "compactness must be finite and > 0"),
        ({"sigma": -1.0}, ValueError, "sigma must be finite and >= 0"),
        ({"sigma": "wide"}, TypeError, "sigma must be a number"),
    ],
)
def test_bad_slic_options_are_named(options, error, message):
    with pytest.raises(error, match=message):
        slic_segments(quadrant_image(), **options)


def test_bad_images_are_refused():
    with pytest.raises(ValueError, match=r"got shape \(32, 32\)"):
        slic_segments(np.zeros((32, 32)))
    nan_image = quadrant_image()
    nan_image[0, 0, 3, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        slic_segments(nan_image)


def test_a_constant_image_is_segmented_by_position_alone():
    labels = slic_segments(np.full((1, 1, 16, 16), 5.0, dtype=np.float32), n_segments=4)
    assert segment_counts(labels)[0] >= 2
    assert_contiguous(labels)


# --------------------------------------------------------------------------- given labels


def test_one_segmentation_is_shared_by_every_sample():
    labels = np.arange(16).reshape(4, 4) // 4
    checked = check_segments(labels, (3, 1, 4, 4))
    assert checked.shape == (3, 4, 4) and checked.dtype == np.int64
    assert all(np.array_equal(sample, labels) for sample in checked)
    checked[0, 0, 0] = 99  # an independent copy, not a broadcast view
    assert checked[1, 0, 0] == 0


def test_scikit_image_style_labels_are_renumbered_in_order():
    labels = np.array([[[1, 1, 5], [9, 9, 5]], [[2, 2, 2], [4, 4, 4]]])
    checked = check_segments(labels, (2, 1, 2, 3))
    np.testing.assert_array_equal(checked[0], [[0, 0, 1], [2, 2, 1]])
    np.testing.assert_array_equal(checked[1], [[0, 0, 0], [1, 1, 1]])
    np.testing.assert_array_equal(segment_counts(checked), [3, 2])


@given(hnp.arrays(np.int64, (2, 3, 4), elements=st.integers(0, 20)))
def test_renumbering_keeps_the_partition_and_the_order(labels):
    checked = check_segments(labels, (2, 1, 3, 4))
    for given_labels, renumbered in zip(labels, checked):
        count = len(np.unique(given_labels))
        np.testing.assert_array_equal(np.unique(renumbered), np.arange(count))
        # Same partition, same order: the renumbering is a monotone map of the labels.
        flat_given, flat_new = given_labels.ravel(), renumbered.ravel()
        order = np.argsort(flat_given, kind="stable")
        assert np.all(np.diff(flat_new[order]) >= 0)
        assert np.array_equal(flat_given[:, None] == flat_given, flat_new[:, None] == flat_new)


@pytest.mark.parametrize(
    "labels, error, message",
    [
        (np.zeros((5, 4), dtype=int), ValueError, r"spatial shape \(4, 4\) or .*\(2, 4, 4\)"),
        (np.zeros((3, 4, 4), dtype=int), ValueError, r"got shape \(3, 4, 4\)"),
        (np.zeros((4, 4)), TypeError, "integer labels; got dtype float64"),
        (np.zeros((4, 4), dtype=bool), TypeError, "integer labels; got dtype bool"),
        (-np.ones((4, 4), dtype=int), ValueError, "non-negative; got minimum -1"),
    ],
)
def test_bad_given_segments_are_named(labels, error, message):
    with pytest.raises(error, match=message):
        check_segments(labels, (2, 1, 4, 4))


# --------------------------------------------------------------------------- paint and means


@given(
    hnp.arrays(np.int64, (2, 5, 3), elements=st.integers(0, 6)),
    hnp.arrays(np.float64, (2, 7), elements=st.floats(-10, 10)),
)
def test_the_mean_of_a_painted_map_over_each_segment_is_the_segment_value(labels, values):
    segments = check_segments(labels, (2, 1, 5, 3))
    painted = paint_segments(values, segments)
    assert painted.shape == (2, 5, 3) and painted.dtype == np.float32
    means = segment_means(painted, segments)
    for sample in range(2):
        count = segment_counts(segments)[sample]
        np.testing.assert_allclose(means[sample, :count], values[sample, :count], atol=1e-5)
        assert np.all(np.isnan(means[sample, count:]))


def test_segment_means_averages_each_segment():
    segments = np.array([[[0, 0, 1], [1, 1, 2]]])
    heatmaps = np.array([[[1.0, 3.0, 0.0], [3.0, 6.0, 7.0]]])
    np.testing.assert_allclose(segment_means(heatmaps, segments), [[2.0, 3.0, 7.0]])


def test_painting_and_means_check_their_shapes():
    segments = np.zeros((2, 3, 3), dtype=np.int64)
    with pytest.raises(ValueError, match="same N"):
        paint_segments(np.zeros((3, 1)), segments)
    with pytest.raises(ValueError, match="label 4 but values have only 2"):
        paint_segments(np.zeros((2, 2)), segments + 4)
    with pytest.raises(ValueError, match=r"both be \(N, \*spatial\)"):
        segment_means(np.zeros((2, 3, 4)), segments)


# --------------------------------------------------------------------------- restrict_to_region


def test_restricting_to_a_region_merges_the_outside_into_segment_zero():
    labels = np.array([[[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]]])
    region = np.array([[False, True, True, False], [False, False, False, False], [True, True, False, False]])
    restricted = restrict_to_region(labels, region)
    # inside: segment 0 (cut), 1 (cut), 4 -> players 1, 2, 3 in the original order
    np.testing.assert_array_equal(restricted, [[[0, 1, 2, 0], [0, 0, 0, 0], [3, 3, 0, 0]]])


@given(hnp.arrays(np.int64, (2, 3, 4, 5), elements=st.integers(0, 6)), hnp.arrays(bool, (3, 4, 5)))
def test_restricted_labels_are_contiguous_and_zero_exactly_outside(labels, region):
    if not region.any():
        return
    restricted = restrict_to_region(labels, region)
    assert restricted.shape == labels.shape
    for sample, original in zip(restricted, labels):
        if region.all():  # no outside player: the segments themselves, from 0
            np.testing.assert_array_equal(sample, check_segments(original, (1, 1, *region.shape))[0])
        else:
            np.testing.assert_array_equal(sample == 0, ~region)
        assert set(np.unique(sample)) == set(range(int(sample.max()) + 1))
        # two voxels inside share a player exactly when they shared a segment
        inside = original[region]
        players = sample[region]
        assert len(set(zip(inside.tolist(), players.tolist()))) == len(set(inside.tolist()))


@pytest.mark.parametrize(
    ("region", "error", "message"),
    [
        (np.ones((3, 3), dtype=bool), ValueError, r"spatial shape \(4, 4\)"),
        (np.ones((4, 4)), TypeError, "boolean mask"),
        (np.zeros((4, 4), dtype=bool), ValueError, r"empty for samples \[0, 1\]"),
    ],
)
def test_bad_regions_are_named(region, error, message):
    with pytest.raises(error, match=message):
        restrict_to_region(np.zeros((2, 4, 4), dtype=np.int64), region)
