"""Tests of `radxai data verify` and `radxai data fetch` (pooch replaced by a fake)."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from radxai import cli
from radxai.data import fetch, manifests
from radxai.data.verify import REGISTRY_FILE_NAME

REPOSITORY_MANIFESTS = Path(__file__).resolve().parents[1] / "data_manifests"
VINDR_COLUMNS = ["image_id", "class_name", "class_id", "rad_id", "x_min", "y_min", "x_max", "y_max"]


def write_csv(path: Path, columns: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def write_png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path)


@pytest.fixture(autouse=True)
def tiny_manifests(tmp_path_factory, monkeypatch) -> Path:
    """The repository's manifests with publisher counts cut to the tiny copies below."""
    folder = tmp_path_factory.mktemp("manifests")
    for path in REPOSITORY_MANIFESTS.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    for name, layout, counts in (
        ("vindr_cxr", "kaggle_resized", {"train": 2}),
        ("eye_gaze", "physionet", {"images": 1}),
    ):
        document = yaml.safe_load((folder / f"{name}.yaml").read_text(encoding="utf-8"))
        document["layouts"][layout]["expected_counts"] = counts
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    monkeypatch.setenv(manifests.MANIFEST_DIR_VARIABLE, str(folder))
    return folder


@pytest.fixture
def vindr_root(tmp_path: Path) -> Path:
    root = tmp_path / "vindr"
    write_csv(
        root / "train.csv",
        VINDR_COLUMNS,
        [["k1", "Cardiomegaly", 3, "R1", 1, 1, 5, 4], ["k2", "No finding", 14, "R1", "", "", "", ""]],
    )
    write_png(root / "train" / "k1.png")
    write_png(root / "train" / "k2.png")
    return root


def test_verify_prints_the_report_and_exits_0_for_a_clean_copy(vindr_root, capsys) -> None:
    assert cli.main(["data", "verify", "vindr_cxr", "--root", str(vindr_root)]) == 0
    out = capsys.readouterr().out
    assert "dataset vindr_cxr at" in out and "train: 2 (publisher: 2)" in out
    assert out.rstrip().endswith("result: OK")


def test_verify_exits_1_and_names_a_missing_file(vindr_root, capsys) -> None:
    (vindr_root / "train" / "k2.png").unlink()
    assert cli.main(["data", "verify", "vindr_cxr", "--root", str(vindr_root)]) == 1
    out = capsys.readouterr().out
    assert "train/k2.<dicom|png|jpg>  (expected by train.csv line 3)" in out
    assert "result: PROBLEMS FOUND" in out


def test_write_registry_records_once_and_then_checks(vindr_root, capsys) -> None:
    assert cli.main(["data", "verify", "vindr_cxr", "--root", str(vindr_root), "--write-registry"]) == 0
    assert f"registry written: {vindr_root / REGISTRY_FILE_NAME} (3 files)" in capsys.readouterr().out
    assert cli.main(["data", "verify", "vindr_cxr", "--root", str(vindr_root), "--write-registry"]) == 1
    assert "never overwritten" in capsys.readouterr().err
    Image.fromarray(np.ones((8, 8), np.uint8)).save(vindr_root / "train" / "k1.png")
    assert cli.main(["data", "verify", "vindr_cxr", "--root", str(vindr_root)]) == 1
    assert "hash mismatch (1):\n  train/k1.png" in capsys.readouterr().out


def test_write_registry_refuses_a_quick_check(vindr_root, capsys) -> None:
    assert cli.main(["data", "verify", "vindr_cxr", "--root", str(vindr_root), "--quick", "--write-registry"]) == 2
    assert "drop --quick" in capsys.readouterr().err
    assert not (vindr_root / REGISTRY_FILE_NAME).exists()


def test_verify_reports_layout_problems_without_a_traceback(tmp_path, capsys) -> None:
    assert cli.main(["data", "verify", "vindr_cxr", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("radxai data verify: ") and "not a VinDr-CXR folder" in err
    assert "vindr_cxr.yaml" in err and "Traceback" not in err
    assert cli.main(["data", "verify", "chexpert", "--root", str(tmp_path)]) == 2
    assert "unknown dataset 'chexpert'" in capsys.readouterr().err


def test_verify_passes_the_image_root_to_the_eye_gaze_loader(tmp_path, capsys) -> None:
    root, image_root = tmp_path / "egd", tmp_path / "mimic"
    write_csv(
        root / "master_sheet.csv",
        ["dicom_id", "path", "patient_id", "Normal", "CHF", "pneumonia"],
        [["d1", "files/p10/p1/s1/d1.jpg", "1", 0, 1, 0]],
    )
    write_csv(root / "fixations.csv", ["DICOM_ID", "FPOGD", "X_ORIGINAL", "Y_ORIGINAL"], [["d1", 0.2, 3, 4]])
    write_png(image_root / "files" / "p10" / "p1" / "s1" / "d1.jpg")
    assert cli.main(["data", "verify", "eye_gaze", "--root", str(root)]) == 1
    assert "files/p10/p1/s1/d1.jpg  (expected by master_sheet.csv line 2)" in capsys.readouterr().out
    assert cli.main(["data", "verify", "eye_gaze", "--root", str(root), "--image-root", str(image_root)]) == 0
    assert "CHF: 1" in capsys.readouterr().out


def test_fetch_of_a_credentialed_dataset_explains_access(tmp_path, capsys) -> None:
    assert cli.main(["data", "fetch", "eye_gaze", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "needs credentialed access" in err and "physionet.org/content/egd-cxr/1.0.0/" in err


def test_fetch_downloads_what_the_manifest_lists(tmp_path, capsys, monkeypatch, tiny_manifests) -> None:
    archive = tmp_path / "source.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("CT-0/study_0001.nii.gz", b"a study")
    calls = []

    def retrieve(url, known_hash=None, fname=None, path=None, processor=None, downloader=None, progressbar=False):
        calls.append((fname, progressbar))
        target = Path(path) / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(archive, target)
        return str(target)

    monkeypatch.setattr(fetch.pooch, "retrieve", retrieve)
    document = yaml.safe_load((tiny_manifests / "mosmeddata.yaml").read_text())
    for download in document["downloads"]:
        download["size_bytes"] = archive.stat().st_size
    (tiny_manifests / "mosmeddata.yaml").write_text(yaml.safe_dump(document))
    root = tmp_path / "data"
    assert cli.main(["data", "fetch", "mosmeddata", "--root", str(root), "--file", "CT-0.zip", "--progress"]) == 0
    out = capsys.readouterr().out
    assert calls == [("CT-0.zip", True)]
    assert f"fetched {root / fetch.DOWNLOAD_FOLDER / 'CT-0.zip'}" in out
    assert f"next: radxai data verify mosmeddata --root {root}" in out
    assert (root / "CT-0" / "study_0001.nii.gz").read_bytes() == b"a study"


def test_fetch_reports_a_size_mismatch(tmp_path, capsys, monkeypatch) -> None:
    def retrieve(url, known_hash=None, fname=None, path=None, processor=None, downloader=None, progressbar=False):
        target = Path(path) / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"short")
        return str(target)

    monkeypatch.setattr(fetch.pooch, "retrieve", retrieve)
    assert cli.main(["data", "fetch", "mosmeddata", "--root", str(tmp_path)]) == 2
    assert "5 bytes, but" in capsys.readouterr().err


def test_synthesize_still_works(tmp_path, capsys) -> None:
    assert cli.main(["data", "synthesize", "cxr", "--root", str(tmp_path), "--count", "2"]) == 0
    assert (tmp_path / "train.csv").is_file()
    assert "wrote 2 synthetic cxr cases" in capsys.readouterr().out


def test_synthesize_refuses_a_folder_that_holds_another_set(tmp_path, capsys) -> None:
    assert cli.main(["data", "synthesize", "ct", "--root", str(tmp_path / "set"), "--count", "2"]) == 0
    before = sorted(path.relative_to(tmp_path) for path in (tmp_path / "set").rglob("*"))
    capsys.readouterr()
    status = cli.main(["data", "synthesize", "ct", "--root", str(tmp_path / "set"), "--count", "2", "--seed", "1"])
    assert status == 2 and "is not an empty folder" in capsys.readouterr().err
    assert sorted(path.relative_to(tmp_path) for path in (tmp_path / "set").rglob("*")) == before


@pytest.mark.parametrize(
    ("root", "extra", "message"),
    [
        ("new", ["--count", "0"], "count must be at least 1"),
        ("a_file", [], "is not an empty folder"),
        ("a_file/inside", [], "Not a directory"),
    ],
)
def test_synthesize_usage_errors_are_messages_not_tracebacks(tmp_path, capsys, root, extra, message) -> None:
    (tmp_path / "a_file").write_text("x")
    assert cli.main(["data", "synthesize", "cxr", "--root", str(tmp_path / root), *extra]) == 2
    assert message in capsys.readouterr().err
