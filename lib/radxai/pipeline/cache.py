"""The load-or-build cache the notebooks share: one folder per kind, parameters and source of the code it depends on."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from radxai.pipeline.files import write_json_atomically

CACHE_FOLDER = "cache"
COMPLETE_MARKER = ".complete"


def parameters_key(parameters: Mapping[str, Any]) -> str:
    """A short stable hash of JSON-serialisable parameters (key order does not matter)."""
    text = json.dumps(parameters, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def source_fingerprint(*modules: Any) -> str:
    """A hash of the source of ``modules``, so a cache entry built by older code is not reused.

    A package counts with every ``.py`` file below its folder (subpackages included, in sorted
    order of their relative paths), so a module added to it later is covered too.
    """
    digest = hashlib.sha256()
    for module in modules:
        for path in source_files(module):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def source_files(module: Any) -> list[Path]:
    """The source files behind ``module``: its file, or every ``.py`` below a package's folder."""
    if hasattr(module, "__path__"):
        folders = [Path(folder) for folder in module.__path__]
        return sorted((path for folder in folders for path in folder.rglob("*.py")), key=lambda path: path.as_posix())
    return [Path(module.__file__)]


def load_or_build(
    run_dir: Path, kind: str, parameters: Mapping[str, Any], build: Callable[[Path], None], code: Iterable[Any] = ()
) -> Path:
    """Return ``run_dir/cache/<kind>-<key>``, building it with ``build(folder)`` if absent.

    The key hashes ``parameters`` and the source of the ``code`` modules. ``build`` writes into a
    temporary folder that is renamed into place only when it succeeds, so an interrupted build
    never leaves a half-written entry that a later notebook would trust.
    """
    key_material = dict(parameters)
    key_material["__code__"] = source_fingerprint(*code) if code else ""
    target = Path(run_dir) / CACHE_FOLDER / f"{kind}-{parameters_key(key_material)}"
    if (target / COMPLETE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        build(building)
        write_json_atomically({"kind": kind, "parameters": dict(parameters)}, building / "parameters.json")
        (building / COMPLETE_MARKER).write_text("")
        if target.exists():
            shutil.rmtree(target)
        os.replace(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return target


def resolve_run_dir(run_dir: str | os.PathLike[str]) -> Path:
    """The run directory a notebook writes to, created if needed (``figures/``, ``tables/`` too)."""
    path = Path(run_dir)
    for sub in ("", "figures", "tables"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path
