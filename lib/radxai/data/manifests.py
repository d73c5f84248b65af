"""Dataset manifests: one YAML file per real dataset in ``data_manifests/``.

A manifest says where a dataset comes from (source, licence, access terms, citation), which
folder layouts a local copy may have (with the tree shown in error messages and the counts the
publisher reports), how its labels map to this library's labels, which files can be downloaded
directly (with hashes where the publisher gives them), and what was and was not verified when
the manifest was written.

Where the manifests are found: the folder named by the environment variable
``RADXAI_MANIFESTS`` if it is set, otherwise ``data_manifests/`` at the root of the repository
this package was installed from (three levels above this file: lib/radxai/data/ -> repo root).
A non-editable install has no repository beside it, so it needs ``RADXAI_MANIFESTS``.

Every problem with a manifest raises ``ManifestError``, whose message names the manifest file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ACCESS_KINDS",
    "MANIFEST_DIR_VARIABLE",
    "Download",
    "Layout",
    "Manifest",
    "ManifestError",
    "load_manifest",
    "manifest_dir",
    "manifest_names",
]

MANIFEST_DIR_VARIABLE = "RADXAI_MANIFESTS"
# open: anyone may download; registration: an account and accepted terms (e.g. Kaggle);
# credentialed: a credentialed account and a signed data use agreement (e.g. PhysioNet).
ACCESS_KINDS = ("open", "registration", "credentialed")
TASKS = ("ct", "cxr")
ARCHIVE_KINDS = ("zip", "tar")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REPOSITORY_MANIFESTS = Path(__file__).resolve().parents[3] / "data_manifests"
_REQUIRED_TEXT = ("name", "title", "task", "citation")
_REQUIRED_MAPPINGS = ("source", "licence", "access", "layouts", "labels", "verification")


class ManifestError(ValueError):
    """A manifest that is missing, unreadable or malformed; the message names its file."""


@dataclass(frozen=True)
class Layout:
    """One accepted folder layout of a dataset.

    name: the layout's key in the manifest. description: one line. tree: the expected folder
    tree (shown in error messages). expected_counts: item counts the publisher reports, keyed
    by class (and split, as the loader names them), used by verify to report shortfalls.
    """

    name: str
    description: str
    tree: str
    expected_counts: dict[str, int]


@dataclass(frozen=True)
class Download:
    """One directly downloadable file (``url``) or every file of a DOI record (``doi``).

    file: the local file name (url downloads). sha256: the publisher's hash, or None where the
    publisher gives none (then the hash of the first download is recorded in the dataset's
    registry and checked on every later download). size_bytes: the published size, if known.
    extract: "zip" or "tar" to unpack the archive into the dataset root, or None.
    files: for a DOI record, the names to fetch; empty means every file of the record.
    """

    description: str
    url: str | None = None
    file: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    extract: str | None = None
    doi: str | None = None
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    """A validated dataset manifest (see the module docstring for its sections)."""

    name: str
    path: Path
    title: str
    task: str
    source: dict[str, Any]
    licence: dict[str, Any]
    access: dict[str, Any]
    citation: str
    layouts: dict[str, Layout]
    labels: dict[str, Any]
    downloads: tuple[Download, ...]
    published_sha256: dict[str, str]
    verification: dict[str, Any]

    @property
    def access_kind(self) -> str:
        """One of ``ACCESS_KINDS``."""
        return str(self.access["kind"])

    def describe_layouts(self) -> str:
        """Every accepted layout's description and tree, for error messages."""
        parts = []
        for layout in self.layouts.values():
            parts.append(f"[{layout.name}] {layout.description}\n{layout.tree.rstrip()}")
        return "\n".join(parts)

    def label_value(self, *keys: str, kind: type | tuple[type, ...] = object) -> Any:
        """The value at ``labels[keys[0]][keys[1]]...``, checked to be of ``kind``.

        Raises ``ManifestError`` naming this manifest and the missing or mistyped key.
        """
        value: Any = self.labels
        for depth, key in enumerate(keys):
            if not isinstance(value, Mapping) or key not in value:
                dotted = ".".join(("labels",) + keys[: depth + 1])
                raise ManifestError(f"{self.path}: missing key {dotted}")
            value = value[key]
        if not isinstance(value, kind):
            dotted = ".".join(("labels",) + keys)
            raise ManifestError(f"{self.path}: {dotted} must be {_kind_name(kind)}, got {type(value).__name__}")
        return value

    def label_strings(self, *keys: str) -> list[str]:
        """The list of strings at ``labels.<keys>``; ``ManifestError`` if it is anything else."""
        values = self.label_value(*keys, kind=list)
        if not all(isinstance(value, str) for value in values):
            raise ManifestError(f"{self.path}: labels.{'.'.join(keys)} must be a list of strings")
        return list(values)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(item.__name__ for item in kinds)


def manifest_dir() -> Path:
    """The folder holding the manifests: ``$RADXAI_MANIFESTS`` or the repository's
    ``data_manifests/``."""
    override = os.environ.get(MANIFEST_DIR_VARIABLE)
    return Path(override) if override else _REPOSITORY_MANIFESTS


def manifest_names() -> list[str]:
    """The dataset names that have a manifest, sorted."""
    folder = manifest_dir()
    if not folder.is_dir():
        raise ManifestError(
            f"{folder}: no manifest folder; set {MANIFEST_DIR_VARIABLE} to the folder holding "
            "the dataset manifests (data_manifests/ in the radxai repository)"
        )
    return sorted(path.stem for path in folder.glob("*.yaml"))


def load_manifest(name: str) -> Manifest:
    """Read and validate ``<manifest_dir>/<name>.yaml``.

    Raises ``ManifestError`` naming the file for a missing file, invalid YAML, a missing or
    mistyped section, an unknown task or access kind, or a malformed download or hash.
    """
    path = manifest_dir() / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(manifest_names()) if manifest_dir().is_dir() else "none"
        raise ManifestError(f"{path}: no manifest for dataset {name!r} (known: {known})")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ManifestError(f"{path}: not a readable YAML manifest: {error}") from error
    if not isinstance(document, Mapping):
        raise ManifestError(f"{path}: a manifest must be a YAML mapping, got {type(document).__name__}")
    return _validated(document, path, name)


def _validated(document: Mapping[str, Any], path: Path, name: str) -> Manifest:
    for key in _REQUIRED_TEXT:
        if not isinstance(document.get(key), str) or not document[key].strip():
            raise ManifestError(f"{path}: missing or empty text field {key!r}")
    for key in _REQUIRED_MAPPINGS:
        if not isinstance(document.get(key), Mapping):
            raise ManifestError(f"{path}: missing section {key!r} (a mapping)")
    if document["name"] != name:
        raise ManifestError(f"{path}: name is {document['name']!r} but the file is named {name!r}")
    if document["task"] not in TASKS:
        raise ManifestError(f"{path}: task must be one of {TASKS}, got {document['task']!r}")
    access = dict(document["access"])
    if access.get("kind") not in ACCESS_KINDS:
        raise ManifestError(f"{path}: access.kind must be one of {ACCESS_KINDS}, got {access.get('kind')!r}")
    if not isinstance(access.get("instructions"), str):
        raise ManifestError(f"{path}: access.instructions must say how to obtain the data")
    if not isinstance(document["source"].get("homepage"), str):
        raise ManifestError(f"{path}: source.homepage must be a URL")
    if not isinstance(document["licence"].get("name"), str):
        raise ManifestError(f"{path}: licence.name must name the licence")
    for key in ("verified", "not_verified"):
        if not isinstance(document["verification"].get(key), list):
            raise ManifestError(f"{path}: verification.{key} must be a list of statements")
    return Manifest(
        name=name,
        path=path,
        title=document["title"],
        task=document["task"],
        source=dict(document["source"]),
        licence=dict(document["licence"]),
        access=access,
        citation=document["citation"],
        layouts=_layouts(document["layouts"], path),
        labels=dict(document["labels"]),
        downloads=_downloads(document.get("downloads", []), path),
        published_sha256=_hashes(document.get("published_sha256", {}), path),
        verification=dict(document["verification"]),
    )


def _layouts(section: Mapping[str, Any], path: Path) -> dict[str, Layout]:
    if not section:
        raise ManifestError(f"{path}: layouts must list at least one folder layout")
    layouts = {}
    for layout_name, entry in section.items():
        where = f"{path}: layouts.{layout_name}"
        if not isinstance(entry, Mapping):
            raise ManifestError(f"{where} must be a mapping")
        for key in ("description", "tree"):
            if not isinstance(entry.get(key), str):
                raise ManifestError(f"{where}.{key} must be text")
        counts = entry.get("expected_counts", {})
        if not isinstance(counts, Mapping) or not all(
            isinstance(value, int) and not isinstance(value, bool) and value >= 0 for value in counts.values()
        ):
            raise ManifestError(f"{where}.expected_counts must map names to non-negative integers")
        layouts[str(layout_name)] = Layout(
            str(layout_name),
            entry["description"],
            entry["tree"],
            {str(key): int(value) for key, value in counts.items()},
        )
    return layouts


def _downloads(section: Sequence[Any], path: Path) -> tuple[Download, ...]:
    if not isinstance(section, list):
        raise ManifestError(f"{path}: downloads must be a list")
    downloads = []
    for index, entry in enumerate(section):
        where = f"{path}: downloads[{index}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("description"), str):
            raise ManifestError(f"{where} must be a mapping with a description")
        has_url, has_doi = isinstance(entry.get("url"), str), isinstance(entry.get("doi"), str)
        if has_url == has_doi:
            raise ManifestError(f"{where} needs exactly one of url or doi")
        if has_url and not isinstance(entry.get("file"), str):
            raise ManifestError(f"{where}: a url download needs the local file name (file)")
        sha256 = entry.get("sha256")
        if sha256 is not None and not (isinstance(sha256, str) and _SHA256.match(sha256)):
            raise ManifestError(f"{where}: sha256 must be 64 lower-case hex digits or null")
        extract = entry.get("extract")
        if extract is not None and extract not in ARCHIVE_KINDS:
            raise ManifestError(f"{where}: extract must be one of {ARCHIVE_KINDS} or null")
        size = entry.get("size_bytes")
        if size is not None and not (isinstance(size, int) and size > 0):
            raise ManifestError(f"{where}: size_bytes must be a positive integer or null")
        files = entry.get("files", [])
        if not isinstance(files, list) or not all(isinstance(item, str) for item in files):
            raise ManifestError(f"{where}: files must be a list of file names")
        downloads.append(
            Download(
                description=entry["description"],
                url=entry.get("url"),
                file=entry.get("file"),
                sha256=sha256,
                size_bytes=size,
                extract=extract,
                doi=entry.get("doi"),
                files=tuple(files),
            )
        )
    return tuple(downloads)


def _hashes(section: Any, path: Path) -> dict[str, str]:
    if not isinstance(section, Mapping):
        raise ManifestError(f"{path}: published_sha256 must map relative paths to sha256 digests")
    for relative, digest in section.items():
        if not (isinstance(digest, str) and _SHA256.match(digest)):
            raise ManifestError(f"{path}: published_sha256[{relative!r}] must be 64 lower-case hex digits")
    return {str(relative): digest for relative, digest in section.items()}
