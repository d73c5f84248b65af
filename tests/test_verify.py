"""Tests of radxai.data.verify: missing, unreadable and hash-mismatched files are reported by
name, counts per class are given, and a registry records a first verified copy."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from radxai.data import manifests
from radxai.data.datasets import DatasetLayoutError
from radxai.data.verify import (
    REGISTRY_FILE_NAME,
    RegistryError,
    read_registry,
    record_registry,
    sha256_file,
    update_registry,
    verify_dataset,
)

REPOSITORY_MANIFESTS = Path(__file__).resolve().parents[1] / "data_manifests"
COLUMNS = ["image_id", "class_name", "class_id", "rad_id", "x_min", "y_min", "x_max", "y_max"]
ROWS = [
    ["k1", "Cardiomegaly", 3, "R1", 1, 1, 5, 4],
    ["k1", "Cardiomegaly", 3, "R2", 2, 1, 6, 4],
    ["k2", "No finding", 14, "R1", "", "", "", ""],
    ["k3", "Pleural effusion", 10, "R3", 0, 4, 8, 6],
]


@pytest.fixture
def tiny_manifests(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's manifests, with the VinDr-CXR Kaggle counts cut to the tiny copy's."""
    folder = tmp_path_factory.mktemp("manifests")
    for path in REPOSITORY_MANIFESTS.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    document = yaml.safe_load((folder / "vindr_cxr.yaml").read_text(encoding="utf-8"))
    document["layouts"]["kaggle_resized"]["expected_counts"] = {"train": 3}
    (folder / "vindr_cxr.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    monkeypatch.setenv(manifests.MANIFEST_DIR_VARIABLE, str(folder))
    return folder


@pytest.fixture
def copy_root(tmp_path: Path, tiny_manifests: Path) -> Path:
    """A resized VinDr-CXR copy: train.csv and three 8 x 8 PNG images."""
    root = tmp_path / "vindr"
    (root / "train").mkdir(parents=True)
    with open(root / "train.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(ROWS)
    for index, image_id in enumerate(("k1", "k2", "k3")):
        Image.fromarray(np.full((8, 8), 40 * index, np.uint8)).save(root / "train" / f"{image_id}.png")
    return root


def test_a_complete_copy_verifies_with_counts_per_class(copy_root: Path) -> None:
    report = verify_dataset("vindr_cxr", copy_root)
    assert report.ok and report.layout == "kaggle_resized"
    assert (report.found, report.files_read, report.hashes_checked) == (3, 3, 0)
    assert report.counts["train"] == 3 and report.counts["Cardiomegaly"] == 1
    assert report.counts["No finding"] == 1 and report.expected_counts == {"train": 3}
    text = report.format()
    assert "train: 3 (publisher: 3)" in text and "Cardiomegaly: 1" in text
    assert "no reference hashes" in text and text.endswith("result: OK")


def test_missing_and_unreadable_files_are_named(copy_root: Path) -> None:
    (copy_root / "train" / "k2.png").unlink()
    (copy_root / "train" / "k3.png").write_bytes(b"\x89PNG but cut short")
    report = verify_dataset("vindr_cxr", copy_root)
    assert not report.ok
    assert [(m.relative_path, m.expected_by) for m in report.missing] == [
        ("train/k2.<dicom|png|jpg>", "train.csv line 4")
    ]
    assert [c.relative_path for c in report.corrupt] == ["train/k3.png"]
    assert "not a readable PNG/JPEG image" in report.corrupt[0].problem
    assert report.shortfalls == ["train: found 2 of the 3 the publisher reports"]
    text = report.format()
    assert "missing (1):\n  train/k2.<dicom|png|jpg>  (expected by train.csv line 4)" in text
    assert "unreadable (1):\n  train/k3.png: " in text
    assert "too few items (1):" in text and text.endswith("result: PROBLEMS FOUND")


def test_a_quick_check_reads_and_hashes_nothing(copy_root: Path) -> None:
    (copy_root / "train" / "k3.png").write_bytes(b"garbage")
    report = verify_dataset("vindr_cxr", copy_root, read_files=False, check_hashes=False)
    assert report.ok and report.files_read == 0 and report.corrupt == []


def test_the_registry_records_a_verified_copy_and_catches_later_changes(copy_root: Path) -> None:
    first = verify_dataset("vindr_cxr", copy_root, compute_hashes=True)
    written = record_registry(first)
    assert written == copy_root / REGISTRY_FILE_NAME
    registry = json.loads(written.read_text())
    assert registry["dataset"] == "vindr_cxr"
    assert registry["files"] == {
        name: sha256_file(copy_root / name) for name in ("train.csv", "train/k1.png", "train/k2.png", "train/k3.png")
    }
    again = verify_dataset("vindr_cxr", copy_root)
    assert again.ok and again.hashes_checked == 4 and again.hash_sources == [str(written)]
    # A valid image with other pixels reads fine but no longer matches the first copy.
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(copy_root / "train" / "k2.png")
    changed = verify_dataset("vindr_cxr", copy_root)
    assert not changed.ok and changed.corrupt == []
    assert [(m.relative_path, m.expected, m.source) for m in changed.hash_mismatches] == [
        ("train/k2.png", registry["files"]["train/k2.png"], str(written))
    ]
    assert "hash mismatch (1):\n  train/k2.png: sha256 " in changed.format()


def test_a_registry_is_never_overwritten_and_needs_a_clean_copy(copy_root: Path) -> None:
    with pytest.raises(RegistryError, match="holds no file hashes"):
        record_registry(verify_dataset("vindr_cxr", copy_root))
    record_registry(verify_dataset("vindr_cxr", copy_root, compute_hashes=True))
    before = (copy_root / REGISTRY_FILE_NAME).read_bytes()
    with pytest.raises(RegistryError, match="never overwritten"):
        record_registry(verify_dataset("vindr_cxr", copy_root, compute_hashes=True))
    assert (copy_root / REGISTRY_FILE_NAME).read_bytes() == before
    (copy_root / "train" / "k1.png").unlink()
    elsewhere = copy_root.parent / "other" / "registry.json"
    with pytest.raises(RegistryError, match="did not verify cleanly"):
        record_registry(verify_dataset("vindr_cxr", copy_root, compute_hashes=True), elsewhere)
    assert not elsewhere.exists()


def test_a_registry_elsewhere_is_written_and_read(copy_root: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registries" / "vindr.json"
    record_registry(verify_dataset("vindr_cxr", copy_root, compute_hashes=True), registry)
    assert not (copy_root / REGISTRY_FILE_NAME).exists()
    (copy_root / "train.csv").write_text((copy_root / "train.csv").read_text() + "\n")
    report = verify_dataset("vindr_cxr", copy_root, registry=registry)
    assert [m.relative_path for m in report.hash_mismatches] == ["train.csv"]


def test_publisher_checksums_are_checked(copy_root: Path, tiny_manifests: Path) -> None:
    good = sha256_file(copy_root / "train" / "k1.png")
    (copy_root / "SHA256SUMS.txt").write_text(
        f"{good}  train/k1.png\n{'0' * 64} *train/k3.png\nnot a line\n{'1' * 64}  README\n"
    )
    document = yaml.safe_load((tiny_manifests / "vindr_cxr.yaml").read_text())
    document["published_sha256"] = {"train.csv": sha256_file(copy_root / "train.csv")}
    (tiny_manifests / "vindr_cxr.yaml").write_text(yaml.safe_dump(document))
    report = verify_dataset("vindr_cxr", copy_root)
    assert report.hashes_checked == 3
    assert report.hash_sources == ["SHA256SUMS.txt", "manifest vindr_cxr.yaml"]
    assert [(m.relative_path, m.source) for m in report.hash_mismatches] == [("train/k3.png", "SHA256SUMS.txt")]


def test_registry_download_hashes_merge_and_bad_registries_are_refused(tmp_path: Path) -> None:
    path = tmp_path / REGISTRY_FILE_NAME
    assert read_registry(path) == {"format": 1, "files": {}, "downloads": {}}
    update_registry(path, "mosmeddata", downloads={"CT-0.zip": "a" * 64})
    update_registry(path, "mosmeddata", downloads={"CT-23.zip": "b" * 64})
    assert read_registry(path)["downloads"] == {"CT-0.zip": "a" * 64, "CT-23.zip": "b" * 64}
    with pytest.raises(RegistryError, match="belongs to dataset 'mosmeddata', not 'vindr_cxr'"):
        update_registry(path, "vindr_cxr", downloads={"x": "c" * 64})
    path.write_text("{not json")
    with pytest.raises(RegistryError, match="not a readable radxai registry"):
        read_registry(path)
    path.write_text(json.dumps({"files": ["a"]}))
    with pytest.raises(RegistryError, match="not a radxai registry"):
        read_registry(path)


def test_a_root_that_is_not_the_dataset_raises_a_layout_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="not a VinDr-CXR folder"):
        verify_dataset("vindr_cxr", tmp_path)
