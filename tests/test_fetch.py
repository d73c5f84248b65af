"""Tests of radxai.data.fetch with pooch replaced by fakes: nothing is downloaded."""

from __future__ import annotations

import io as bytes_io
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from radxai.data import fetch, manifests
from radxai.data.fetch import (
    DOWNLOAD_FOLDER,
    CredentialedAccessError,
    DownloadError,
    DownloadNotPossible,
    fetch_dataset,
)
from radxai.data.verify import REGISTRY_FILE_NAME, read_registry, sha256_file

REPOSITORY_MANIFESTS = Path(__file__).resolve().parents[1] / "data_manifests"


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = bytes_io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


ARCHIVES = {
    "CT-0.zip": zip_bytes({"CT-0/study_0001.nii.gz": b"normal study"}),
    "CT-23.zip": zip_bytes({"CT-23/study_0939.nii.gz": b"abnormal study"}),
}


class FakeRetrieve:
    """Stands in for pooch.retrieve: writes the archive named by fname, records each call."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, url, known_hash=None, fname=None, path=None, processor=None, downloader=None, progressbar=False):
        self.calls.append({"url": url, "known_hash": known_hash, "fname": fname, "path": Path(path)})
        target = Path(path) / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_bytes(ARCHIVES[fname])
        return str(target)


class FakeRecord:
    """Stands in for a pooch.Pooch on a DOI: a record of a label table and an image archive."""

    FILES = {
        "imgtrain_Abnormality_and_Location_Labels.csv": b"NoteAcc_DEID,nodule*lung\ntrn1,1\n",
        "images_part1.zip": zip_bytes({"images/trn1.npz": b"volume"}),
    }

    def __init__(self, path, base_url, registry) -> None:
        self.path, self.base_url, self.registry = Path(path), base_url, registry
        self.fetched: list[str] = []

    def load_registry_from_doi(self) -> None:
        self.registry = {name: "md5:0123" for name in self.FILES}

    def fetch(self, name, progressbar=False):
        self.fetched.append(name)
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.FILES[name])
        return str(target)


def no_network(*arguments, **keywords):
    raise AssertionError("pooch was called although the dataset cannot be downloaded")


@pytest.fixture
def fake_retrieve(monkeypatch: pytest.MonkeyPatch) -> FakeRetrieve:
    fake = FakeRetrieve()
    monkeypatch.setattr(fetch.pooch, "retrieve", fake)
    monkeypatch.setattr(fetch.pooch, "create", no_network)
    return fake


@pytest.fixture
def manifest_folder(tmp_path_factory, monkeypatch) -> Path:
    """A copy of the repository's manifests that a test may edit."""
    folder = tmp_path_factory.mktemp("manifests")
    for path in REPOSITORY_MANIFESTS.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    monkeypatch.setenv(manifests.MANIFEST_DIR_VARIABLE, str(folder))
    return folder


def edit_manifest(folder: Path, name: str, edit) -> None:
    path = folder / f"{name}.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(document)
    path.write_text(yaml.safe_dump(document), encoding="utf-8")


def true_sizes(document: dict) -> None:
    for download in document["downloads"]:
        download["size_bytes"] = len(ARCHIVES[download["file"]])


@pytest.mark.parametrize("name, project", [("vindr_cxr", "vindr-cxr"), ("eye_gaze", "egd-cxr")])
def test_credentialed_datasets_explain_how_to_get_access(monkeypatch, tmp_path, name, project) -> None:
    monkeypatch.setattr(fetch.pooch, "retrieve", no_network)
    monkeypatch.setattr(fetch.pooch, "create", no_network)
    with pytest.raises(CredentialedAccessError) as caught:
        fetch_dataset(name, tmp_path / "data")
    message = str(caught.value)
    assert "needs credentialed access and a signed data use agreement" in message
    assert f"https://physionet.org/content/{project}/1.0.0/" in message
    assert "wget -r -N -c -np --user USERNAME --ask-password" in message
    assert f"{name}.yaml" in message
    assert not (tmp_path / "data").exists()


def test_a_dataset_without_direct_download_says_how_to_obtain_it(manifest_folder, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(fetch.pooch, "retrieve", no_network)
    edit_manifest(manifest_folder, "mosmeddata", lambda document: document.update(downloads=[]))
    with pytest.raises(DownloadNotPossible, match=r"has no direct download\.\n.*access: open") as caught:
        fetch_dataset("mosmeddata", tmp_path)
    assert "mosmed.ai" in str(caught.value)


def test_url_downloads_unpack_into_the_root_and_record_their_hash(manifest_folder, tmp_path, fake_retrieve) -> None:
    edit_manifest(manifest_folder, "mosmeddata", true_sizes)
    root = tmp_path / "MosMedData"
    fetched = fetch_dataset("mosmeddata", root)
    downloads = root / DOWNLOAD_FOLDER
    assert fetched == [downloads / "CT-0.zip", downloads / "CT-23.zip"]
    assert [(call["url"].rsplit("/", 1)[1], call["known_hash"], call["path"]) for call in fake_retrieve.calls] == [
        ("CT-0.zip", None, downloads),
        ("CT-23.zip", None, downloads),
    ]
    assert (root / "CT-0" / "study_0001.nii.gz").read_bytes() == b"normal study"
    assert (root / "CT-23" / "study_0939.nii.gz").read_bytes() == b"abnormal study"
    recorded = read_registry(root / REGISTRY_FILE_NAME)
    assert recorded["dataset"] == "mosmeddata"
    assert recorded["downloads"] == {name: sha256_file(downloads / name) for name in ARCHIVES}
    # Trust on first use: a later fetch must match the first download's hash.
    fetch_dataset("mosmeddata", root)
    assert [call["known_hash"] for call in fake_retrieve.calls[2:]] == [
        f"sha256:{recorded['downloads']['CT-0.zip']}",
        f"sha256:{recorded['downloads']['CT-23.zip']}",
    ]


def test_a_published_hash_is_passed_to_pooch(manifest_folder, tmp_path, fake_retrieve) -> None:
    digest = "ab" * 32

    def publish(document: dict) -> None:
        true_sizes(document)
        document["downloads"][0]["sha256"] = digest

    edit_manifest(manifest_folder, "mosmeddata", publish)
    fetch_dataset("mosmeddata", tmp_path, files=["CT-0.zip"])
    assert [call["known_hash"] for call in fake_retrieve.calls] == [f"sha256:{digest}"]
    assert read_registry(tmp_path / REGISTRY_FILE_NAME)["downloads"] == {}


def test_a_download_of_the_wrong_size_is_refused(tmp_path, fake_retrieve) -> None:
    with pytest.raises(DownloadError, match=r"CT-0\.zip: \d+ bytes, but .*mosmeddata\.yaml gives 1065471431"):
        fetch_dataset("mosmeddata", tmp_path)
    assert not (tmp_path / "CT-0").exists()


def test_only_the_requested_files_are_fetched(manifest_folder, tmp_path, fake_retrieve) -> None:
    edit_manifest(manifest_folder, "mosmeddata", true_sizes)
    assert fetch_dataset("mosmeddata", tmp_path, files=["CT-23.zip"]) == [tmp_path / DOWNLOAD_FOLDER / "CT-23.zip"]
    assert not (tmp_path / "CT-0").exists()
    with pytest.raises(DownloadError, match=r"none of \['CT-5\.zip'\] is a download of mosmeddata"):
        fetch_dataset("mosmeddata", tmp_path, files=["CT-5.zip"])


def test_doi_records_fetch_the_listed_files_with_the_record_checksums(tmp_path, monkeypatch) -> None:
    records: list[FakeRecord] = []

    def create(path, base_url, registry):
        records.append(FakeRecord(path, base_url, registry))
        return records[-1]

    monkeypatch.setattr(fetch.pooch, "create", create)
    monkeypatch.setattr(fetch.pooch, "retrieve", no_network)
    with pytest.raises(
        DownloadError,
        match=r"doi:10\.5281/zenodo\.6406114 holds no files named "
        r"\['imgvalid_Abnormality_and_Location_Labels\.csv', "
        r"'imgtest_Abnormality_and_Location_Labels\.csv', 'Summary_3630\.csv'\]",
    ):
        fetch_dataset("rad_chestct", tmp_path)
    assert records[0].base_url == "doi:10.5281/zenodo.6406114/" and records[0].path == tmp_path
    fetched = fetch_dataset(
        "rad_chestct", tmp_path, files=["imgtrain_Abnormality_and_Location_Labels.csv", "images_part1.zip"]
    )
    assert records[1].fetched == ["images_part1.zip", "imgtrain_Abnormality_and_Location_Labels.csv"]
    assert fetched == [tmp_path / "images_part1.zip", tmp_path / "imgtrain_Abnormality_and_Location_Labels.csv"]
    assert (tmp_path / "images" / "trn1.npz").read_bytes() == b"volume"


def test_archive_kinds_are_told_by_their_name() -> None:
    assert fetch._archive_kind("a.ZIP") == "zip"
    assert fetch._archive_kind("images.tar.gz") == "tar"
    assert fetch._archive_kind("study.nii.gz") is None
    assert fetch._archive_kind("labels.csv") is None


def _tar_with(path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    with tarfile.open(path, "w:gz") as archive:
        member.size = len(data) if member.isfile() else 0
        archive.addfile(member, bytes_io.BytesIO(data) if member.isfile() else None)
    return path


def _link(name: str, kind: bytes, target: str) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, target
    return member


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (tarfile.TarInfo("../outside.txt"), "outside the destination"),
        (tarfile.TarInfo("/tmp/absolute.txt"), "absolute path"),
        (_link("escape", tarfile.SYMTYPE, "../../etc/passwd"), "is a link"),
        (_link("inside", tarfile.SYMTYPE, "."), "is a link"),
        (_link("hard", tarfile.LNKTYPE, "images/a.txt"), "is a link"),
    ],
)
def test_a_tar_member_outside_the_root_is_refused_and_nothing_is_extracted(tmp_path, member, reason) -> None:
    root = tmp_path / "root"
    root.mkdir()
    archive = _tar_with(tmp_path / "bad.tar.gz", member, b"secret")
    with pytest.raises(DownloadError, match=f"bad.tar.gz: member .*{reason}"):
        fetch._extract(archive, "tar", "root")
    assert list(root.iterdir()) == [] and not (tmp_path / "outside.txt").exists()


def test_a_zip_member_outside_the_root_is_refused(tmp_path) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as content:
        content.writestr("../../outside.txt", b"secret")
    (tmp_path / "root").mkdir()
    with pytest.raises(DownloadError, match=r"bad.zip: member '../../outside.txt' would be written outside"):
        fetch._extract(archive, "zip", "root")


def test_a_well_formed_tar_unpacks_inside_the_root(tmp_path) -> None:
    (tmp_path / "root").mkdir()
    archive = _tar_with(tmp_path / "good.tar.gz", tarfile.TarInfo("images/a.txt"), b"pixels")
    fetch._extract(archive, "tar", "root")
    assert (tmp_path / "root" / "images" / "a.txt").read_bytes() == b"pixels"
