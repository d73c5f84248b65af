"""Tests of radxai.data.real.eye_gaze on a tiny fake EGD-CXR copy with MIMIC-CXR-style images."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

from radxai.data import datasets, gaze, io
from radxai.data.datasets import DatasetLayoutError
from radxai.data.real import dataset_class_names, dataset_task, eye_gaze, load_dataset, survey_dataset

SHEET_COLUMNS = ["dicom_id", "path", "patient_id", "study_id", "Normal", "CHF", "pneumonia", "image_top_pad"]
FIXATION_COLUMNS = ["SESSION_ID", "DICOM_ID", "Time (in secs)", "FPOGX", "FPOGY", "FPOGD", "X_ORIGINAL", "Y_ORIGINAL"]
# (dicom_id, patient, class); patients 1 and 2 have two images each.
IMAGES = [
    ("d1", "10000001", "Normal"),
    ("d2", "10000001", "Normal"),
    ("d3", "10000002", "CHF"),
    ("d4", "10000002", "CHF"),
    ("d5", "10000003", "pneumonia"),
    ("d6", "10000004", "Normal"),
    ("d7", "10000005", "CHF"),
    ("d8", "10000006", "pneumonia"),
    ("d9", "10000007", "pneumonia"),
]


def relative_path(dicom_id: str, patient: str) -> str:
    return f"files/p{patient[:2]}/p{patient}/s5{patient[1:]}/{dicom_id}.dcm"


def write_dicom(path: Path, stored: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = DigitalXRayImageStorageForPresentation
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Rows, dataset.Columns = stored.shape
    dataset.SamplesPerPixel = 1
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 12, 11
    dataset.PixelRepresentation = 0
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.PixelData = stored.astype(np.uint16).tobytes()
    dataset.save_as(path, enforce_file_format=True)


def write_csv(path: Path, columns: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def sheet_rows() -> list[list[object]]:
    return [
        [
            dicom_id,
            relative_path(dicom_id, patient),
            patient,
            "s1",
            int(label == "Normal"),
            int(label == "CHF"),
            int(label == "pneumonia"),
            0,
        ]
        for dicom_id, patient, label in IMAGES
    ]


def fixation_rows() -> list[list[object]]:
    return [
        [1, "calibration", 0.1, 0.5, 0.5, 0.3, 960, 540],
        [1, "d1", 0.5, 0.4, 0.4, 0.25, 3, 2],
        [1, "d1", 0.9, 0.1, 0.1, 0.5, -2, -3],
        [1, "d1", 1.4, 0.6, 0.6, 0.125, 7.5, 5],
        [2, "d3", 0.2, 0.5, 0.5, 1.0, 0, 0],
    ]


@pytest.fixture
def gaze_copy(tmp_path: Path) -> tuple[Path, Path]:
    """(EGD-CXR root, MIMIC-CXR image root); d9 is stored as a MIMIC-CXR-JPG .jpg."""
    root, image_root = tmp_path / "egd-cxr", tmp_path / "mimic-cxr"
    root.mkdir()
    write_csv(root / "master_sheet.csv", SHEET_COLUMNS, sheet_rows())
    write_csv(root / "fixations.csv", FIXATION_COLUMNS, fixation_rows())
    for dicom_id, patient, _ in IMAGES:
        path = image_root / relative_path(dicom_id, patient)
        if dicom_id == "d9":
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((6, 8), 128, np.uint8)).save(path.with_suffix(".jpg"))
        else:
            write_dicom(path, np.tile(np.arange(8) * 100, (6, 1)))
    return root, image_root


def test_task_and_class_names() -> None:
    assert dataset_task("eye_gaze") == "cxr"
    assert dataset_class_names("eye_gaze") == ["Normal", "CHF", "pneumonia"]


def test_fixations_are_pixel_positions_and_durations(gaze_copy) -> None:
    root, image_root = gaze_copy
    images = {
        image.image_id: image for image in load_dataset("eye_gaze", root, image_root=image_root, allow_incomplete=True)
    }
    # Pixel indices become pixel centres; the fixation outside the image (negative) and the
    # calibration image's are dropped.
    np.testing.assert_array_equal(images["d1"].fixations, [[3.5, 2.5, 0.25], [8.0, 5.5, 0.125]])
    np.testing.assert_array_equal(images["d3"].fixations, [[0.5, 0.5, 1.0]])
    assert images["d2"].fixations.shape == (0, 3) and images["d2"].fixations.dtype == np.float64
    assert eye_gaze.FIXATION_COLUMNS == ("x_pixel", "y_pixel", "duration_seconds")


def test_fixations_make_gaze_heatmaps_peaking_on_the_fixated_pixel(gaze_copy) -> None:
    root, image_root = gaze_copy
    images = {
        image.image_id: image for image in load_dataset("eye_gaze", root, image_root=image_root, allow_incomplete=True)
    }
    image = images["d3"].load()
    heatmap = gaze.gaze_heatmap(images["d3"].fixations, image.shape, sigma=1.0)
    assert heatmap.shape == image.shape
    assert np.unravel_index(np.argmax(heatmap), heatmap.shape) == (0, 0) and heatmap.max() == 1.0
    longest = gaze.gaze_heatmap(images["d1"].fixations, image.shape, sigma=0.5)
    assert np.unravel_index(np.argmax(longest), longest.shape) == (2, 3)


def test_classes_patients_and_splits(gaze_copy) -> None:
    root, image_root = gaze_copy
    images = load_dataset("eye_gaze", root, split_seed=1, image_root=image_root, allow_incomplete=True)
    assert [(image.image_id, image.patient_id, image.class_name) for image in images] == IMAGES
    for image in images:
        assert image.labels == {name: name == image.class_name for name in ["Normal", "CHF", "pneumonia"]}
        assert image.annotations == ()
    splits_of_patient = defaultdict(set)
    for image in images:
        splits_of_patient[image.patient_id].add(image.split)
    assert all(len(splits) == 1 for splits in splits_of_patient.values())
    assert {image.split for image in images} <= set(datasets.SPLITS)
    survey = survey_dataset("eye_gaze", root, image_root=image_root)
    assert survey.counts == {"images": 9, "Normal": 3, "CHF": 3, "pneumonia": 3}
    # Images outside the root are named relative to the image root (in reports and registries).
    assert survey.relative(survey.records[0].path) == relative_path("d1", "10000001")
    assert survey.relative(root / "fixations.csv") == "fixations.csv"
    assert survey.shortfalls() == ["images: found 9 of the 1083 the publisher reports"]


def test_images_load_from_dicom_or_the_jpg_copy(gaze_copy) -> None:
    root, image_root = gaze_copy
    images = {
        image.image_id: image for image in load_dataset("eye_gaze", root, image_root=image_root, allow_incomplete=True)
    }
    dicom = images["d1"].load()
    assert dicom.shape == (6, 8) and dicom[0, 0] < dicom[0, -1]
    assert images["d9"].path.suffix == ".jpg"
    assert images["d9"].load().mean() == pytest.approx(128 / 255, abs=1 / 255)


def test_images_inside_the_root_need_no_image_root(gaze_copy) -> None:
    root, image_root = gaze_copy
    image_root.rename(root / "mimic")
    (root / "mimic" / "files").rename(root / "files")
    assert len(load_dataset("eye_gaze", root, allow_incomplete=True)) == 9


def test_a_missing_image_is_named_with_its_master_sheet_line(gaze_copy) -> None:
    root, image_root = gaze_copy
    (image_root / relative_path("d4", "10000002")).unlink()
    survey = survey_dataset("eye_gaze", root, image_root=image_root)
    assert [(m.relative_path, m.expected_by) for m in survey.missing] == [
        (relative_path("d4", "10000002"), "master_sheet.csv line 5")
    ]
    with pytest.raises(DatasetLayoutError) as caught:
        load_dataset("eye_gaze", root, image_root=image_root, allow_incomplete=False)
    assert "missing files/p10/p10000002/s50000002/d4.dcm (expected by master_sheet.csv line 5)" in str(caught.value)
    assert "eye_gaze.yaml" in str(caught.value)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda rows: rows[0].__setitem__(5, 1), r"line 2: image d1 has classes \['Normal', 'CHF'\]"),
        (lambda rows: rows[0].__setitem__(4, 0), r"line 2: image d1 has classes \[\]; expected exactly one"),
        (lambda rows: rows.append(list(rows[0])), r"line 11: dicom_id d1 appears twice"),
        (lambda rows: rows[0].__setitem__(1, ""), r"line 2: image d1 has an empty 'path'"),
        (lambda rows: rows[0].__setitem__(6, "yes"), r"line 2: column 'pneumonia' holds 'yes'"),
        (lambda rows: rows[0].__setitem__(1, "../outside/secret.jpg"), r"line 2: image d1's 'path' .* leaves"),
        (lambda rows: rows[0].__setitem__(1, "../../../../../etc/passwd"), r"line 2: image d1's 'path' .* leaves"),
        (lambda rows: rows[0].__setitem__(1, "/etc/passwd"), r"line 2: image d1's 'path' '/etc/passwd' leaves"),
        (lambda rows: rows[0].__setitem__(1, "files\\..\\..\\secret.jpg"), r"line 2: image d1's 'path' .* leaves"),
    ],
)
def test_bad_master_sheet_rows_are_refused(gaze_copy, edit, message) -> None:
    root, image_root = gaze_copy
    rows = sheet_rows()
    edit(rows)
    write_csv(root / "master_sheet.csv", SHEET_COLUMNS, rows)
    with pytest.raises(DatasetLayoutError, match=message) as caught:
        survey_dataset("eye_gaze", root, image_root=image_root)
    assert str(caught.value).startswith(str(root / "master_sheet.csv"))
    assert "eye_gaze.yaml" in str(caught.value)


@pytest.mark.parametrize(
    "row, message",
    [
        ([1, "d2", 0.1, 0.5, 0.5, 0.3, "left", 1], r"line 7: column 'X_ORIGINAL' holds 'left'"),
        ([1, "d2", 0.1, 0.5, 0.5, -0.3, 1, 1], r"line 7: negative fixation duration -0.3 s"),
    ],
)
def test_bad_fixation_rows_are_refused(gaze_copy, row, message) -> None:
    root, image_root = gaze_copy
    write_csv(root / "fixations.csv", FIXATION_COLUMNS, fixation_rows() + [row])
    with pytest.raises(DatasetLayoutError, match=message):
        survey_dataset("eye_gaze", root, image_root=image_root)


def test_a_fixation_table_without_the_columns_is_refused(gaze_copy) -> None:
    root, image_root = gaze_copy
    write_csv(root / "fixations.csv", ["DICOM_ID", "FPOGX"], [["d1", 0.5]])
    with pytest.raises(DatasetLayoutError, match=r"fixations\.csv: lacks the columns \['X_ORIGINAL'"):
        survey_dataset("eye_gaze", root, image_root=image_root)


def test_a_root_that_is_not_the_dataset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError) as caught:
        load_dataset("eye_gaze", tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'master_sheet.csv'}: not found: this is not an EGD-CXR folder")
    assert "fixations.csv" in message and "eye_gaze.yaml" in message


def test_a_damaged_image_fails_on_load_naming_file_and_manifest(gaze_copy) -> None:
    root, image_root = gaze_copy
    path = image_root / relative_path("d2", "10000001")
    path.write_bytes(b"broken")
    image = next(
        i for i in load_dataset("eye_gaze", root, image_root=image_root, allow_incomplete=True) if i.image_id == "d2"
    )
    with pytest.raises(io.ImageReadError) as caught:
        image.load()
    assert str(path) in str(caught.value) and "eye_gaze.yaml" in str(caught.value)
