"""Tests of radxai.data.real.mosmeddata on tiny fake copies in both published layouts."""

from __future__ import annotations

import csv
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from radxai.data import datasets, io
from radxai.data.datasets import DatasetLayoutError
from radxai.data.real import dataset_task, load_dataset, mosmeddata, survey_dataset
from radxai.data.volume import Volume

SHAPE = (4, 5, 6)  # (D, H, W)
# A scanner-style RAS affine: every index runs the other way from the phantoms' L, P, I.
RAS_AFFINE = np.diag([0.7, 0.8, 2.5, 1.0])
# i along +y (anterior), j along +x (right), k along -z (inferior): needs an axis swap too.
SWAPPED_AFFINE = np.array([[0.0, 0.8, 0.0, 3.0], [0.7, 0.0, 0.0, -2.0], [0.0, 0.0, -2.5, 1.0], [0.0, 0.0, 0.0, 1.0]])


def numbered(seed: int) -> np.ndarray:
    """A (D, H, W) int16 volume whose every voxel value is unique, so any reordering shows."""
    return (np.arange(np.prod(SHAPE)).reshape(SHAPE) + 100 * seed).astype(np.int16)


def write_study(path: Path, seed: int, affine: np.ndarray = RAS_AFFINE) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    array = numbered(seed)
    io.write_nifti(array, path, affine=affine)
    return array


def write_mask(path: Path, study: np.ndarray, affine: np.ndarray = RAS_AFFINE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    io.write_nifti((study == study.max()).astype(np.uint8), path, affine=affine)


@pytest.fixture
def full_copy(tmp_path: Path) -> Path:
    """COVID19_1110 with one or two studies per grade and a mask for study 0255."""
    base = tmp_path / "COVID19_1110"
    for number, grade in ((1, 0), (2, 0), (255, 1), (256, 1), (939, 2), (1064, 3), (1109, 4)):
        study = write_study(base / "studies" / f"CT-{grade}" / f"study_{number:04d}.nii.gz", number)
        if number == 255:
            write_mask(base / "masks" / "study_0255_mask.nii.gz", study)
    (base / "studies" / "CT-0" / "notes.txt").write_text("not a study")
    return tmp_path


@pytest.fixture
def keras_copy(tmp_path: Path) -> Path:
    root = tmp_path / "MosMedData"
    write_study(root / "CT-0" / "study_0001.nii.gz", 1)
    write_study(root / "CT-0" / "study_0002.nii.gz", 2)
    write_study(root / "CT-23" / "study_0939.nii.gz", 939)
    write_study(root / "CT-23" / "study_1070.nii", 1070)
    return root


def voxel_world_positions(volume: Volume) -> np.ndarray:
    """(D, H, W, 3) RAS world position of every voxel."""
    k, j, i = np.meshgrid(*(np.arange(n) for n in volume.shape), indexing="ij")
    indices = np.stack([i, j, k, np.ones_like(i)], axis=-1).astype(float)
    return (indices @ volume.affine.T)[..., :3]


def test_task_is_ct() -> None:
    assert dataset_task("mosmeddata") == "ct"


def test_full_layout_gives_grades_labels_masks_and_splits(full_copy: Path) -> None:
    studies = load_dataset("mosmeddata", full_copy, allow_incomplete=True)
    assert [(s.study_id, s.grade, s.label) for s in studies] == [
        ("study_0001", 0, 0),
        ("study_0002", 0, 0),
        ("study_0255", 1, 1),
        ("study_0256", 1, 1),
        ("study_0939", 2, 1),
        ("study_1064", 3, 1),
        ("study_1109", 4, 1),
    ]
    assert all(isinstance(s, mosmeddata.MosMedStudy) for s in studies)
    assert [s.study_id for s in studies if s.mask_path is not None] == ["study_0255"]
    assert {s.split for s in studies} <= set(datasets.SPLITS)
    assert [s.split for s in studies] == [s.split for s in load_dataset("mosmeddata", full_copy, allow_incomplete=True)]
    survey = survey_dataset("mosmeddata", full_copy)
    assert survey.layout == "full" and survey.base == full_copy / "COVID19_1110"
    assert survey.counts == {"CT-0": 2, "CT-1": 2, "CT-2": 1, "CT-3": 1, "CT-4": 1, "masks": 1}


def test_the_covid19_1110_folder_itself_is_accepted(full_copy: Path) -> None:
    inner = load_dataset("mosmeddata", full_copy / "COVID19_1110", allow_incomplete=True)
    assert len(inner) == 7


def test_scanner_orientation_is_turned_into_the_phantoms_order(full_copy: Path) -> None:
    study = next(s for s in load_dataset("mosmeddata", full_copy, allow_incomplete=True) if s.study_id == "study_0255")
    volume = study.load()
    assert nib.orientations.aff2axcodes(volume.affine) == mosmeddata.PHANTOM_AXIS_CODES
    # RAS -> LPI reverses every array axis and keeps each voxel's world position.
    original = io.read_nifti(study.path)
    np.testing.assert_array_equal(volume.array, original.array[::-1, ::-1, ::-1])
    np.testing.assert_allclose(voxel_world_positions(volume), voxel_world_positions(original)[::-1, ::-1, ::-1])
    assert volume.spacing == pytest.approx((2.5, 0.8, 0.7))
    lesion = volume.masks["lesion"]
    assert lesion.shape == volume.shape and lesion.sum() == 1
    assert volume.array[lesion == 1][0] == volume.array.max()


def test_swapped_axes_are_reordered_by_world_position(tmp_path: Path) -> None:
    path = tmp_path / "study.nii.gz"
    write_study(path, 3, SWAPPED_AFFINE)
    original = io.read_nifti(path)
    volume = mosmeddata.reorient_like_phantoms(original)
    assert nib.orientations.aff2axcodes(volume.affine) == ("L", "P", "I")
    # Every voxel value sits at the same world position as before.
    world_before = {
        value: tuple(np.round(position, 6))
        for value, position in zip(original.array.ravel(), voxel_world_positions(original).reshape(-1, 3))
    }
    world_after = {
        value: tuple(np.round(position, 6))
        for value, position in zip(volume.array.ravel(), voxel_world_positions(volume).reshape(-1, 3))
    }
    assert world_after == world_before
    assert volume.shape == (SHAPE[0], SHAPE[2], SHAPE[1])


def test_synthetic_phantoms_are_read_as_the_synthetic_layout_unchanged(tmp_path: Path) -> None:
    root = datasets.write_synthetic_ct(tmp_path, count=4, seed=3, shape=(16, 32, 32), confounder="marker")
    survey = survey_dataset("mosmeddata", root)
    assert survey.layout == "synthetic" and not survey.shortfalls()
    side_table = {row["study_id"]: row for row in csv.DictReader(open(root / "synthetic_studies.csv"))}
    for study in load_dataset("mosmeddata", root):
        assert study.split == side_table[study.study_id]["split"]
        assert study.organ_path is not None
        assert study.confounders == tuple(name for name in side_table[study.study_id]["confounders"].split(";") if name)
        volume, stored = study.load(), io.read_nifti(study.path)
        # The phantoms are written in the phantoms' voxel order, so reorienting changes nothing.
        np.testing.assert_array_equal(volume.array, stored.array)
        np.testing.assert_array_equal(volume.affine, stored.affine)
        assert set(volume.masks) >= {"lesion", "organs"}


def test_keras_subset_grades_ct23_by_study_number(keras_copy: Path) -> None:
    studies = load_dataset("mosmeddata", keras_copy, allow_incomplete=True)
    assert [(s.study_id, s.grade, s.label, s.grade_from_study_number) for s in studies] == [
        ("study_0001", 0, 0, False),
        ("study_0002", 0, 0, False),
        ("study_0939", 2, 1, True),
        ("study_1070", 3, 1, True),
    ]
    survey = survey_dataset("mosmeddata", keras_copy)
    assert survey.layout == "keras_subset"
    assert survey.counts == {"CT-0": 2, "CT-23": 2}
    assert survey.shortfalls() == [
        "CT-0: found 2 of the 100 the publisher reports",
        "CT-23: found 2 of the 100 the publisher reports",
    ]


def test_a_half_copied_dataset_is_refused_naming_the_manifest(keras_copy: Path) -> None:
    with pytest.raises(DatasetLayoutError) as caught:
        load_dataset("mosmeddata", keras_copy)
    message = str(caught.value)
    assert "too few items: CT-0: found 2 of the 100" in message
    assert "mosmeddata.yaml" in message and "CT-23/study_0939.nii.gz" in message
    assert "allow_incomplete=True" in message


def test_a_mask_without_its_study_is_reported_missing(full_copy: Path) -> None:
    base = full_copy / "COVID19_1110"
    write_mask(base / "masks" / "study_0300_mask.nii.gz", numbered(0))
    survey = survey_dataset("mosmeddata", full_copy)
    assert [(m.relative_path, m.expected_by) for m in survey.missing] == [
        (
            "COVID19_1110/studies/CT-<grade>/study_0300.nii.gz",
            "its lesion mask COVID19_1110/masks/study_0300_mask.nii.gz exists",
        )
    ]
    with pytest.raises(DatasetLayoutError, match="missing COVID19_1110/studies/CT-<grade>/study_0300"):
        load_dataset("mosmeddata", full_copy)


def test_a_root_that_is_not_the_dataset_names_manifest_and_layouts(tmp_path: Path) -> None:
    (tmp_path / "something_else").mkdir()
    with pytest.raises(DatasetLayoutError) as caught:
        load_dataset("mosmeddata", tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path}: not a MosMedData folder")
    assert "manifest: " in message and "mosmeddata.yaml" in message
    assert "studies/CT-0/study_0001.nii.gz" in message and "CT-23/" in message
    with pytest.raises(DatasetLayoutError, match="no such folder"):
        load_dataset("mosmeddata", tmp_path / "absent")


def test_an_unknown_grade_folder_is_refused(full_copy: Path) -> None:
    (full_copy / "COVID19_1110" / "studies" / "CT-7").mkdir()
    with pytest.raises(DatasetLayoutError, match=r"CT-7: unknown grade folder; expected one of"):
        survey_dataset("mosmeddata", full_copy)


def test_a_ct23_study_outside_the_grade_ranges_is_refused(keras_copy: Path) -> None:
    write_study(keras_copy / "CT-23" / "study_0100.nii.gz", 5)
    with pytest.raises(
        DatasetLayoutError,
        match=r"study_0100\.nii\.gz: study number 100 lies "
        r"outside .*CT-2 939-1063, CT-3 1064-1108",
    ):
        survey_dataset("mosmeddata", keras_copy)


def test_a_truncated_study_fails_on_load_naming_file_and_manifest(full_copy: Path) -> None:
    study = next(s for s in load_dataset("mosmeddata", full_copy, allow_incomplete=True) if s.study_id == "study_0001")
    study.path.write_bytes(study.path.read_bytes()[:60])
    with pytest.raises(io.ImageReadError) as caught:
        study.load()
    assert str(study.path) in str(caught.value) and "mosmeddata.yaml" in str(caught.value)


def test_a_mask_of_another_shape_is_refused(full_copy: Path) -> None:
    mask_path = full_copy / "COVID19_1110" / "masks" / "study_0255_mask.nii.gz"
    io.write_nifti(np.zeros((4, 5, 5), np.uint8), mask_path, affine=RAS_AFFINE)
    study = next(s for s in load_dataset("mosmeddata", full_copy, allow_incomplete=True) if s.study_id == "study_0255")
    with pytest.raises(io.ImageReadError, match=r"study_0255_mask\.nii\.gz: mask shape"):
        study.load()
