"""sha256 sums of a dataset's files: written beside the data, checked when the data is read.

The file is ``SHA256SUMS.txt`` in the dataset root, in the format of ``sha256sum`` (one
``<64 hex digits>  <path relative to the root>`` per line), which PhysioNet ships with its
releases and which ``sha256sum -c`` checks by hand. radxai's synthetic datasets write one when
they are complete (`write_sums`); the readers of a dataset check every file it lists
(`check_sums`), so a file damaged or replaced after it was written is refused, by name, before
anything reads it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from radxai.data.atomic import write_text_atomically

__all__ = ["SUMS_FILE", "DatasetIntegrityError", "sha256_file", "read_sums", "write_sums", "check_sums"]

SUMS_FILE = "SHA256SUMS.txt"
_HASH_CHUNK_BYTES = 1 << 20
# An error lists this many files per kind before it says how many more there are.
_LISTED = 10


class DatasetIntegrityError(ValueError):
    """Files of a dataset that differ from, or are missing against, its ``SHA256SUMS.txt``."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes, lower-case hex, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_sums(path: str | os.PathLike[str]) -> dict[str, str]:
    """The entries of a ``sha256sum``-style file, relative path -> lower-case hex digest.

    Lines that are not ``<64 hex digits> <path>`` (comments, blank lines) are skipped; a leading
    ``*`` (sha256sum's binary-mode mark) is dropped from the path.
    """
    entries = {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2 and len(parts[0]) == 64:
            entries[parts[1].lstrip("*")] = parts[0].lower()
    return entries


def write_sums(root: str | os.PathLike[str]) -> Path:
    """Write ``root/SHA256SUMS.txt`` with the sha256 of every file below `root`; return its path.

    Hidden files (names starting with ".") and the sums file itself are left out. Paths use "/"
    and are sorted, so the same files always give the same bytes. Written atomically
    (`radxai.data.atomic.write_text_atomically`).
    """
    root = Path(root)
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and path.name != SUMS_FILE
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )
    text = "".join(f"{sha256_file(path)}  {path.relative_to(root).as_posix()}\n" for path in files)
    target = root / SUMS_FILE
    write_text_atomically(target, text)
    return target


def check_sums(root: str | os.PathLike[str]) -> int:
    """Check every file ``root/SHA256SUMS.txt`` lists; return how many were checked (0: no sums file).

    Raises `DatasetIntegrityError` naming the sums file and the files that are missing or whose
    bytes differ from their listed sha256. A listed path that leaves `root` (absolute, or with
    ``..``) counts as missing: it is never opened.
    """
    root = Path(root)
    sums_path = root / SUMS_FILE
    if not sums_path.is_file():
        return 0
    resolved_root = root.resolve()
    missing, damaged = [], []
    entries = read_sums(sums_path)
    for relative, expected in entries.items():
        path = (root / relative).resolve()
        if not path.is_relative_to(resolved_root) or not path.is_file():
            missing.append(relative)
        elif sha256_file(path) != expected:
            damaged.append(relative)
    if missing or damaged:
        problems = [
            f"{len(found)} {kind}: {', '.join(found[:_LISTED])}" + (" ..." if len(found) > _LISTED else "")
            for kind, found in (("changed since written (sha256 differs)", damaged), ("missing", missing))
            if found
        ]
        raise DatasetIntegrityError(
            f"{sums_path} does not match the dataset: "
            + "; ".join(problems)
            + ". Re-create or re-download those files (or remove the sums file "
            "if the change is intended)."
        )
    return len(entries)
