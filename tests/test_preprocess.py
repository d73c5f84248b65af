"""Tests of radxai.data.preprocess: windowing, resampling and model-input preparation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from radxai.data.preprocess import (
    DEFAULT_CT_SHAPE,
    WINDOWS,
    clip_and_scale,
    preprocess_ct,
    preprocess_xray,
    resize,
    resize_volume,
    window_from_level_width,
)
from radxai.data.volume import Volume, affine_to_spacing

hounsfield = st.floats(min_value=-4000, max_value=4000, allow_nan=False, width=32)


# --------------------------------------------------------------------------- windows


def test_window_presets():
    assert WINDOWS["covid"] == (-1000.0, 400.0)
    assert WINDOWS["lung"] == (-1350.0, 150.0)
    assert WINDOWS["mediastinum"] == (-160.0, 240.0)


def test_window_from_level_width():
    assert window_from_level_width(-600, 1500) == (-1350.0, 150.0)
    assert window_from_level_width(40, 400) == (-160.0, 240.0)
    with pytest.raises(ValueError, match="width must be positive"):
        window_from_level_width(40, 0)


def test_clip_and_scale_default_covid_window():
    hu = np.array([-3000, -1000, -300, 400, 3000], dtype=np.int16)
    scaled = clip_and_scale(hu)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled, [0.0, 0.0, 0.5, 1.0, 1.0])


def test_clip_and_scale_named_and_explicit_windows_agree():
    hu = np.linspace(-2000, 1000, 50)
    np.testing.assert_array_equal(clip_and_scale(hu, "lung"), clip_and_scale(hu, (-1350, 150)))
    assert clip_and_scale(np.array([40.0]), "mediastinum")[0] == pytest.approx(0.5)


def test_clip_and_scale_keeps_shape():
    assert clip_and_scale(np.zeros((2, 3, 4, 5))).shape == (2, 3, 4, 5)


def test_clip_and_scale_errors():
    with pytest.raises(ValueError, match=r"unknown window preset 'bone'.*covid.*lung"):
        clip_and_scale(np.zeros(3), "bone")
    with pytest.raises(ValueError, match="low < high"):
        clip_and_scale(np.zeros(3), (100, 100))
    with pytest.raises(ValueError, match="low < high"):
        clip_and_scale(np.zeros(3), (200, 100))
    with pytest.raises(ValueError, match="pair"):
        clip_and_scale(np.zeros(3), (1, 2, 3))
    with pytest.raises(ValueError, match="2 of 4 values are NaN"):
        clip_and_scale(np.array([0, np.nan, 1, np.nan]))
    with pytest.raises(ValueError, match="1 of 3 values are NaN or infinite"):
        clip_and_scale(np.array([0.0, np.inf, 1.0]))


@settings(max_examples=60, deadline=None)
@given(
    values=arrays(np.float32, st.integers(1, 40), elements=hounsfield),
    low=st.floats(-2000, 1000, allow_nan=False),
    width=st.floats(1, 3000, allow_nan=False),
)
def test_clip_and_scale_within_unit_range_and_monotone(values, low, width):
    scaled = clip_and_scale(values, (low, low + width))
    assert scaled.dtype == np.float32
    assert np.all((scaled >= 0.0) & (scaled <= 1.0))
    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(scaled[order]) >= 0)


# --------------------------------------------------------------------------- resize


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ((37, 61, 59), DEFAULT_CT_SHAPE),
        ((130, 257, 255), DEFAULT_CT_SHAPE),
        ((5, 7, 3), (1, 1, 1)),
        ((64, 128, 128), (64, 128, 128)),
        ((33, 47), (224, 224)),
        ((500, 301), (224, 224)),
    ],
)
def test_resize_lands_on_requested_shape(source, target):
    resized = resize(np.random.default_rng(0).random(source).astype(np.float32), target)
    assert resized.shape == target
    assert resized.dtype == np.float32


def test_resize_keeps_constant_and_range():
    resized = resize(np.full((9, 10, 11), 0.25), (20, 5, 7))
    np.testing.assert_allclose(resized, 0.25)


def test_resize_aligns_cell_edges():
    # Upsampling by 2 with edges aligned puts new centres at old positions -0.25, 0.25, ...
    upsampled = resize(np.array([[0.0, 1.0, 2.0, 3.0]]), (1, 8))
    np.testing.assert_allclose(upsampled, [[0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3]])
    downsampled = resize(np.arange(8.0)[None, :], (1, 4))
    np.testing.assert_allclose(downsampled, [[0.5, 2.5, 4.5, 6.5]])


def test_resize_dtypes():
    labels = np.random.default_rng(1).integers(0, 3, (6, 7, 8)).astype(np.uint8)
    nearest = resize(labels, (12, 3, 9), order=0)
    assert nearest.dtype == np.uint8 and set(np.unique(nearest)) <= {0, 1, 2}
    assert resize(labels, (12, 3, 9)).dtype == np.float32
    assert resize(np.zeros((3, 3)), (4, 4)).dtype == np.float64


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((64, 128), "must have 3 sizes"),
        ((64, 128, 128, 1), "must have 3 sizes"),
        ((0, 128, 128), "positive integers"),
        ((-4, 128, 128), "positive integers"),
        ((64.5, 128, 128), "positive integers"),
        ((64.0, 128, 128), "positive integers"),
        ((True, 128, 128), "positive integers"),
    ],
)
def test_resize_rejects_impossible_shapes_naming_them(shape, message):
    with pytest.raises(ValueError, match=message) as caught:
        resize(np.zeros((4, 5, 6)), shape)
    assert str(tuple(shape)) in str(caught.value)


def test_resize_rejects_bad_arrays():
    with pytest.raises(ValueError, match="2D or 3D"):
        resize(np.zeros(5), (3,))
    with pytest.raises(ValueError, match="empty"):
        resize(np.zeros((0, 4)), (3, 3))


def test_resize_accepts_numpy_integer_sizes():
    assert resize(np.zeros((4, 4)), np.array([6, 2])).shape == (6, 2)


@settings(max_examples=30, deadline=None)
@given(
    source=st.tuples(*[st.integers(1, 12)] * 3),
    target=st.tuples(*[st.integers(1, 12)] * 3),
)
def test_resize_shape_and_bounds_property(source, target):
    values = np.random.default_rng(sum(source)).random(source)
    resized = resize(values, target)
    assert resized.shape == target
    assert resized.min() >= values.min() - 1e-12 and resized.max() <= values.max() + 1e-12


# --------------------------------------------------------------------------- resize_volume


def voxel_centre_world(volume: Volume, index_kji) -> np.ndarray:
    k, j, i = index_kji
    return (volume.affine @ [i, j, k, 1.0])[:3]


def oblique_volume(shape=(9, 14, 11)) -> Volume:
    angle = np.deg2rad(35.0)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]) * [
        0.7,
        0.9,
        2.5,
    ]
    affine[:3, 3] = [-50.0, 12.0, 300.0]
    lesion = np.zeros(shape, np.uint8)
    lesion[2:6, 3:9, 4:8] = 2
    lesion[6:, :4, :3] = 1
    array = np.random.default_rng(2).normal(-500, 300, shape).astype(np.float32)
    return Volume(array, affine, affine_to_spacing(affine), {"lesion": lesion})


@pytest.mark.parametrize("target", [(64, 128, 128), (4, 5, 6), (9, 14, 11)])
def test_resize_volume_keeps_physical_centre_and_extent(target):
    volume = oblique_volume()
    resized = resize_volume(volume, target)
    assert resized.shape == target
    old_centre = voxel_centre_world(volume, [(size - 1) / 2 for size in volume.shape])
    new_centre = voxel_centre_world(resized, [(size - 1) / 2 for size in target])
    np.testing.assert_allclose(new_centre, old_centre, atol=1e-9)
    # The outer edge of the first cell, half a voxel before voxel 0, stays put.
    np.testing.assert_allclose(
        voxel_centre_world(resized, [-0.5] * 3), voxel_centre_world(volume, [-0.5] * 3), atol=1e-9
    )
    expected_spacing = [old * count / new for old, count, new in zip(volume.spacing, volume.shape, target)]
    np.testing.assert_allclose(resized.spacing, expected_spacing)
    np.testing.assert_allclose(affine_to_spacing(resized.affine), expected_spacing)


def test_resize_volume_identity_shape_changes_nothing():
    volume = oblique_volume()
    same = resize_volume(volume, volume.shape)
    np.testing.assert_allclose(same.affine, volume.affine, atol=1e-12)
    np.testing.assert_allclose(same.array, volume.array, atol=1e-4)
    np.testing.assert_array_equal(same.masks["lesion"], volume.masks["lesion"])


def test_resize_volume_masks_stay_labels():
    resized = resize_volume(oblique_volume(), (20, 31, 7))
    mask = resized.masks["lesion"]
    assert mask.shape == (20, 31, 7)
    assert mask.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 1, 2}


def test_resize_volume_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"\(64, 128\)"):
        resize_volume(oblique_volume(), (64, 128))


# --------------------------------------------------------------------------- model inputs


def test_preprocess_ct_from_array_and_volume():
    hu = np.random.default_rng(3).integers(-2000, 2000, (37, 61, 59)).astype(np.int16)
    from_array = preprocess_ct(hu)
    assert from_array.shape == DEFAULT_CT_SHAPE and from_array.dtype == np.float32
    assert from_array.min() >= 0.0 and from_array.max() <= 1.0
    from_volume = preprocess_ct(Volume.from_spacing(hu, (2.0, 0.8, 0.8)))
    np.testing.assert_array_equal(from_volume, from_array)


def test_preprocess_ct_windows_before_resizing():
    hu = np.full((4, 6, 6), 3000, np.int16)
    np.testing.assert_array_equal(preprocess_ct(hu, shape=(2, 3, 3)), 1.0)
    lung = preprocess_ct(np.full((4, 6, 6), -600.0), shape=(2, 3, 3), window="lung")
    np.testing.assert_allclose(lung, 0.5)


def test_preprocess_ct_rejects_2d():
    with pytest.raises(ValueError, match="3D"):
        preprocess_ct(np.zeros((5, 5)))


def test_preprocess_xray():
    image = np.random.default_rng(4).integers(0, 4096, (300, 250)).astype(np.uint16)
    prepared = preprocess_xray(image)
    assert prepared.shape == (224, 224) and prepared.dtype == np.float32
    assert prepared.min() >= 0.0 and prepared.max() <= 1.0


def test_preprocess_xray_constant_image_is_zero_not_nan():
    prepared = preprocess_xray(np.full((50, 60), 7.0), shape=(32, 32))
    assert not np.any(np.isnan(prepared))
    np.testing.assert_array_equal(prepared, 0.0)


def test_preprocess_xray_errors():
    with pytest.raises(ValueError, match="2D"):
        preprocess_xray(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="1 of 4 values are NaN"):
        preprocess_xray(np.array([[0.0, 1.0], [np.nan, 2.0]]))
    with pytest.raises(ValueError, match="empty"):
        preprocess_xray(np.zeros((0, 5)))
