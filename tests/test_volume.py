"""Tests of radxai.data.volume: the Volume container and its geometry helpers."""

import numpy as np
import pytest

from radxai.data.volume import Volume, affine_to_spacing, spacing_to_affine


def oblique_affine() -> np.ndarray:
    """Rotation about z by 30 degrees with voxel steps (dx, dy, dz) = (0.7, 0.8, 2.5) mm."""
    angle = np.deg2rad(30.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation * [0.7, 0.8, 2.5]
    affine[:3, 3] = [-100.0, 20.0, 5.0]
    return affine


def test_from_spacing_builds_diagonal_affine_in_index_order():
    volume = Volume.from_spacing(np.zeros((4, 5, 6)), spacing=(2.5, 0.8, 0.7), origin=(1, 2, 3))
    expected = np.array([[0.7, 0, 0, 1], [0, 0.8, 0, 2], [0, 0, 2.5, 3], [0, 0, 0, 1]], dtype=np.float64)
    np.testing.assert_array_equal(volume.affine, expected)
    assert volume.affine.dtype == np.float64
    assert volume.spacing == (2.5, 0.8, 0.7)
    assert volume.shape == (4, 5, 6)
    assert volume.masks == {}


def test_affine_maps_voxel_index_ijk_to_world():
    volume = Volume.from_spacing(np.zeros((4, 5, 6)), spacing=(2.0, 3.0, 5.0))
    # Voxel column i=1, row j=2, slice k=3 (array index [3, 2, 1]).
    world = volume.affine @ np.array([1, 2, 3, 1])
    np.testing.assert_allclose(world[:3], [5.0, 6.0, 6.0])


def test_affine_to_spacing_handles_oblique_affines():
    assert affine_to_spacing(oblique_affine()) == pytest.approx((2.5, 0.8, 0.7))


def test_affine_to_spacing_rejects_wrong_shape():
    with pytest.raises(ValueError, match="4x4"):
        affine_to_spacing(np.eye(3))


def test_spacing_to_affine_rejects_bad_origin():
    with pytest.raises(ValueError, match="origin"):
        spacing_to_affine((1, 1, 1), origin=(0, 0))


def test_volume_accepts_oblique_affine_with_matching_spacing():
    volume = Volume(np.zeros((2, 3, 4)), oblique_affine(), (2.5, 0.8, 0.7))
    assert volume.spacing == pytest.approx((2.5, 0.8, 0.7))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((np.zeros((3, 4)), np.eye(4), (1, 1, 1)), "3D"),
        ((np.zeros((2, 3, 4)), np.eye(3), (1, 1, 1)), "4x4"),
        ((np.zeros((2, 3, 4)), np.eye(4), (1, 0, 1)), "positive"),
        ((np.zeros((2, 3, 4)), np.eye(4), (1, -1, 1)), "positive"),
        ((np.zeros((2, 3, 4)), np.eye(4), (1, 1)), "3 values"),
        ((np.zeros((2, 3, 4)), np.eye(4), (2, 1, 1)), "disagrees with the affine"),
        ((np.zeros((2, 3, 4)), np.diag([1, 1, 0, 1]), (1, 1, 1)), "disagrees|singular"),
        ((np.zeros((2, 3, 4)), np.full((4, 4), np.nan), (1, 1, 1)), "non-finite"),
    ],
)
def test_volume_validation_names_the_problem(arguments, message):
    with pytest.raises(ValueError, match=message):
        Volume(*arguments)


def test_singular_affine_rejected():
    affine = np.eye(4)
    affine[:3, 2] = affine[:3, 0]  # slice axis parallel to the column axis
    with pytest.raises(ValueError, match="singular"):
        Volume(np.zeros((2, 3, 4)), affine, affine_to_spacing(affine))


def test_mask_shape_must_match_array():
    with pytest.raises(ValueError, match="mask 'lungs' has shape"):
        Volume.from_spacing(np.zeros((2, 3, 4)), (1, 1, 1), masks={"lungs": np.zeros((2, 3, 3))})


def test_with_array_keeps_geometry_and_copies_masks():
    masks = {"lesion": np.ones((2, 3, 4), dtype=np.uint8)}
    volume = Volume(np.zeros((2, 3, 4)), oblique_affine(), (2.5, 0.8, 0.7), masks)
    heatmap = np.random.default_rng(0).random((2, 3, 4)).astype(np.float32)
    derived = volume.with_array(heatmap)
    np.testing.assert_array_equal(derived.array, heatmap)
    np.testing.assert_array_equal(derived.affine, volume.affine)
    assert derived.spacing == volume.spacing
    derived.masks["lesion"][0, 0, 0] = 0
    derived.affine[0, 0] = 99.0
    assert volume.masks["lesion"][0, 0, 0] == 1
    assert volume.affine[0, 0] != 99.0


def test_with_array_rejects_other_shape():
    volume = Volume.from_spacing(np.zeros((2, 3, 4)), (1, 1, 1))
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        volume.with_array(np.zeros((2, 3, 5)))


def test_volume_fields_cannot_be_reassigned():
    volume = Volume.from_spacing(np.zeros((2, 3, 4)), (1, 1, 1))
    with pytest.raises(AttributeError):
        volume.spacing = (2.0, 2.0, 2.0)
