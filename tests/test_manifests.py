"""Tests of radxai.data.manifests: the shipped manifests validate, and every malformed
manifest is refused with an error naming its file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from radxai.data import manifests
from radxai.data.manifests import ManifestError, load_manifest

SHIPPED = ("eye_gaze", "mosmeddata", "pediatric_pneumonia", "rad_chestct", "vindr_cxr")
REPOSITORY_MANIFESTS = Path(__file__).resolve().parents[1] / "data_manifests"


@pytest.fixture
def manifest_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty manifest folder that load_manifest reads instead of the repository's."""
    monkeypatch.setenv(manifests.MANIFEST_DIR_VARIABLE, str(tmp_path))
    return tmp_path


def shipped_document(name: str) -> dict:
    return yaml.safe_load((REPOSITORY_MANIFESTS / f"{name}.yaml").read_text(encoding="utf-8"))


def write(folder: Path, name: str, document: object) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_every_dataset_has_a_valid_manifest_in_the_repository(monkeypatch) -> None:
    monkeypatch.delenv(manifests.MANIFEST_DIR_VARIABLE, raising=False)
    assert manifests.manifest_dir() == REPOSITORY_MANIFESTS
    assert tuple(manifests.manifest_names()) == SHIPPED
    for name in SHIPPED:
        manifest = load_manifest(name)
        assert manifest.name == name and manifest.path == REPOSITORY_MANIFESTS / f"{name}.yaml"
        assert manifest.task in ("ct", "cxr")
        assert manifest.source["homepage"].startswith("https://")
        assert manifest.verification["verified"] and manifest.verification["not_verified"]
        for layout in manifest.layouts.values():
            assert layout.tree.strip() and layout.description


def test_credentialed_datasets_are_marked_and_have_no_download() -> None:
    for name in ("vindr_cxr", "eye_gaze"):
        manifest = load_manifest(name)
        assert manifest.access_kind == "credentialed"
        assert "physionet.org" in manifest.access["url"]
        assert manifest.downloads == ()
    assert load_manifest("pediatric_pneumonia").downloads[0].extract == "zip"
    assert load_manifest("rad_chestct").downloads[0].doi == "10.5281/zenodo.6406114"


def test_describe_layouts_shows_every_tree() -> None:
    text = load_manifest("mosmeddata").describe_layouts()
    assert "[full]" in text and "[keras_subset]" in text
    assert "studies/CT-0/study_0001.nii.gz" in text and "CT-23/" in text


def test_environment_variable_overrides_the_folder(manifest_folder: Path) -> None:
    document = shipped_document("mosmeddata")
    document["title"] = "a copy"
    write(manifest_folder, "mosmeddata", document)
    assert manifests.manifest_names() == ["mosmeddata"]
    assert load_manifest("mosmeddata").title == "a copy"


def test_missing_manifest_names_the_file_and_the_known_ones(manifest_folder: Path) -> None:
    write(manifest_folder, "mosmeddata", shipped_document("mosmeddata"))
    with pytest.raises(ManifestError, match=r"absent\.yaml: no manifest .*known: mosmeddata"):
        load_manifest("absent")


def test_missing_folder_says_which_variable_to_set(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(manifests.MANIFEST_DIR_VARIABLE, str(tmp_path / "nowhere"))
    with pytest.raises(ManifestError, match="RADXAI_MANIFESTS"):
        manifests.manifest_names()


def test_invalid_yaml_names_the_file(manifest_folder: Path) -> None:
    (manifest_folder / "broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"broken\.yaml: not a readable YAML manifest"):
        load_manifest("broken")


def test_a_list_is_not_a_manifest(manifest_folder: Path) -> None:
    write(manifest_folder, "listy", ["name", "title"])
    with pytest.raises(ManifestError, match=r"listy\.yaml: a manifest must be a YAML mapping"):
        load_manifest("listy")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.pop("citation"), "missing or empty text field 'citation'"),
        (lambda d: d.pop("licence"), "missing section 'licence'"),
        (lambda d: d.update(name="other"), "name is 'other' but the file is named 'mosmeddata'"),
        (lambda d: d.update(task="mri"), "task must be one of"),
        (lambda d: d["access"].update(kind="free"), "access.kind must be one of"),
        (lambda d: d["access"].pop("instructions"), "access.instructions"),
        (lambda d: d["source"].pop("homepage"), "source.homepage"),
        (lambda d: d["licence"].pop("name"), "licence.name"),
        (lambda d: d["verification"].update(verified="all of it"), "verification.verified"),
        (lambda d: d.update(layouts={}), "at least one folder layout"),
        (lambda d: d["layouts"]["full"].pop("tree"), r"layouts\.full\.tree must be text"),
        (
            lambda d: d["layouts"]["full"]["expected_counts"].update({"CT-0": -1}),
            "expected_counts must map names to non-negative integers",
        ),
        (lambda d: d["downloads"][0].update(sha256="ABC"), r"downloads\[0\]: sha256 must be 64"),
        (lambda d: d["downloads"][0].update(doi="10.1/x"), r"downloads\[0\] needs exactly one of url or doi"),
        (lambda d: d["downloads"][0].pop("file"), "needs the local file name"),
        (lambda d: d["downloads"][0].update(extract="rar"), "extract must be one of"),
        (lambda d: d["downloads"][0].update(size_bytes=0), "size_bytes must be a positive integer"),
        (lambda d: d.update(published_sha256={"a.nii.gz": "0" * 63}), r"published_sha256\['a\.nii\.gz'\]"),
    ],
)
def test_malformed_manifest_is_refused_naming_the_file(manifest_folder, edit, message) -> None:
    document = shipped_document("mosmeddata")
    edit(document)
    path = write(manifest_folder, "mosmeddata", document)
    with pytest.raises(ManifestError, match=message) as caught:
        load_manifest("mosmeddata")
    assert str(caught.value).startswith(str(path))


def test_label_values_are_typed_and_errors_name_the_key() -> None:
    manifest = load_manifest("vindr_cxr")
    assert manifest.label_value("kaggle_classes", kind=dict)["No finding"] == 14
    assert "Cardiomegaly" in manifest.label_strings("local_labels")
    with pytest.raises(ManifestError, match=r"vindr_cxr\.yaml: missing key labels\.absent"):
        manifest.label_value("absent")
    with pytest.raises(ManifestError, match=r"labels\.no_finding must be list, got str"):
        manifest.label_value("no_finding", kind=list)
    with pytest.raises(ManifestError, match=r"labels\.kaggle_classes must be list, got dict"):
        manifest.label_strings("kaggle_classes")


def test_label_strings_refuses_a_list_of_numbers(manifest_folder: Path) -> None:
    document = shipped_document("pediatric_pneumonia")
    document["labels"]["classes"] = [0, 1]
    write(manifest_folder, "pediatric_pneumonia", document)
    with pytest.raises(ManifestError, match=r"labels\.classes must be a list of strings"):
        load_manifest("pediatric_pneumonia").label_strings("classes")
