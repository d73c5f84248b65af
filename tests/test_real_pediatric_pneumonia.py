"""Tests of radxai.data.real.pediatric_pneumonia on tiny fake copies of both published layouts."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from radxai.data import io
from radxai.data.datasets import DatasetLayoutError
from radxai.data.real import (
    dataset_class_names,
    dataset_task,
    load_dataset,
    pediatric_pneumonia,
    survey_dataset,
)

PATTERNS = [r"^(person\d+)_", r"^((?:NORMAL2-)?IM-\d+)-"]


def write_jpeg(path: Path, value: int, mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((8, 10), value, np.uint8)
    image = Image.fromarray(pixels)
    (image.convert("RGB") if mode == "RGB" else image).save(path, format="JPEG")


def kaggle_files() -> dict[str, int]:
    return {
        "train/NORMAL/IM-0115-0001.jpeg": 10,
        "train/NORMAL/NORMAL2-IM-1427-0001.jpeg": 20,
        "train/PNEUMONIA/person1_bacteria_1.jpeg": 30,
        "train/PNEUMONIA/person1_virus_6.jpeg": 40,
        "train/PNEUMONIA/person2_bacteria_3.jpeg": 50,
        "val/NORMAL/NORMAL2-IM-1431-0001.jpeg": 60,
        "val/PNEUMONIA/person1946_bacteria_4874.jpeg": 70,
        "test/NORMAL/IM-0001-0001.jpeg": 80,
        "test/PNEUMONIA/person100_virus_184.jpeg": 90,
    }


@pytest.fixture
def kaggle_copy(tmp_path: Path) -> Path:
    base = tmp_path / "chest_xray"
    for relative, value in kaggle_files().items():
        write_jpeg(base / relative, value, "RGB" if value == 40 else "L")
    (base / "train" / "NORMAL" / ".DS_Store").write_bytes(b"\0")
    (base / "train" / "NORMAL" / "._IM-0115-0001.jpeg").write_bytes(b"macOS resource fork")
    (base / "test" / "Thumbs.db").write_bytes(b"\0")
    return tmp_path


@pytest.fixture
def mendeley_copy(tmp_path: Path) -> Path:
    """train/ and test/ only, 10 normal and 10 pneumonia patients with two images each."""
    base = tmp_path / "chest_xray"
    for patient in range(10):
        for image in (1, 2):
            write_jpeg(base / "train" / "NORMAL" / f"IM-{patient:04d}-{image:04d}.jpeg", 10)
            write_jpeg(base / "train" / "PNEUMONIA" / f"person{patient}_bacteria_{image}.jpeg", 20)
    write_jpeg(base / "test" / "NORMAL" / "IM-9999-0001.jpeg", 30)
    write_jpeg(base / "test" / "PNEUMONIA" / "person999_virus_1.jpeg", 40)
    return tmp_path


def test_task_and_class_names() -> None:
    assert dataset_task("pediatric_pneumonia") == "cxr"
    assert dataset_class_names("pediatric_pneumonia") == ["NORMAL", "PNEUMONIA"]


def test_kaggle_layout_gives_classes_subtypes_patients_and_folder_splits(kaggle_copy: Path) -> None:
    images = load_dataset("pediatric_pneumonia", kaggle_copy, allow_incomplete=True)
    by_id = {image.image_id: image for image in images}
    assert sorted(by_id) == sorted(name.removesuffix(".jpeg") for name in kaggle_files())
    bacteria = by_id["train/PNEUMONIA/person1_bacteria_1"]
    assert (bacteria.class_name, bacteria.subtype, bacteria.patient_id, bacteria.split) == (
        "PNEUMONIA",
        "bacteria",
        "person1",
        "train",
    )
    assert bacteria.labels == {"NORMAL": False, "PNEUMONIA": True}
    assert by_id["test/PNEUMONIA/person100_virus_184"].subtype == "virus"
    normal = by_id["train/NORMAL/NORMAL2-IM-1427-0001"]
    assert (normal.class_name, normal.subtype, normal.patient_id) == ("NORMAL", None, "NORMAL2-IM-1427")
    assert normal.labels == {"NORMAL": True, "PNEUMONIA": False}
    assert all(image.split == image.folder_split for image in images)
    assert {image.split for image in images} == {"train", "val", "test"}
    survey = survey_dataset("pediatric_pneumonia", kaggle_copy)
    assert survey.layout == "kaggle" and survey.base == kaggle_copy / "chest_xray"
    assert survey.counts == {
        "train/NORMAL": 2,
        "train/PNEUMONIA": 3,
        "PNEUMONIA/bacteria": 3,
        "PNEUMONIA/virus": 2,
        "val/NORMAL": 1,
        "val/PNEUMONIA": 1,
        "test/NORMAL": 1,
        "test/PNEUMONIA": 1,
    }


def test_images_load_as_grayscale_unit_floats_including_rgb_files(kaggle_copy: Path) -> None:
    images = {
        image.image_id: image
        for image in load_dataset("pediatric_pneumonia", kaggle_copy / "chest_xray", allow_incomplete=True)
    }
    rgb = images["train/PNEUMONIA/person1_virus_6"].load()
    assert rgb.shape == (8, 10) and rgb.dtype == np.float32
    assert rgb.mean() == pytest.approx(40 / 255, abs=2 / 255)


def test_mendeley_layout_carves_val_from_train_by_patient(mendeley_copy: Path) -> None:
    images = load_dataset("pediatric_pneumonia", mendeley_copy, split_seed=4, allow_incomplete=True)
    assert survey_dataset("pediatric_pneumonia", mendeley_copy).layout == "mendeley"
    splits_of_patient = defaultdict(set)
    for image in images:
        splits_of_patient[image.patient_id].add(image.split)
        assert image.folder_split in ("train", "test")
        assert (image.split == "test") == (image.folder_split == "test")
    assert all(len(splits) == 1 for splits in splits_of_patient.values())
    val = [image for image in images if image.split == "val"]
    # 10% of 10 patients per class: one patient of each class, both of their images.
    assert sorted(image.class_name for image in val) == ["NORMAL", "NORMAL", "PNEUMONIA", "PNEUMONIA"]
    again = load_dataset("pediatric_pneumonia", mendeley_copy, split_seed=4, allow_incomplete=True)
    assert [image.split for image in again] == [image.split for image in images]


def test_a_half_copied_dataset_is_refused(kaggle_copy: Path) -> None:
    with pytest.raises(DatasetLayoutError) as caught:
        load_dataset("pediatric_pneumonia", kaggle_copy)
    message = str(caught.value)
    assert "too few items: train/NORMAL: found 2 of the 1341" in message
    assert "pediatric_pneumonia.yaml" in message


def test_an_unknown_class_folder_is_refused(kaggle_copy: Path) -> None:
    write_jpeg(kaggle_copy / "chest_xray" / "test" / "COVID" / "a.jpeg", 1)
    with pytest.raises(DatasetLayoutError) as caught:
        survey_dataset("pediatric_pneumonia", kaggle_copy)
    message = str(caught.value)
    assert message.startswith(f"{kaggle_copy / 'chest_xray' / 'test' / 'COVID'}: unknown class folder")
    assert "['NORMAL', 'PNEUMONIA']" in message and "pediatric_pneumonia.yaml" in message


def test_a_root_that_is_not_the_dataset_is_refused(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetLayoutError) as caught:
        load_dataset("pediatric_pneumonia", tmp_path)
    message = str(caught.value)
    assert "not a chest_xray folder: the split folders ['test'] are missing" in message
    assert "train/PNEUMONIA/person1_bacteria_1.jpeg" in message


def test_a_damaged_image_fails_on_load_naming_file_and_manifest(kaggle_copy: Path) -> None:
    path = kaggle_copy / "chest_xray" / "test" / "NORMAL" / "IM-0001-0001.jpeg"
    path.write_bytes(b"not a jpeg")
    image = next(
        image for image in load_dataset("pediatric_pneumonia", kaggle_copy, allow_incomplete=True) if image.path == path
    )
    with pytest.raises(io.ImageReadError) as caught:
        image.load()
    assert str(path) in str(caught.value) and "pediatric_pneumonia.yaml" in str(caught.value)


@pytest.mark.parametrize(
    "name, subtype",
    [
        ("person1_bacteria_1", "bacteria"),
        ("person12_virus_33", "virus"),
        ("IM-0115-0001", None),
        ("person3_bacteria_virus_1", None),
    ],
)
def test_subtype_is_read_from_the_file_name(name, subtype) -> None:
    assert pediatric_pneumonia.subtype_of(name, ["bacteria", "virus"]) == subtype


@pytest.mark.parametrize(
    "stem, patient",
    [
        ("person1_bacteria_1", "person1"),
        ("IM-0115-0001", "IM-0115"),
        ("NORMAL2-IM-1427-0001", "NORMAL2-IM-1427"),
        ("odd-name", "odd-name"),
    ],
)
def test_patient_id_is_read_from_the_file_name(stem, patient) -> None:
    assert pediatric_pneumonia.patient_id_of(stem, PATTERNS) == patient
