"""Files of a run: sha256 of outputs, JSON records written atomically and read with errors that name them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from radxai.data.atomic import write_bytes_atomically

# One sha256 of a file for the whole project; re-exported under the pipeline's name.
from radxai.data.checksums import sha256_file as sha256_of_file

RUN_RECORD = "run.json"


def output_hashes(run_dir: Path) -> dict[str, str]:
    """sha256 of every file under ``run_dir`` except run.json itself, keyed by relative path."""
    run_dir = Path(run_dir)
    return {
        path.relative_to(run_dir).as_posix(): sha256_of_file(path)
        for path in sorted(run_dir.rglob("*"))
        if path.is_file() and path.name != RUN_RECORD
    }


def write_json_atomically(data: Mapping[str, Any], path: Path) -> None:
    """Write ``data`` as indented JSON via a temporary file, so a crash never leaves half a file
    (`radxai.data.atomic.write_bytes_atomically`, which names a missing folder)."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    write_bytes_atomically(text.encode("utf-8"), path)


def read_json_record(path: Path, error_type: type[Exception], context: str) -> Any:
    """The JSON content of ``path``; ``error_type("<context>: ...")`` naming the file if it is
    absent or not valid JSON."""
    if not path.is_file():
        raise error_type(f"{context}: it has no {path.name}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise error_type(f"{context}: {path} is not valid JSON ({error})") from error
