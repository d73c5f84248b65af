"""Tests of radxai.evaluate.organs: PARTITION-style organ masks on the CT phantoms."""

from __future__ import annotations

import numpy as np
import pytest

from radxai.data.datasets import ct_affine
from radxai.data.phantoms import ORGAN_LABELS, ct_phantom
from radxai.data.volume import Volume
from radxai.evaluate.localisation import dice
from radxai.evaluate.organs import ORGAN_NAMES, axial_orientation, partition_organs

SMOKE_SHAPE = (32, 64, 64)


def _organ(phantom, name: str) -> np.ndarray:
    return phantom.organ_mask == ORGAN_LABELS[name]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("grade", [0, 1, 2])
def test_lungs_match_the_phantom(seed: int, grade: int) -> None:
    phantom = ct_phantom(seed, shape=SMOKE_SHAPE, grade=grade)
    organs = partition_organs(phantom.hu)
    assert organs.quality_passed, organs.quality_message
    assert dice(organs.lungs, phantom.lung_mask) >= 0.9
    if grade <= 1:
        # Right is right: each side against its own lung, and not against the other.
        assert dice(organs.right_lung, _organ(phantom, "right_lung")) >= 0.9
        assert dice(organs.left_lung, _organ(phantom, "left_lung")) >= 0.9
        assert dice(organs.right_lung, _organ(phantom, "left_lung")) < 0.05


def test_lungs_at_the_default_phantom_size() -> None:
    phantom = ct_phantom(7, grade=1)  # 64 x 128 x 128
    organs = partition_organs(phantom.hu)
    assert dice(organs.lungs, phantom.lung_mask) >= 0.95


def test_table_blanket_and_marker_do_not_move_the_lungs() -> None:
    plain = ct_phantom(3, shape=SMOKE_SHAPE, grade=1)
    confounded = ct_phantom(3, shape=SMOKE_SHAPE, grade=1, confounders=("blanket", "marker"))
    assert not np.array_equal(plain.hu, confounded.hu)
    plain_organs = partition_organs(plain.hu)
    confounded_organs = partition_organs(confounded.hu)
    assert confounded_organs.quality_passed
    assert dice(confounded_organs.lungs, plain_organs.lungs) >= 0.99
    assert dice(confounded_organs.lungs, confounded.lung_mask) >= 0.9


def test_a_sternum_in_front_of_the_heart_does_not_cut_the_mediastinum() -> None:
    # Real chests have a sternum at the front of the mediastinum; the phantoms do not. Bone
    # there must not end the columns behind it (the heart) the way the vertebral body does.
    phantom = ct_phantom(3, shape=(32, 96, 96), grade=0)
    plain = partition_organs(phantom.hu)
    hu = phantom.hu.copy()
    sternum = np.zeros(hu.shape, dtype=bool)
    for index in range(hu.shape[0]):
        right, left = plain.right_lung[index], plain.left_lung[index]
        rows = np.flatnonzero(right.any(axis=1) & left.any(axis=1))
        if rows.size:
            front = rows[0]
            medial_right, medial_left = np.flatnonzero(right[front]).max(), np.flatnonzero(left[front]).min()
            centre = (medial_right + medial_left) // 2
            sternum[index, front : front + 2, max(medial_right + 1, centre - 3) : min(medial_left, centre + 4)] = True
    hu[sternum] = 700.0
    with_sternum = partition_organs(hu)
    assert sternum.sum() > 100
    assert not (with_sternum.mediastinum & sternum).any()
    assert dice(with_sternum.mediastinum, plain.mediastinum & ~sternum) >= 0.95


def test_mediastinum_lies_between_the_lungs_in_front_of_the_spine() -> None:
    phantom = ct_phantom(4, shape=SMOKE_SHAPE, grade=0)
    organs = partition_organs(phantom.hu)
    assert not (organs.mediastinum & organs.lungs).any()
    assert not (organs.mediastinum & (phantom.hu >= 150)).any()
    assert dice(organs.mediastinum, _organ(phantom, "mediastinum")) >= 0.5
    columns = np.flatnonzero(organs.mediastinum.any(axis=(0, 1)))
    right_columns = np.flatnonzero(organs.right_lung.any(axis=(0, 1)))
    left_columns = np.flatnonzero(organs.left_lung.any(axis=(0, 1)))
    assert right_columns.min() < columns.min() and columns.max() < left_columns.max()


def test_orientation_comes_from_the_volume_affine() -> None:
    phantom = ct_phantom(5, shape=SMOKE_SHAPE, grade=0)
    affine = ct_affine(phantom.hu.shape, phantom.spacing_mm)
    assert axial_orientation(affine) == (True, True)
    as_volume = partition_organs(Volume(phantom.hu, affine, phantom.spacing_mm))
    as_array = partition_organs(phantom.hu)
    np.testing.assert_array_equal(as_volume.right_lung, as_array.right_lung)

    # Store the columns the other way round (patient's right at high columns) and say so.
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
    mirror[0, 3] = phantom.hu.shape[2] - 1
    mirrored_affine = affine @ mirror
    assert axial_orientation(mirrored_affine) == (False, True)
    mirrored = partition_organs(Volume(phantom.hu[:, :, ::-1].copy(), mirrored_affine, phantom.spacing_mm))
    np.testing.assert_array_equal(mirrored.right_lung[:, :, ::-1], as_array.right_lung)
    explicit = partition_organs(phantom.hu[:, :, ::-1], right_at_low_columns=False)
    np.testing.assert_array_equal(explicit.left_lung, mirrored.left_lung)


def test_a_missing_lung_fails_quality_control_and_gives_the_halves() -> None:
    phantom = ct_phantom(6, shape=SMOKE_SHAPE, grade=0)
    hu = phantom.hu.copy()
    hu[_organ(phantom, "left_lung")] = 40.0  # the left lung fully consolidated
    organs = partition_organs(hu)
    assert not organs.quality_passed
    assert "one lung is probably missing" in organs.quality_message
    width = SMOKE_SHAPE[2]
    assert organs.right_lung[:, :, : width // 2].all()
    assert not organs.right_lung[:, :, width // 2 :].any()
    assert organs.left_lung[:, :, width // 2 :].all()
    assert organs.mediastinum[:, :, width // 4 : 3 * width // 4].all()
    assert not organs.mediastinum[:, :, : width // 4].any()


def test_no_air_at_all_fails_quality_control() -> None:
    organs = partition_organs(np.full((8, 16, 16), 40.0))
    assert not organs.quality_passed
    assert organs.quality_message.startswith("no lung found")


def test_allowed_regions_are_unions_of_organs() -> None:
    organs = partition_organs(ct_phantom(0, shape=SMOKE_SHAPE, grade=0).hu)
    both = organs.allowed_region(["right_lung", "left_lung"])
    np.testing.assert_array_equal(organs.allowed_region("left_lung"), organs.left_lung)
    np.testing.assert_array_equal(both, organs.lungs)
    everything = organs.allowed_region(ORGAN_NAMES)
    assert everything.sum() == organs.lungs.sum() + organs.mediastinum.sum()
    with pytest.raises(ValueError, match="heart"):
        organs.allowed_region(["heart"])
    with pytest.raises(ValueError, match="non-empty"):
        organs.allowed_region([])


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match=r"3D volume \(D, H, W\).*\(16, 16\)"):
        partition_organs(np.zeros((16, 16)))
    volume = np.zeros((4, 8, 8))
    volume[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        partition_organs(volume)
    with pytest.raises(ValueError, match="min_object_fraction"):
        partition_organs(np.zeros((4, 8, 8)), min_object_fraction=1.5)
    with pytest.raises(TypeError, match="numpy array or a Volume"):
        partition_organs([[[0.0]]])  # type: ignore[arg-type]
    sagittal = np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="reorient"):
        axial_orientation(sagittal)
