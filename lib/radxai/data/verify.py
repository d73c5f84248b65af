"""Check a local copy of a real dataset: what is missing, what is unreadable, how many items
each class has, and whether file hashes match.

Hashes are compared against every reference available:
- ``published_sha256`` in the dataset's manifest (hashes the publisher gives),
- ``SHA256SUMS.txt`` in the dataset root (PhysioNet ships one with every release),
- the dataset's registry: ``radxai_registry.json`` in the dataset root the user gave, or any
  path passed as ``registry``. ``record_registry`` writes the sha256 of every data file of a
  copy that verified cleanly, so later copies (another machine, a re-download) can be
  checked against the first. A registry that already holds file hashes is never
  overwritten; ``radxai data fetch`` keeps the hashes of downloaded archives in the same file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radxai.data.atomic import write_text_atomically
from radxai.data.checksums import SUMS_FILE, read_sums, sha256_file
from radxai.data.io import ImageReadError
from radxai.data.real import MissingFile, Survey, UnreadableFile, survey_dataset

__all__ = [
    "PUBLISHER_SUMS_FILE",
    "REGISTRY_FILE_NAME",
    "HashMismatch",
    "RegistryError",
    "VerifyReport",
    "default_registry_path",
    "read_registry",
    "record_registry",
    "sha256_file",
    "update_registry",
    "verify_dataset",
]

REGISTRY_FILE_NAME = "radxai_registry.json"
PUBLISHER_SUMS_FILE = SUMS_FILE
_REGISTRY_FORMAT = 1
# A report lists this many files per problem kind before it says how many more there are.
REPORT_LIST_LIMIT = 50


class RegistryError(ValueError):
    """A registry that cannot be read or must not be written; the message says why."""


@dataclass(frozen=True)
class HashMismatch:
    """A file whose sha256 differs from a reference. source: where the reference came from."""

    relative_path: str
    expected: str
    actual: str
    source: str


@dataclass
class VerifyReport:
    """The result of ``verify_dataset``.

    found: records whose files exist. files_read: records decoded to check they are
    readable (0 in a quick check). hashes_checked: files compared against a reference hash.
    file_hashes: sha256 of every data file, relative path -> hex, when hashes were computed.
    """

    dataset: str
    root: Path
    layout: str
    manifest_path: Path
    found: int
    missing: list[MissingFile]
    corrupt: list[UnreadableFile]
    hash_mismatches: list[HashMismatch]
    shortfalls: list[str]
    counts: dict[str, int]
    expected_counts: dict[str, int]
    files_read: int
    hashes_checked: int
    hash_sources: list[str]
    file_hashes: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing is missing, unreadable, mismatched or short of the expected counts."""
        return not (self.missing or self.corrupt or self.hash_mismatches or self.shortfalls)

    def format(self, limit: int = REPORT_LIST_LIMIT) -> str:
        """The report as text for a terminal, listing at most ``limit`` files per problem."""
        lines = [
            f"dataset {self.dataset} at {self.root} (layout {self.layout}; manifest {self.manifest_path})",
            f"found {self.found} items; read {self.files_read}; "
            + (
                f"checked {self.hashes_checked} hashes against {', '.join(self.hash_sources)}"
                if self.hash_sources
                else "no reference hashes (see --write-registry)"
            ),
            "counts:",
        ]
        for key, expected in self.expected_counts.items():
            lines.append(f"  {key}: {self.counts.get(key, 0)} (publisher: {expected})")
        lines += [f"  {key}: {value}" for key, value in sorted(self.counts.items()) if key not in self.expected_counts]
        sections = (
            ("missing", [f"{item.relative_path}  (expected by {item.expected_by})" for item in self.missing]),
            ("unreadable", [f"{item.relative_path}: {item.problem}" for item in self.corrupt]),
            (
                "hash mismatch",
                [
                    f"{item.relative_path}: sha256 {item.actual}, expected {item.expected} ({item.source})"
                    for item in self.hash_mismatches
                ],
            ),
            ("too few items", self.shortfalls),
        )
        for title, entries in sections:
            if entries:
                lines.append(f"{title} ({len(entries)}):")
                lines += [f"  {entry}" for entry in entries[:limit]]
                if len(entries) > limit:
                    lines.append(f"  ... and {len(entries) - limit} more")
        lines.append("result: OK" if self.ok else "result: PROBLEMS FOUND")
        return "\n".join(lines)


def default_registry_path(root: str | Path) -> Path:
    """Where a dataset's registry lives unless another path is given: inside its root."""
    return Path(root) / REGISTRY_FILE_NAME


def read_registry(path: Path) -> dict[str, Any]:
    """A registry's content ({"format", "dataset", "files", "downloads"}), or an empty one if
    the file does not exist. Raises ``RegistryError`` for an unreadable or malformed file."""
    if not path.is_file():
        return {"format": _REGISTRY_FORMAT, "files": {}, "downloads": {}}
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RegistryError(f"{path}: not a readable radxai registry: {error}") from error
    if not (
        isinstance(content, dict)
        and isinstance(content.get("files", {}), dict)
        and isinstance(content.get("downloads", {}), dict)
    ):
        raise RegistryError(f"{path}: not a radxai registry (expected files and downloads maps)")
    content.setdefault("files", {})
    content.setdefault("downloads", {})
    return content


def update_registry(
    path: Path, dataset: str, files: dict[str, str] | None = None, downloads: dict[str, str] | None = None
) -> None:
    """Add file and download hashes to the registry at ``path``, atomically.

    Refuses (``RegistryError``) to replace the registry's file hashes once it has some, or a
    registry that belongs to another dataset; download hashes are added to those there.
    """
    registry = read_registry(path)
    if registry.get("dataset", dataset) != dataset:
        raise RegistryError(f"{path}: belongs to dataset {registry['dataset']!r}, not {dataset!r}")
    if files and registry["files"]:
        raise RegistryError(
            f"{path}: already holds the hashes of {len(registry['files'])} files of a first "
            "verified copy and is never overwritten; move it away to record a new copy"
        )
    registry.update({"format": _REGISTRY_FORMAT, "dataset": dataset})
    if files:
        registry["files"] = dict(sorted(files.items()))
    registry["downloads"] = dict(sorted({**registry["downloads"], **(downloads or {})}.items()))
    write_text_atomically(path, json.dumps(registry, indent=1) + "\n")


def record_registry(report: VerifyReport, path: Path | None = None) -> Path:
    """Write the file hashes of a cleanly verified copy to its registry; return the path.

    ``report`` must come from ``verify_dataset(..., compute_hashes=True)`` and be ``ok``.
    path: default ``<root>/radxai_registry.json``. Raises ``RegistryError`` otherwise.
    """
    target = Path(path) if path is not None else default_registry_path(report.root)
    if not report.ok:
        raise RegistryError(
            f"{target}: not written: the copy at {report.root} did not verify "
            "cleanly, and only a verified copy's hashes may become the reference"
        )
    if not report.file_hashes:
        raise RegistryError(f"{target}: not written: the report holds no file hashes (verify with compute_hashes=True)")
    update_registry(target, report.dataset, files=report.file_hashes)
    return target


def verify_dataset(
    name: str,
    root: str | Path,
    *,
    split_seed: int = 0,
    registry: Path | None = None,
    read_files: bool = True,
    check_hashes: bool = True,
    compute_hashes: bool = False,
    **options: Any,
) -> VerifyReport:
    """Check the local copy of dataset ``name`` at ``root``.

    read_files: decode every image/volume (and mask) to find unreadable files.
    check_hashes: compare files against the reference hashes that exist (see module
    docstring; registry defaults to ``<root>/radxai_registry.json``). compute_hashes: hash
    every data file (needed by ``record_registry``) even without references.
    options: passed to the loader (eye_gaze: image_root). Layout errors (not the dataset,
    damaged tables) raise ``DatasetLayoutError`` naming the manifest.
    """
    survey = survey_dataset(name, root, split_seed, **options)
    corrupt = list(survey.unreadable)
    if read_files:
        for record in survey.records:
            try:
                record.load()
            except (ImageReadError, ValueError, OSError) as error:
                corrupt.append(UnreadableFile(survey.relative(record.path), str(error)))
    references = _reference_hashes(survey, registry) if check_hashes else {}
    files = {survey.relative(path): path for path in survey.data_files()}
    hashes: dict[str, str] = {}
    if compute_hashes:
        hashes = {relative: sha256_file(path) for relative, path in files.items()}
    mismatches, checked = [], 0
    for relative, path in files.items():
        if relative not in references:
            continue
        expected, source = references[relative]
        actual = hashes.get(relative) or sha256_file(path)
        checked += 1
        if actual != expected:
            mismatches.append(HashMismatch(relative, expected, actual, source))
    return VerifyReport(
        dataset=name,
        root=survey.root,
        layout=survey.layout,
        manifest_path=survey.manifest.path,
        found=len(survey.records),
        missing=survey.missing,
        corrupt=corrupt,
        hash_mismatches=mismatches,
        shortfalls=survey.shortfalls(),
        counts=survey.counts,
        expected_counts=survey.expected_counts,
        files_read=len(survey.records) if read_files else 0,
        hashes_checked=checked,
        hash_sources=sorted({source for _, source in references.values()}),
        file_hashes=hashes,
    )


def _reference_hashes(survey: Survey, registry: Path | None) -> dict[str, tuple[str, str]]:
    """relative path -> (sha256, where it comes from), the registry winning over the others."""
    references = {
        relative: (digest, f"manifest {survey.manifest.path.name}")
        for relative, digest in survey.manifest.published_sha256.items()
    }
    sums = survey.root / PUBLISHER_SUMS_FILE
    if sums.is_file():
        references.update({relative: (digest, PUBLISHER_SUMS_FILE) for relative, digest in read_sums(sums).items()})
    registry_path = Path(registry) if registry is not None else default_registry_path(survey.root)
    for relative, digest in read_registry(registry_path)["files"].items():
        references[relative] = (str(digest), str(registry_path))
    return references
