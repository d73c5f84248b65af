"""SHA256SUMS.txt beside a dataset: written by the synthetic writers, checked by the readers."""

import shutil
import subprocess

import pytest

from radxai.data import checksums, datasets, real

CT_SHAPE = (16, 32, 32)


def _tree(root):
    (root / "studies").mkdir(parents=True)
    (root / "studies" / "a.bin").write_bytes(b"first")
    (root / "b.csv").write_text("x,y\n1,2\n")
    (root / ".hidden").write_text("not data")
    return root


def test_written_sums_list_every_visible_file_and_pass_sha256sum(tmp_path):
    root = _tree(tmp_path / "data")
    path = checksums.write_sums(root)
    assert path == root / checksums.SUMS_FILE
    assert sorted(checksums.read_sums(path)) == ["b.csv", "studies/a.bin"]
    if shutil.which("sha256sum"):  # coreutils: an independent reader of the format
        assert subprocess.run(["sha256sum", "--check", "--quiet", checksums.SUMS_FILE], cwd=root).returncode == 0
    assert checksums.check_sums(root) == 2


def test_no_sums_file_checks_nothing(tmp_path):
    assert checksums.check_sums(_tree(tmp_path / "data")) == 0


def test_a_changed_file_and_a_missing_file_are_named(tmp_path):
    root = _tree(tmp_path / "data")
    checksums.write_sums(root)
    (root / "studies" / "a.bin").write_bytes(b"First")
    (root / "b.csv").unlink()
    with pytest.raises(checksums.DatasetIntegrityError) as error:
        checksums.check_sums(root)
    message = str(error.value)
    assert "1 changed since written (sha256 differs): studies/a.bin" in message
    assert "1 missing: b.csv" in message and checksums.SUMS_FILE in message


def test_a_listed_path_outside_the_root_counts_as_missing_and_is_not_read(tmp_path):
    root = _tree(tmp_path / "data")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (root / checksums.SUMS_FILE).write_text(f"{checksums.sha256_file(outside)}  ../secret.txt\n")
    with pytest.raises(checksums.DatasetIntegrityError, match=r"1 missing: \.\./secret\.txt"):
        checksums.check_sums(root)


def test_read_sums_skips_comments_and_drops_the_binary_mark(tmp_path):
    path = tmp_path / "sums.txt"
    digest = "ab" * 32
    path.write_text(f"# comment\n\n{digest.upper()} *folder/file.png\nnot a line\n")
    assert checksums.read_sums(path) == {"folder/file.png": digest}


def test_a_synthetic_ct_study_changed_after_writing_is_refused_by_name(tmp_path):
    root = datasets.write_synthetic_ct(tmp_path / "ct", count=4, seed=1, shape=CT_SHAPE)
    assert len(real.load_dataset("mosmeddata", root)) == 4
    mask = sorted((root / "masks").iterdir())[0]
    mask.write_bytes(sorted((root / "masks").iterdir())[1].read_bytes())  # a valid file, the wrong one
    with pytest.raises(checksums.DatasetIntegrityError, match=f"masks/{mask.name}"):
        real.load_dataset("mosmeddata", root)


def test_a_synthetic_xray_image_removed_after_writing_is_refused_by_name(tmp_path):
    root = datasets.write_synthetic_cxr(tmp_path / "cxr", count=4, seed=2, shape=(64, 64))
    assert len(real.load_dataset("vindr_cxr", root)) == 4
    image = sorted((root / "train").iterdir())[0]
    image.unlink()
    with pytest.raises(checksums.DatasetIntegrityError, match=f"1 missing: train/{image.name}"):
        real.load_dataset("vindr_cxr", root)
