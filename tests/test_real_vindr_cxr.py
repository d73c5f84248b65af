"""Tests of radxai.data.real.vindr_cxr on tiny fake copies of the PhysioNet release, the
Kaggle DICOM copy and resized PNG copies."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

from radxai.data import datasets, io
from radxai.data.datasets import CXRImageDataset, DatasetLayoutError, ReaderAnnotation
from radxai.data.manifests import load_manifest
from radxai.data.real import dataset_class_names, dataset_task, load_dataset, survey_dataset

PHYSIONET_BOX_COLUMNS = ["image_id", "rad_id", "class_name", "x_min", "y_min", "x_max", "y_max"]
KAGGLE_COLUMNS = ["image_id", "class_name", "class_id", "rad_id", "x_min", "y_min", "x_max", "y_max"]
NO_BOX = ["", "", "", ""]


def write_dicom(path: Path, stored: np.ndarray, photometric: str = "MONOCHROME2") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = DigitalXRayImageStorageForPresentation
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "DX"
    dataset.Rows, dataset.Columns = stored.shape
    dataset.SamplesPerPixel = 1
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 12, 11
    dataset.PixelRepresentation = 0
    dataset.PhotometricInterpretation = photometric
    dataset.PixelData = stored.astype(np.uint16).tobytes()
    dataset.save_as(path, enforce_file_format=True)


def write_csv(path: Path, columns: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def ramp() -> np.ndarray:
    """A 6 x 8 image: stored values rise from left to right."""
    return np.tile(np.linspace(100, 3000, 8), (6, 1))


def image_label_rows(
    manifest_labels: list[str], image_id: str, reader: str | None, positives: set[str]
) -> list[object]:
    values = [int(name in positives) for name in manifest_labels]
    return [image_id, reader, *values] if reader is not None else [image_id, *values]


@pytest.fixture
def physionet_copy(tmp_path: Path) -> Path:
    manifest = load_manifest("vindr_cxr")
    labels = manifest.label_strings("local_labels") + manifest.label_strings("global_labels")
    box_rows = [
        ["img_a", "R1", "Cardiomegaly", 1, 2, 5, 4],
        ["img_a", "R2", "Cardiomegaly", 1.5, 2, 5.5, 4.5],
        ["img_a", "R3", "No finding", *NO_BOX],
        ["img_b", "R1", "No finding", *NO_BOX],
        ["img_b", "R2", "No finding", *NO_BOX],
        ["img_c", "R4", "Nodule/Mass", 0, 0, 2, 2],
        ["img_c", "R5", "Clavicle fracture", 3, 1, 4, 2],
    ]
    box_rows += [[f"img_n{index}", "R1", "No finding", *NO_BOX] for index in range(6)]
    write_csv(tmp_path / "annotations" / "annotations_train.csv", PHYSIONET_BOX_COLUMNS, box_rows)
    label_rows = [
        image_label_rows(labels, "img_c", "R4", {"Nodule/Mass", "Tuberculosis"}),
        image_label_rows(labels, "img_b", "R1", {"No finding"}),
    ]
    write_csv(tmp_path / "annotations" / "image_labels_train.csv", ["image_id", "rad_id", *labels], label_rows)
    write_csv(
        tmp_path / "annotations" / "annotations_test.csv",
        ["image_id", "class_name", "x_min", "y_min", "x_max", "y_max"],
        [["img_t", "Pleural effusion", 0, 3, 8, 6]],
    )
    test_labels = [name if name != "Other diseases" else "Other disease" for name in labels]
    write_csv(
        tmp_path / "annotations" / "image_labels_test.csv",
        ["image_id", *test_labels],
        [image_label_rows(labels, "img_t", None, {"Pleural effusion", "Other diseases"})],
    )
    for image_id in ["img_a", "img_b", "img_c", *(f"img_n{index}" for index in range(6))]:
        write_dicom(
            tmp_path / "train" / f"{image_id}.dicom", ramp(), "MONOCHROME1" if image_id == "img_a" else "MONOCHROME2"
        )
    write_dicom(tmp_path / "test" / "img_t.dicom", ramp())
    return tmp_path


def kaggle_rows() -> list[list[object]]:
    return [
        ["k1", "Aortic enlargement", 0, "R8", 100, 40, 300, 120],
        ["k1", "Aortic enlargement", 0, "R9", 110, 40, 310, 120],
        ["k2", "No finding", 14, "R8", *NO_BOX],
        ["k3", "Pleural effusion", 10, "R10", 0, 200, 1600, 400],
    ]


@pytest.fixture
def kaggle_dicom_copy(tmp_path: Path) -> Path:
    write_csv(tmp_path / "train.csv", KAGGLE_COLUMNS, kaggle_rows())
    for image_id in ("k1", "k2", "k3"):
        write_dicom(tmp_path / "train" / f"{image_id}.dicom", ramp())
    return tmp_path


def write_png_copy(root: Path, with_size_columns: bool, with_meta: bool) -> None:
    """A 16 x 8 (width x height) PNG per image of a 1600 x 400 original."""
    rows = kaggle_rows()
    columns = list(KAGGLE_COLUMNS)
    if with_size_columns:
        columns += ["width", "height"]
        rows = [row + [1600, 400] for row in rows]
    write_csv(root / "train.csv", columns, rows)
    if with_meta:
        write_csv(
            root / "train_meta.csv",
            ["image_id", "dim0", "dim1"],
            [[image_id, 400, 1600] for image_id in ("k1", "k2", "k3")],
        )
    for image_id in ("k1", "k2", "k3"):
        path = root / "train" / f"{image_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((8, 16), np.uint8)).save(path)


def test_task_and_class_names() -> None:
    assert dataset_task("vindr_cxr") == "cxr"
    assert dataset_class_names("vindr_cxr") == datasets.cxr_class_names()


def test_physionet_release_labels_readers_and_splits(physionet_copy: Path) -> None:
    images = {image.image_id: image for image in load_dataset("vindr_cxr", physionet_copy, allow_incomplete=True)}
    a, b, c, t = images["img_a"], images["img_b"], images["img_c"], images["img_t"]
    assert a.labels["Cardiomegaly"] and not a.labels["No finding"]
    assert a.boxes_of("Cardiomegaly") == [
        ReaderAnnotation("R1", "Cardiomegaly", (1.0, 2.0, 5.0, 4.0)),
        ReaderAnnotation("R2", "Cardiomegaly", (1.5, 2.0, 5.5, 4.5)),
    ]
    assert b.labels["No finding"] and not any(v for k, v in b.labels.items() if k != "No finding")
    assert b.annotations == ()
    # image_labels_train.csv adds a global label no box carries.
    assert c.labels["Tuberculosis"] and c.labels["Nodule/Mass"] and c.labels["Clavicle fracture"]
    assert [annotation.reader_id for annotation in c.annotations] == ["R4", "R5"]
    assert t.split == "test" and t.release_split == "test"
    assert t.annotations == (ReaderAnnotation("consensus", "Pleural effusion", (0.0, 3.0, 8.0, 6.0)),)
    assert t.labels["Other diseases"] and t.labels["Pleural effusion"]
    assert {image.split for image in images.values() if image.release_split == "train"} == {"train", "val"}
    assert all(image.original_size is None for image in images.values())
    survey = survey_dataset("vindr_cxr", physionet_copy)
    assert survey.layout == "physionet"
    assert (survey.counts["train"], survey.counts["test"], survey.counts["No finding"]) == (9, 1, 7)
    assert len(survey.tables) == 4


def test_monochrome1_dicom_is_inverted(physionet_copy: Path) -> None:
    images = {image.image_id: image for image in load_dataset("vindr_cxr", physionet_copy, allow_incomplete=True)}
    inverted, plain = images["img_a"].load(), images["img_b"].load()
    assert inverted.shape == (6, 8) and inverted.dtype == np.float32
    assert plain[0, 0] < plain[0, -1] and inverted[0, 0] > inverted[0, -1]
    np.testing.assert_allclose(inverted, 1.0 - plain, atol=1e-6)


def test_records_feed_the_existing_cxr_dataset(physionet_copy: Path) -> None:
    images = load_dataset("vindr_cxr", physionet_copy, allow_incomplete=True)
    model_inputs = CXRImageDataset(images, shape=(8, 8))
    image, target = model_inputs[0]
    assert image.shape == (1, 8, 8) and target.shape == (len(datasets.cxr_class_names()),)
    assert model_inputs.targets.sum(axis=0)[datasets.cxr_class_names().index("Cardiomegaly")] == 1


def test_kaggle_dicom_copy(kaggle_dicom_copy: Path) -> None:
    images = {image.image_id: image for image in load_dataset("vindr_cxr", kaggle_dicom_copy, allow_incomplete=True)}
    assert survey_dataset("vindr_cxr", kaggle_dicom_copy).layout == "kaggle_dicom"
    assert [a.reader_id for a in images["k1"].boxes_of("Aortic enlargement")] == ["R8", "R9"]
    assert images["k1"].annotations[0].box == (100.0, 40.0, 300.0, 120.0)
    assert images["k2"].labels["No finding"]
    assert set(images["k1"].labels) == set(load_manifest("vindr_cxr").label_value("kaggle_classes"))
    assert {image.split for image in images.values()} <= set(datasets.SPLITS)


@pytest.mark.parametrize("with_size_columns, with_meta", [(True, False), (False, True)])
def test_resized_copy_boxes_are_scaled_to_the_stored_image(tmp_path, with_size_columns, with_meta) -> None:
    write_png_copy(tmp_path, with_size_columns, with_meta)
    images = {image.image_id: image for image in load_dataset("vindr_cxr", tmp_path, allow_incomplete=True)}
    assert survey_dataset("vindr_cxr", tmp_path).layout == "kaggle_resized"
    # 1600 x 400 original -> 16 x 8 stored: x scales by 1/100, y by 1/50.
    assert [a.box for a in images["k1"].annotations] == [(1.0, 0.8, 3.0, 2.4), (1.1, 0.8, 3.1, 2.4)]
    assert images["k3"].annotations[0].box == (0.0, 4.0, 16.0, 8.0)
    assert images["k1"].original_size == (400, 1600)
    assert images["k1"].load().shape == (8, 16)


def test_resized_copy_without_sizes_keeps_boxes_as_given(tmp_path: Path) -> None:
    write_png_copy(tmp_path, with_size_columns=False, with_meta=False)
    images = {image.image_id: image for image in load_dataset("vindr_cxr", tmp_path, allow_incomplete=True)}
    assert images["k1"].annotations[0].box == (100.0, 40.0, 300.0, 120.0)
    assert images["k1"].original_size is None


def test_an_unreadable_resized_image_is_reported(tmp_path: Path) -> None:
    write_png_copy(tmp_path, with_size_columns=True, with_meta=False)
    (tmp_path / "train" / "k2.png").write_bytes(b"not a png")
    survey = survey_dataset("vindr_cxr", tmp_path)
    assert [item.relative_path for item in survey.unreadable] == ["train/k2.png"]
    assert "k2" not in {record.image_id for record in survey.records}
    with pytest.raises(DatasetLayoutError, match=r"unreadable train/k2\.png: .*not a readable PNG"):
        load_dataset("vindr_cxr", tmp_path)


def test_a_missing_image_is_named_with_the_table_line(physionet_copy: Path) -> None:
    (physionet_copy / "train" / "img_b.dicom").unlink()
    survey = survey_dataset("vindr_cxr", physionet_copy)
    assert [(m.relative_path, m.expected_by) for m in survey.missing] == [
        ("train/img_b.dicom", "annotations_train.csv line 5")
    ]
    with pytest.raises(DatasetLayoutError) as caught:
        load_dataset("vindr_cxr", physionet_copy)
    assert "missing train/img_b.dicom (expected by annotations_train.csv line 5)" in str(caught.value)
    assert "vindr_cxr.yaml" in str(caught.value)


@pytest.mark.parametrize(
    "row, message",
    [
        (["k9", "Heart failure", 3, "R1", 1, 1, 2, 2], r"line 6: unknown class 'Heart failure'"),
        (["k9", "Cardiomegaly", 4, "R1", 1, 1, 2, 2], r"line 6: class_id 4 does not match class 'Cardiomegaly'"),
        (["k9", "Cardiomegaly", 3, "R1", -1, 1, 2, 2], r"line 6: negative box coordinate"),
        (["k9", "Cardiomegaly", 3, "R1", 5, 1, 2, 2], r"line 6: box .* negative width or height"),
        (["k9", "Cardiomegaly", 3, "R1", 1, "", 2, 2], r"line 6: incomplete box"),
        (["k9", "Cardiomegaly", 3, "R1", *NO_BOX], r"line 6: class 'Cardiomegaly' has no box"),
        (["k9", "Cardiomegaly", 3, "R1", 1, "wide", 2, 2], r"line 6: column 'y_min' holds 'wide'"),
        (["", "Cardiomegaly", 3, "R1", 1, 1, 2, 2], r"line 6: empty image_id"),
        (["../../outside/secret", "Cardiomegaly", 3, "R1", 1, 1, 2, 2], r"line 6: image_id .* is not a file name"),
        ([".."] + ["No finding", 14, "R1", *NO_BOX], r"line 6: image_id '..' is not a file name"),
    ],
)
def test_bad_rows_are_refused_naming_table_line_and_manifest(kaggle_dicom_copy, row, message) -> None:
    write_csv(kaggle_dicom_copy / "train.csv", KAGGLE_COLUMNS, kaggle_rows() + [row])
    with pytest.raises(DatasetLayoutError, match=message) as caught:
        survey_dataset("vindr_cxr", kaggle_dicom_copy)
    assert str(caught.value).startswith(str(kaggle_dicom_copy / "train.csv"))
    assert "vindr_cxr.yaml" in str(caught.value) and "train/<image_id>.dicom" in str(caught.value)


def test_a_table_without_the_columns_is_refused(kaggle_dicom_copy: Path) -> None:
    write_csv(kaggle_dicom_copy / "train.csv", ["image_id", "label"], [["k1", "x"]])
    with pytest.raises(DatasetLayoutError, match=r"train\.csv: lacks the columns \['class_name'"):
        survey_dataset("vindr_cxr", kaggle_dicom_copy)


def test_image_labels_with_unknown_columns_or_values_are_refused(physionet_copy: Path) -> None:
    table = physionet_copy / "annotations" / "image_labels_train.csv"
    write_csv(table, ["image_id", "rad_id", "Cardiomegaly", "Dragons"], [["img_a", "R1", 1, 0]])
    with pytest.raises(DatasetLayoutError, match=r"image_labels_train\.csv: unknown label columns \['Dragons'\]"):
        survey_dataset("vindr_cxr", physionet_copy)
    write_csv(table, ["image_id", "rad_id", "Cardiomegaly"], [["img_a", "R1", 2]])
    with pytest.raises(DatasetLayoutError, match=r"line 2: column 'Cardiomegaly' holds '2', expected 0 or 1"):
        survey_dataset("vindr_cxr", physionet_copy)


def test_a_root_that_is_not_the_dataset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError) as caught:
        load_dataset("vindr_cxr", tmp_path)
    message = str(caught.value)
    assert "not a VinDr-CXR folder: found neither annotations/" in message
    assert "annotations/annotations_train.csv" in message and "vindr_cxr.yaml" in message


def test_a_damaged_dicom_fails_on_load_naming_file_and_manifest(kaggle_dicom_copy: Path) -> None:
    path = kaggle_dicom_copy / "train" / "k2.dicom"
    path.write_bytes(b"DICM but not really")
    image = next(i for i in load_dataset("vindr_cxr", kaggle_dicom_copy, allow_incomplete=True) if i.image_id == "k2")
    with pytest.raises(io.ImageReadError) as caught:
        image.load()
    assert str(path) in str(caught.value) and "vindr_cxr.yaml" in str(caught.value)
