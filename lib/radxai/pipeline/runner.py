"""Papermill runs of the numbered notebooks into run directories, with their run record (run.json)."""

from __future__ import annotations

import datetime as _datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radxai.pipeline.files import RUN_RECORD, output_hashes, read_json_record, write_json_atomically
from radxai.pipeline.profiles import load_profile, notebook_parameters, seeds_of, with_overrides

DEFAULT_KERNEL = "radxai"

# Recorded in run.json; the exact pins live in requirements.txt.
RECORDED_PACKAGES = (
    "radxai",
    "torch",
    "tensorflow-cpu",
    "keras",
    "numpy",
    "scipy",
    "scikit-image",
    "scikit-learn",
    "nibabel",
    "pydicom",
    "shap",
    "lime",
    "papermill",
    "nbval",
    "matplotlib",
    "pandas",
)


class NotebookSelectionError(ValueError):
    """An ``--only`` selection that matches no notebook, or a notebooks folder with none."""


class RunDirectoryError(RuntimeError):
    """A run directory that cannot be resumed (missing or unreadable run.json)."""


class NotebookFailure(RuntimeError):
    """A notebook that raised during a run.

    Attributes: ``notebook`` (file name), ``cell`` (execution count shown as ``In [n]``),
    ``error_name``, ``error_value``, ``output`` (the partly executed notebook, kept on disk).
    """

    def __init__(
        self, notebook: str, cell: int | None, error_name: str, error_value: str, output: Path, cell_source: str = ""
    ) -> None:
        self.notebook = notebook
        self.cell = cell
        self.error_name = error_name
        self.error_value = error_value
        self.output = output
        self.cell_source = cell_source
        first_line = cell_source.strip().splitlines()[0] if cell_source.strip() else ""
        where = f"cell In [{cell}]" if cell is not None else "an unknown cell"
        super().__init__(
            f"notebook {notebook} failed at {where}"
            + (f" ({first_line!r})" if first_line else "")
            + f": {error_name}: {error_value}. The partly executed notebook is kept at {output}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its fields when it travels between processes (a Dask worker's failed seed).
        return (
            type(self),
            (self.notebook, self.cell, self.error_name, self.error_value, self.output, self.cell_source),
        )


# ---------------------------------------------------------------------------- notebooks


def list_notebooks(notebooks_dir: Path, only: Iterable[str] | None = None) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) of ``notebooks_dir`` in order.

    ``only`` keeps the notebooks whose number or stem is listed (``["01", "03"]``); a listed
    entry that matches nothing raises ``NotebookSelectionError`` naming it.
    """
    notebooks = sorted(
        path for path in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb") if not path.name.endswith(".partial.ipynb")
    )
    if not notebooks:
        raise NotebookSelectionError(f"no numbered notebooks (NN_name.ipynb) in {notebooks_dir}")
    if only is None:
        return notebooks
    wanted = [entry.strip() for entry in only if entry.strip()]
    selected = []
    for entry in wanted:
        matches = [nb for nb in notebooks if nb.stem == entry or nb.stem.split("_", 1)[0] == entry]
        if not matches:
            names = ", ".join(nb.stem for nb in notebooks)
            raise NotebookSelectionError(f"--only {entry!r} matches no notebook; notebooks: {names}")
        selected.extend(match for match in matches if match not in selected)
    return sorted(selected)


def declared_parameters(notebook: Path) -> set[str]:
    """Names declared in the notebook's cell tagged ``parameters``."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)).keys())


# --------------------------------------------------------------------- run directories


def new_run_directory(runs_root: Path, profile: str, now: _datetime.datetime | None = None) -> Path:
    """Create and return a fresh ``runs_root/<YYYYmmdd-HHMMSS>-<profile>/``.

    Never reuses an existing directory: a clash within the same second gets ``-2``, ``-3``...
    """
    stamp = (now or _datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    runs_root = Path(runs_root)
    runs_root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        suffix = "" if attempt == 1 else f"-{attempt}"
        candidate = runs_root / f"{stamp}-{profile}{suffix}"
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RunDirectoryError(f"could not create a new run directory under {runs_root}")


def git_commit(directory: Path) -> dict[str, Any]:
    """The git commit of ``directory`` and whether the work tree has uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}


def package_versions(names: Iterable[str] = RECORDED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names``; a package that is not installed is recorded as such."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# ----------------------------------------------------------------------------- running


@dataclass
class RunSettings:
    """Where a run reads from and writes to, and how notebooks are executed."""

    notebooks_dir: Path
    params_dir: Path
    runs_root: Path
    kernel_name: str | None = DEFAULT_KERNEL
    progress: Callable[[str], None] = lambda line: print(line, flush=True)


def machine_description() -> str:
    """CPU count, memory and processor of this machine, e.g. "2 CPU cores, 24 GiB, x86_64"."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        memory_text = f"{memory:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory_text = "memory unknown"
    return f"{os.cpu_count()} CPU cores, {memory_text}, {platform.machine() or 'unknown processor'}"


def _execute(notebook: Path, output: Path, parameters: dict[str, Any], settings: RunSettings) -> None:
    from papermill.exceptions import PapermillExecutionError

    from radxai.execution import execute_notebook

    try:
        execute_notebook(notebook, output, parameters, kernel_name=settings.kernel_name, report=settings.progress)
    except PapermillExecutionError as error:
        raise NotebookFailure(
            notebook.name, error.exec_count, error.ename, error.evalue, output, error.source
        ) from error


def _start_record(profile: Mapping[str, Any], settings: RunSettings) -> dict[str, Any]:
    return {
        "profile": profile["name"],
        "profile_description": profile["description"],
        "status": "running",
        "started": _datetime.datetime.now().isoformat(timespec="seconds"),
        "finished": None,
        "git": git_commit(settings.notebooks_dir),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": machine_description(),
        "packages": package_versions(),
        "profile_parameters": profile["parameters"],
        "profile_notebook_overrides": profile["notebooks"],
        "notebooks": {},
        "outputs": {},
    }


def reproduce(
    profile_name: str,
    settings: RunSettings,
    only: Iterable[str] | None = None,
    run_dir: Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    label: str | None = None,
) -> Path:
    """Execute the notebooks on a profile into a new run directory; return that directory.

    ``overrides`` replace profile parameters for this run (recorded in run.json, so a resume keeps
    them); ``label`` names the run directory ``<timestamp>-<label>`` (default: the profile's name).
    ``run_dir`` given means *resume*: its run.json supplies the profile and the notebooks already
    completed are skipped. On a failure the run.json says which notebook and cell failed,
    everything written so far stays, and ``NotebookFailure`` is raised.
    """
    if run_dir is None:
        profile = with_overrides(load_profile(profile_name, settings.params_dir), overrides or {})
        notebooks = list_notebooks(settings.notebooks_dir, only)
        run_dir = new_run_directory(settings.runs_root, label or profile["name"])
        record = _start_record(profile, settings)
        record["parameter_overrides"] = dict(overrides or {})
        record["selected_notebooks"] = [nb.name for nb in notebooks]
    else:
        run_dir = Path(run_dir)
        record = read_run_record(run_dir)
        profile = {
            "name": record["profile"],
            "description": record["profile_description"],
            "parameters": record["profile_parameters"],
            "notebooks": record["profile_notebook_overrides"],
        }
        selected = set(record.get("selected_notebooks") or [])
        notebooks = [nb for nb in list_notebooks(settings.notebooks_dir) if not selected or nb.name in selected]
        gone = sorted(selected - {notebook.name for notebook in notebooks})
        if gone:
            raise RunDirectoryError(
                f"cannot resume {run_dir}: the run selected {', '.join(gone)}, which "
                f"{settings.notebooks_dir} no longer has"
            )
        record["status"] = "running"
        record["resumed"] = record.get("resumed", 0) + 1
    record_path = run_dir / RUN_RECORD
    write_json_atomically(record, record_path)

    run_started = time.perf_counter()
    for position, notebook in enumerate(notebooks, start=1):
        entry = record["notebooks"].get(notebook.name, {})
        if entry.get("status") == "completed" and (run_dir / notebook.name).is_file():
            settings.progress(f"[{position}/{len(notebooks)}] {notebook.stem}: already completed, skipped")
            continue
        parameters = notebook_parameters(profile, notebook.stem)
        declared = declared_parameters(notebook)
        parameters = {key: value for key, value in parameters.items() if key in declared}
        if "run_dir" in declared:
            parameters["run_dir"] = str(run_dir.resolve())
        output = run_dir / notebook.name
        settings.progress(f"[{position}/{len(notebooks)}] {notebook.stem}: running ...")
        started = time.perf_counter()
        entry = {"status": "running", "parameters": parameters, "seeds": seeds_of(parameters), "output": notebook.name}
        record["notebooks"][notebook.name] = entry
        write_json_atomically(record, record_path)
        try:
            _execute(notebook, output, parameters, settings)
        except (Exception, KeyboardInterrupt) as error:
            # A dead kernel, an interrupt or a papermill error must still leave run.json saying
            # which notebook failed, so that --resume knows where to continue.
            failure = (
                error
                if isinstance(error, NotebookFailure)
                else NotebookFailure(notebook.name, None, type(error).__name__, str(error), output)
            )
            entry.update(
                status="failed",
                seconds=round(time.perf_counter() - started, 2),
                error={
                    "cell": failure.cell,
                    "name": failure.error_name,
                    "value": failure.error_value,
                    "source": failure.cell_source,
                },
            )
            record.update(
                status="failed",
                failed_notebook=notebook.name,
                finished=_datetime.datetime.now().isoformat(timespec="seconds"),
                outputs=output_hashes(run_dir),
            )
            write_json_atomically(record, record_path)
            settings.progress(f"[{position}/{len(notebooks)}] {notebook.stem}: FAILED: {failure}")
            if failure is error:
                raise
            raise failure from error
        seconds = time.perf_counter() - started
        entry.update(status="completed", seconds=round(seconds, 2))
        record["outputs"] = output_hashes(run_dir)
        write_json_atomically(record, record_path)
        settings.progress(
            f"[{position}/{len(notebooks)}] {notebook.stem}: done in {seconds:.1f} s "
            f"(run so far {time.perf_counter() - run_started:.1f} s)"
        )
    record.update(
        status="completed",
        failed_notebook=None,
        finished=_datetime.datetime.now().isoformat(timespec="seconds"),
        outputs=output_hashes(run_dir),
    )
    write_json_atomically(record, record_path)
    return run_dir


# What --resume needs from run.json: the profile to run with and what is done.
_RESUMABLE_KEYS = ("profile", "profile_description", "profile_parameters", "profile_notebook_overrides", "notebooks")


def read_run_record(run_dir: Path) -> dict[str, Any]:
    """The run.json of ``run_dir``; ``RunDirectoryError`` naming the directory if absent or broken."""
    path = Path(run_dir) / RUN_RECORD
    record = read_json_record(path, RunDirectoryError, f"cannot resume {run_dir}")
    missing = [key for key in _RESUMABLE_KEYS if not isinstance(record, dict) or key not in record]
    if missing:
        raise RunDirectoryError(
            f"cannot resume {run_dir}: {path} is not a run record of radxai reproduce (no {', '.join(missing)})"
        )
    return record
