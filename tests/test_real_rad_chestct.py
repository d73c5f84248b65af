"""Tests of radxai.data.real.rad_chestct on a tiny fake copy of the Zenodo release."""

from __future__ import annotations

import csv
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from radxai.data import io
from radxai.data.datasets import CTVolumeDataset, DatasetLayoutError, ct_affine
from radxai.data.real import dataset_class_names, dataset_task, load_dataset, survey_dataset

SHAPE = (4, 5, 6)
COLUMNS = ["NoteAcc_DEID", "nodule*right_lung", "nodule*left_lung", "cardiomegaly*heart", "pleural_effusion*left_lung"]
TABLES = {
    "imgtrain_Abnormality_and_Location_Labels.csv": [
        ["trn00001", 1, 0, 0, 0],
        ["trn00002", 0, 0, 0, 0],
        ["trn00003", 0, 0, 1, 1],
    ],
    "imgvalid_Abnormality_and_Location_Labels.csv": [["val00001", 1, 1, 0, 0]],
    "imgtest_Abnormality_and_Location_Labels.csv": [["tst00001", 0, 0, 1, 0]],
}
VOLUME_IDS = ["trn00001", "trn00002", "trn00003", "val00001", "tst00001"]


def write_csv(path: Path, columns: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def volume_of(index: int) -> np.ndarray:
    return (np.arange(np.prod(SHAPE)).reshape(SHAPE) - 500 + index).astype(np.int16)


@pytest.fixture
def zenodo_copy(tmp_path: Path) -> Path:
    for name, rows in TABLES.items():
        write_csv(tmp_path / name, COLUMNS, rows)
    write_csv(
        tmp_path / "Summary_3630.csv", ["NoteAcc_DEID", "Set_Assigned"], [[volume_id, "x"] for volume_id in VOLUME_IDS]
    )
    for index, volume_id in enumerate(VOLUME_IDS):
        folder = tmp_path / "images" / ("part1" if index < 3 else "part2")
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(folder / f"{volume_id}.npz", ct=volume_of(index))
    return tmp_path


def test_task_and_no_class_names() -> None:
    assert dataset_task("rad_chestct") == "ct"
    with pytest.raises(ValueError, match="CT dataset"):
        dataset_class_names("rad_chestct")


def test_label_files_give_splits_abnormalities_and_locations(zenodo_copy: Path) -> None:
    studies = {s.study_id: s for s in load_dataset("rad_chestct", zenodo_copy, allow_incomplete=True)}
    assert sorted(studies) == sorted(VOLUME_IDS)
    assert [studies[v].split for v in VOLUME_IDS] == ["train", "train", "train", "val", "test"]
    assert studies["trn00003"].abnormality_locations == {"cardiomegaly": ("heart",), "pleural_effusion": ("left_lung",)}
    assert studies["val00001"].abnormality_locations == {"nodule": ("left_lung", "right_lung")}
    assert studies["trn00002"].abnormality_locations == {}
    assert [(studies[v].label, studies[v].grade) for v in VOLUME_IDS] == [(1, 1), (0, 0), (1, 1), (1, 1), (1, 1)]
    survey = survey_dataset("rad_chestct", zenodo_copy)
    assert survey.counts == {"volumes": 5, "nodule": 2, "cardiomegaly": 2, "pleural_effusion": 1}
    assert survey.missing == [] and len(survey.tables) == 4


def test_a_target_abnormality_defines_the_binary_label(zenodo_copy: Path) -> None:
    studies = load_dataset("rad_chestct", zenodo_copy, allow_incomplete=True, target="nodule")
    assert {s.study_id: s.label for s in studies} == {
        "trn00001": 1,
        "trn00002": 0,
        "trn00003": 0,
        "val00001": 1,
        "tst00001": 0,
    }
    assert all(s.grade == s.label for s in studies)
    with pytest.raises(ValueError, match=r"unknown RAD-ChestCT target 'tumour'.*'cardiomegaly'"):
        load_dataset("rad_chestct", zenodo_copy, target="tumour")


def test_volumes_load_in_hu_with_the_phantoms_orientation(zenodo_copy: Path) -> None:
    study = next(s for s in load_dataset("rad_chestct", zenodo_copy, allow_incomplete=True) if s.study_id == "trn00003")
    volume = study.load()
    np.testing.assert_array_equal(volume.array, volume_of(2))
    assert volume.array.dtype == np.int16 and volume.spacing == (0.8, 0.8, 0.8)
    np.testing.assert_allclose(volume.affine, ct_affine(SHAPE, (0.8, 0.8, 0.8)))
    assert nib.orientations.aff2axcodes(volume.affine) == ("L", "P", "I")
    model_inputs = CTVolumeDataset([study], shape=(4, 4, 4))
    image, label = model_inputs[0]
    assert image.shape == (1, 4, 4, 4) and label == 1.0


def test_a_volume_listed_in_the_release_but_absent_is_missing(zenodo_copy: Path) -> None:
    (zenodo_copy / "images" / "part2" / "val00001.npz").unlink()
    survey = survey_dataset("rad_chestct", zenodo_copy)
    assert [(m.relative_path, m.expected_by) for m in survey.missing] == [
        ("**/val00001.npz", "imgvalid_Abnormality_and_Location_Labels.csv line 2")
    ]
    with pytest.raises(DatasetLayoutError, match=r"missing \*\*/val00001\.npz") as caught:
        load_dataset("rad_chestct", zenodo_copy)
    assert "rad_chestct.yaml" in str(caught.value)
    # Without the release listing nobody says the volume should be here.
    (zenodo_copy / "Summary_3630.csv").unlink()
    assert survey_dataset("rad_chestct", zenodo_copy).missing == []


def test_a_release_listing_of_file_names_is_understood(zenodo_copy: Path) -> None:
    write_csv(zenodo_copy / "Summary_3630.csv", ["file"], [[f"{v}.npz"] for v in VOLUME_IDS[:-1]])
    (zenodo_copy / "images" / "part2" / "tst00001.npz").unlink()
    assert survey_dataset("rad_chestct", zenodo_copy).missing == []
    write_csv(zenodo_copy / "Summary_3630.csv", ["file"], [["scan one"]])
    with pytest.raises(DatasetLayoutError, match=r"Summary_3630\.csv: no column of volume ids"):
        survey_dataset("rad_chestct", zenodo_copy)


def test_a_missing_label_file_makes_the_copy_incomplete(zenodo_copy: Path) -> None:
    (zenodo_copy / "imgtest_Abnormality_and_Location_Labels.csv").unlink()
    survey = survey_dataset("rad_chestct", zenodo_copy)
    assert [m.relative_path for m in survey.missing] == ["imgtest_Abnormality_and_Location_Labels.csv"]
    assert "tst00001" not in {s.study_id for s in survey.records}


@pytest.mark.parametrize(
    "columns, rows, message",
    [
        (
            ["NoteAcc_DEID", "nodule_right_lung"],
            [["trn00001", 1]],
            r"label column 'nodule_right_lung' is not '<abnormality>\*<location>'",
        ),
        (["VolumeAcc", "nodule*right_lung"], [["trn00001", 1]], r"the first column must be 'NoteAcc_DEID'"),
        (
            ["NoteAcc_DEID", "nodule*right_lung"],
            [["trn00001", 1], ["trn00002", 7]],
            r"line 3: column 'nodule\*right_lung' holds '7', expected 0 or 1",
        ),
        (
            ["NoteAcc_DEID", "nodule*right_lung"],
            [["trn00001", ""]],
            r"line 2: column 'nodule\*right_lung' holds '', expected 0 or 1",
        ),
    ],
)
def test_malformed_label_tables_are_refused(zenodo_copy, columns, rows, message) -> None:
    table = zenodo_copy / "imgtrain_Abnormality_and_Location_Labels.csv"
    write_csv(table, columns, rows)
    with pytest.raises(DatasetLayoutError, match=message) as caught:
        survey_dataset("rad_chestct", zenodo_copy)
    assert str(caught.value).startswith(str(table)) and "rad_chestct.yaml" in str(caught.value)


def test_two_volumes_with_one_id_are_refused(zenodo_copy: Path) -> None:
    np.savez_compressed(zenodo_copy / "trn00001.npz", ct=volume_of(0))
    with pytest.raises(DatasetLayoutError, match=r"a second volume with id trn00001"):
        survey_dataset("rad_chestct", zenodo_copy)


def test_a_root_that_is_not_the_dataset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError) as caught:
        load_dataset("rad_chestct", tmp_path)
    assert "not a RAD-ChestCT folder" in str(caught.value)
    assert "imgtrain_Abnormality_and_Location_Labels.csv" in str(caught.value)


def test_damaged_volumes_fail_on_load_naming_file_and_manifest(zenodo_copy: Path) -> None:
    studies = {s.study_id: s for s in load_dataset("rad_chestct", zenodo_copy, allow_incomplete=True)}
    truncated = studies["trn00001"].path
    truncated.write_bytes(truncated.read_bytes()[:40])
    with pytest.raises(io.ImageReadError, match="not a readable .npz volume") as caught:
        studies["trn00001"].load()
    assert str(truncated) in str(caught.value) and "rad_chestct.yaml" in str(caught.value)
    np.savez_compressed(studies["trn00002"].path, volume=volume_of(1))
    with pytest.raises(io.ImageReadError, match=r"no array 'ct' \(arrays: \['volume'\]\)"):
        studies["trn00002"].load()
    np.savez_compressed(studies["trn00003"].path, ct=np.zeros((3, 3), np.int16))
    with pytest.raises(io.ImageReadError, match=r"expected a 3D \(D, H, W\) volume"):
        studies["trn00003"].load()
