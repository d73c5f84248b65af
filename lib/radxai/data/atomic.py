"""Writes that never leave half a file: a synced temporary sibling, then an atomic rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_bytes_atomically", "write_text_atomically"]


def write_bytes_atomically(data: bytes, path: str | os.PathLike[str]) -> None:
    """Write `data` to `path` through a temporary sibling file and an atomic rename.

    A failure at any point (a crash included) leaves an existing file at `path` untouched and
    removes the temporary file. Raises FileNotFoundError naming `path` if its folder does not
    exist (the temporary file's own error would name a file the caller never asked for). An
    existing file keeps its mode; a new one is readable by all (0644).
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{target}: the folder {target.parent} does not exist")
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False)
    temporary = Path(handle.name)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # NamedTemporaryFile creates mode 0600.
        os.chmod(temporary, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 `text` to `path` as `write_bytes_atomically` does, creating its folder if needed."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomically(text.encode("utf-8"), path)
