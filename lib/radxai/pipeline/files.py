"""Files of a run: sha256 of outputs, JSON records written atomically and read with errors that name them."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RUN_RECORD = "run.json"


def sha256_of_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def output_hashes(run_dir: Path) -> dict[str, str]:
    """sha256 of every file under ``run_dir`` except run.json itself, keyed by relative path."""
    run_dir = Path(run_dir)
    return {
        path.relative_to(run_dir).as_posix(): sha256_of_file(path)
        for path in sorted(run_dir.rglob("*"))
        if path.is_file() and path.name != RUN_RECORD
    }


def write_json_atomically(data: Mapping[str, Any], path: Path) -> None:
    """Write ``data`` as indented JSON via a temporary file, so a crash never leaves half a file."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: the folder {path.parent} does not exist")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=2, sort_keys=True, default=str)
            stream.write("\n")
        os.chmod(temporary, 0o644)  # mkstemp creates owner-only files; outputs are for sharing
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_json_record(path: Path, error_type: type[Exception], context: str) -> Any:
    """The JSON content of ``path``; ``error_type("<context>: ...")`` naming the file if it is
    absent or not valid JSON."""
    if not path.is_file():
        raise error_type(f"{context}: it has no {path.name}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise error_type(f"{context}: {path} is not valid JSON ({error})") from error
