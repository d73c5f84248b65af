"""Papermill runs of the numbered notebooks, and the load-or-build cache the notebooks share.

A *profile* (``params/<name>.yaml``) holds the parameters of one run size::

    description: what this profile is for
    parameters:          # given to every notebook that declares them in its `parameters` cell
      seed: 0
      ct_shape: [32, 64, 64]
    notebooks:           # optional per-notebook overrides, keyed by notebook stem
      03_cam_3d: {n_volumes: 4}
    seeds: [0, 1, 2]     # optional: one run per seed and the spread across them (radxai.seed_sweep)

``reproduce`` executes the notebooks in order into a new ``runs/<timestamp>-<profile>/``:
executed notebooks, whatever the notebooks write (figures/, tables/, heatmaps/, data/) and
``run.json`` (git commit, package versions, parameters, seeds, timings, sha256 of every output).
A run directory is never reused for a new run; a failed run keeps everything done so far and
``resume`` continues it.
"""

from __future__ import annotations

import datetime as _datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RUN_RECORD = "run.json"
CACHE_FOLDER = "cache"
COMPLETE_MARKER = ".complete"
DEFAULT_KERNEL = "radxai"

# Recorded in run.json; the exact pins live in requirements.txt.
RECORDED_PACKAGES = (
    "radxai", "torch", "tensorflow-cpu", "keras", "numpy", "scipy", "scikit-image",
    "scikit-learn", "nibabel", "pydicom", "shap", "lime", "papermill", "nbval",
    "matplotlib", "pandas",
)


class ProfileError(ValueError):
    """A profile name that has no YAML file, or a profile file that is malformed."""


class NotebookSelectionError(ValueError):
    """An ``--only`` selection that matches no notebook, or a notebooks folder with none."""


class RunDirectoryError(RuntimeError):
    """A run directory that cannot be resumed (missing or unreadable run.json)."""


class NotebookFailure(RuntimeError):
    """A notebook that raised during a run.

    Attributes: ``notebook`` (file name), ``cell`` (execution count shown as ``In [n]``),
    ``error_name``, ``error_value``, ``output`` (the partly executed notebook, kept on disk).
    """

    def __init__(self, notebook: str, cell: int | None, error_name: str, error_value: str,
                 output: Path, cell_source: str = "") -> None:
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
        return (type(self), (self.notebook, self.cell, self.error_name, self.error_value, self.output,
                             self.cell_source))


# ----------------------------------------------------------------------------- profiles

def available_profiles(params_dir: Path) -> list[str]:
    """Names of the profiles in ``params_dir`` (the stems of its ``*.yaml`` files), sorted."""
    return sorted(path.stem for path in Path(params_dir).glob("*.yaml"))


def load_profile(name: str, params_dir: Path) -> dict[str, Any]:
    """Read profile ``name`` from ``params_dir/<name>.yaml``.

    Returns ``{"name", "description", "seeds", "parameters": {...}, "notebooks": {stem: {...}}}``;
    ``seeds`` is the profile's optional list of seeds for a sweep (`radxai.seed_sweep`), else None.
    Raises ``ProfileError`` naming the profile and listing the available ones if it is unknown,
    or naming the file if its content is not a profile.
    """
    path = Path(params_dir) / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_profiles(params_dir)) or "none"
        raise ProfileError(f"unknown profile {name!r}: no {path}; available profiles: {known}")
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ProfileError(f"profile file {path} is not valid YAML: {error}") from error
    if not isinstance(content, dict) or not isinstance(content.get("parameters", {}), dict):
        raise ProfileError(f"profile file {path} must be a mapping with a 'parameters' mapping")
    notebooks = content.get("notebooks") or {}
    if not isinstance(notebooks, dict):
        raise ProfileError(f"profile file {path}: 'notebooks' must map notebook names to parameters")
    seeds = content.get("seeds")
    if seeds is not None and (not isinstance(seeds, list) or not seeds
                              or not all(isinstance(seed, int) and seed >= 0 for seed in seeds)
                              or len(set(seeds)) != len(seeds)):
        raise ProfileError(f"profile file {path}: 'seeds' must be a list of distinct non-negative integers "
                           f"(one run per seed); got {seeds!r}")
    return {
        "name": name,
        "description": content.get("description", ""),
        "seeds": seeds,
        "parameters": dict(content.get("parameters") or {}),
        "notebooks": {str(stem): dict(values or {}) for stem, values in notebooks.items()},
    }


def notebook_parameters(profile: Mapping[str, Any], notebook_stem: str) -> dict[str, Any]:
    """The profile's parameters for one notebook: shared parameters, then its own overrides."""
    merged = dict(profile["parameters"])
    merged.update(profile["notebooks"].get(notebook_stem, {}))
    return merged


def seeds_of(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that are seeds (their name contains ``seed``), for run.json."""
    return {key: value for key, value in parameters.items() if "seed" in key.lower()}


# ---------------------------------------------------------------------------- notebooks

def list_notebooks(notebooks_dir: Path, only: Iterable[str] | None = None) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) of ``notebooks_dir`` in order.

    ``only`` keeps the notebooks whose number or stem is listed (``["01", "03"]``); a listed
    entry that matches nothing raises ``NotebookSelectionError`` naming it.
    """
    notebooks = sorted(
        path for path in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")
        if not path.name.endswith(".partial.ipynb")
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

def new_run_directory(runs_root: Path, profile: str,
                      now: _datetime.datetime | None = None) -> Path:
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


def git_commit(directory: Path) -> dict[str, Any]:
    """The git commit of ``directory`` and whether the work tree has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True,
                              check=True).stdout.strip()
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
        execute_notebook(notebook, output, parameters, kernel_name=settings.kernel_name,
                         report=settings.progress)
    except PapermillExecutionError as error:
        raise NotebookFailure(notebook.name, error.exec_count, error.ename, error.evalue,
                              output, error.source) from error


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


def with_overrides(profile: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``profile`` with ``overrides`` replacing its shared parameters and any per-notebook value
    of the same names (an override given for the whole run wins everywhere, e.g. a sweep's seed)."""
    return {**profile, "parameters": {**profile["parameters"], **overrides},
            "notebooks": {stem: {key: value for key, value in values.items() if key not in overrides}
                          for stem, values in profile["notebooks"].items()}}


def reproduce(profile_name: str, settings: RunSettings, only: Iterable[str] | None = None,
              run_dir: Path | None = None, *, overrides: Mapping[str, Any] | None = None,
              label: str | None = None) -> Path:
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
        profile = {"name": record["profile"], "description": record["profile_description"],
                   "parameters": record["profile_parameters"],
                   "notebooks": record["profile_notebook_overrides"]}
        selected = set(record.get("selected_notebooks") or [])
        notebooks = [nb for nb in list_notebooks(settings.notebooks_dir)
                     if not selected or nb.name in selected]
        gone = sorted(selected - {notebook.name for notebook in notebooks})
        if gone:
            raise RunDirectoryError(f"cannot resume {run_dir}: the run selected {', '.join(gone)}, which "
                                    f"{settings.notebooks_dir} no longer has")
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
        entry = {"status": "running", "parameters": parameters, "seeds": seeds_of(parameters),
                 "output": notebook.name}
        record["notebooks"][notebook.name] = entry
        write_json_atomically(record, record_path)
        try:
            _execute(notebook, output, parameters, settings)
        except (Exception, KeyboardInterrupt) as error:
            # A dead kernel, an interrupt or a papermill error must still leave run.json saying
            # which notebook failed, so that --resume knows where to continue.
            failure = error if isinstance(error, NotebookFailure) else NotebookFailure(
                notebook.name, None, type(error).__name__, str(error), output)
            entry.update(status="failed", seconds=round(time.perf_counter() - started, 2),
                         error={"cell": failure.cell, "name": failure.error_name,
                                "value": failure.error_value, "source": failure.cell_source})
            record.update(status="failed", failed_notebook=notebook.name,
                          finished=_datetime.datetime.now().isoformat(timespec="seconds"),
                          outputs=output_hashes(run_dir))
            write_json_atomically(record, record_path)
            settings.progress(f"[{position}/{len(notebooks)}] {notebook.stem}: FAILED: {failure}")
            if failure is error:
                raise
            raise failure from error
        seconds = time.perf_counter() - started
        entry.update(status="completed", seconds=round(seconds, 2))
        record["outputs"] = output_hashes(run_dir)
        write_json_atomically(record, record_path)
        settings.progress(f"[{position}/{len(notebooks)}] {notebook.stem}: done in {seconds:.1f} s "
                          f"(run so far {time.perf_counter() - run_started:.1f} s)")
    record.update(status="completed", failed_notebook=None,
                  finished=_datetime.datetime.now().isoformat(timespec="seconds"),
                  outputs=output_hashes(run_dir))
    write_json_atomically(record, record_path)
    return run_dir


# What --resume needs from run.json: the profile to run with and what is done.
_RESUMABLE_KEYS = ("profile", "profile_description", "profile_parameters", "profile_notebook_overrides",
                   "notebooks")


def read_json_record(path: Path, error_type: type[Exception], context: str) -> Any:
    """The JSON content of ``path``; ``error_type("<context>: ...")`` naming the file if it is
    absent or not valid JSON."""
    if not path.is_file():
        raise error_type(f"{context}: it has no {path.name}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise error_type(f"{context}: {path} is not valid JSON ({error})") from error


def read_run_record(run_dir: Path) -> dict[str, Any]:
    """The run.json of ``run_dir``; ``RunDirectoryError`` naming the directory if absent or broken."""
    path = Path(run_dir) / RUN_RECORD
    record = read_json_record(path, RunDirectoryError, f"cannot resume {run_dir}")
    missing = [key for key in _RESUMABLE_KEYS if not isinstance(record, dict) or key not in record]
    if missing:
        raise RunDirectoryError(f"cannot resume {run_dir}: {path} is not a run record of radxai "
                                f"reproduce (no {', '.join(missing)})")
    return record


# --------------------------------------------------------------------- load-or-build cache

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
        return sorted((path for folder in folders for path in folder.rglob("*.py")),
                      key=lambda path: path.as_posix())
    return [Path(module.__file__)]


def load_or_build(run_dir: Path, kind: str, parameters: Mapping[str, Any],
                  build: Callable[[Path], None], code: Iterable[Any] = ()) -> Path:
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
        write_json_atomically({"kind": kind, "parameters": dict(parameters)},
                              building / "parameters.json")
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


# ---------------------------------------------------------------- shared notebook inputs

def synthetic_ct_dataset(run_dir: Path, count: int, shape: Iterable[int], seed: int,
                         confounder: str | None = None, confounder_strength: float = 0.9,
                         grade_shares: Iterable[float] = (0.5, 0.125, 0.125, 0.125, 0.125),
                         involvement_range: Iterable[float] | None = None,
                         lesion_free_twins: bool = False) -> Path:
    """The folder of a synthetic CT dataset (MosMedData layout) in ``run_dir``, built once.

    Any notebook that asks with the same parameters gets the same folder, so notebooks share
    the data within a run and each one still runs alone. ``involvement_range`` and
    ``lesion_free_twins`` make a positive-control set (see
    ``radxai.data.datasets.write_synthetic_ct``).
    """
    import radxai.data
    from radxai.data import datasets

    parameters = {"count": int(count), "shape": [int(size) for size in shape], "seed": int(seed),
                  "confounder": confounder, "confounder_strength": float(confounder_strength),
                  "grade_shares": [float(share) for share in grade_shares]}
    # Only when asked for, so the keys (and caches) of the other synthetic sets stay as they were.
    if involvement_range is not None:
        parameters["involvement_range"] = [float(value) for value in involvement_range]
    if lesion_free_twins:
        parameters["lesion_free_twins"] = True
    return load_or_build(
        run_dir, "synthetic-ct", parameters,
        lambda folder: datasets.write_synthetic_ct(folder, **parameters),
        code=(radxai.data,),
    )


def synthetic_cxr_dataset(run_dir: Path, count: int, shape: Iterable[int], seed: int,
                          prevalence: float = 0.3, normal_share: float = 0.4,
                          confounder: str | None = None,
                          confounder_label: str = "Cardiomegaly",
                          confounder_strength: float = 0.9) -> Path:
    """The folder of a synthetic chest X-ray dataset (VinDr-CXR layout) in ``run_dir``, built once."""
    import radxai.data
    from radxai.data import datasets

    parameters = {"count": int(count), "shape": [int(size) for size in shape], "seed": int(seed),
                  "prevalence": float(prevalence), "normal_share": float(normal_share),
                  "confounder": confounder,
                  "confounder_label": confounder_label,
                  "confounder_strength": float(confounder_strength)}
    return load_or_build(
        run_dir, "synthetic-cxr", parameters,
        lambda folder: datasets.write_synthetic_cxr(folder, **parameters),
        code=(radxai.data,),
    )


SYNTHETIC = "synthetic"


def dataset_spec(dataset: str, data_root: str | os.PathLike[str] | None, seed: int,
                 **synthetic: Any) -> dict[str, Any]:
    """What a notebook's ``dataset`` and ``data_root`` parameters ask for, as ``model_datasets``
    and ``trained_model`` take it.

    "synthetic" (the default of every notebook) gives the ``synthetic`` arguments with the
    seed (e.g. count and shape of the phantoms); a real dataset name (see
    ``radxai.data.real.dataset_names()``) gives ``{"name", "root", "seed"}``, read from
    ``data_root`` by that dataset's loader, with ``seed`` as its split seed where the dataset
    has no published split. Raises ValueError for an unknown name or a real dataset without
    ``data_root``.
    """
    if dataset == SYNTHETIC:
        return {**synthetic, "seed": seed}
    from radxai.data import real

    if dataset not in real.dataset_names():
        raise ValueError(f"unknown dataset {dataset!r}; use {SYNTHETIC!r} or one of "
                         f"{real.dataset_names()} (manifests in data_manifests/)")
    if data_root is None:
        raise ValueError(f"dataset {dataset!r} needs data_root, the folder of its local copy "
                         f"(check it with `radxai data verify {dataset} --root DIR`)")
    return {"name": dataset, "root": str(Path(data_root).resolve()), "seed": seed}


def _real_records(task: str, dataset: Mapping[str, Any]) -> tuple[list[Any], list[str] | None]:
    """The records of a real dataset and, for X-rays, its class names; ValueError if the
    dataset's task is not ``task``."""
    from radxai.data import real

    name = dataset["name"]
    dataset_task = real.dataset_task(name)
    if dataset_task != task.split("-")[0]:
        raise ValueError(f"dataset {name!r} is a {dataset_task!r} dataset; this step needs a "
                         f"{task!r} dataset")
    records = real.load_dataset(name, dataset["root"], split_seed=int(dataset.get("seed", 0)),
                                allow_incomplete=bool(dataset.get("allow_incomplete", False)))
    return records, (real.dataset_class_names(name) if dataset_task == "cxr" else None)


def model_datasets(run_dir: Path, task: str, dataset: Mapping[str, Any],
                   input_shape: Iterable[int]) -> dict[str, Any]:
    """The train/val/test model-input datasets of a task, keyed by split.

    ``dataset`` is a ``dataset_spec``: the synthetic arguments below, or a real dataset's
    ``{"name", "root", "seed"}``, read by its loader (its own splits where published; a copy
    short of the published file counts is refused unless the spec has
    ``"allow_incomplete": True``).

    ``task`` is ``"ct"`` (``dataset`` are the ``synthetic_ct_dataset`` arguments; inputs
    (1, D, H, W) resized to ``input_shape``), ``"cxr"`` (``synthetic_cxr_dataset`` arguments;
    inputs (1, H, W), multi-label targets) or ``"ct-slices"`` (``synthetic_ct_dataset``
    arguments plus ``volume_shape``, ``view`` and ``slices_per_study``: 2D slices of the CT
    studies resized to ``input_shape``, labelled by whether they show a lesion; see
    `radxai.data.ct_slices.CTSliceDataset`).
    """
    from radxai.data import ct_slices, datasets

    shape = tuple(int(size) for size in input_shape)
    if task not in ("ct", "ct-slices", "cxr"):
        raise ValueError(f"unknown task {task!r}: use 'ct', 'ct-slices' or 'cxr'")
    slicing = {name: dataset[name] for name in ("volume_shape", "view", "slices_per_study")
               if task == "ct-slices"}
    source = {name: value for name, value in dataset.items() if name not in slicing}
    class_names = None
    if "name" in source:
        records, class_names = _real_records(task, source)
    elif task == "cxr":
        records = datasets.read_cxr_images(synthetic_cxr_dataset(run_dir, **source))
    else:
        records = datasets.read_ct_studies(synthetic_ct_dataset(run_dir, **source))
    by_split = {split: [record for record in records if record.split == split]
                for split in datasets.SPLITS}
    if task == "ct-slices":
        return {split: ct_slices.CTSliceDataset(studies, slice_shape=shape, **slicing)
                for split, studies in by_split.items()}
    if task == "ct":
        return {split: datasets.CTVolumeDataset(studies, shape=shape)
                for split, studies in by_split.items()}
    return {split: datasets.CXRImageDataset(images, shape=shape, class_names=class_names)
            for split, images in by_split.items()}


def trained_model(run_dir: Path, task: str, dataset: Mapping[str, Any], input_shape: Iterable[int],
                  architecture: str, arguments: Mapping[str, Any], fit: Mapping[str, Any],
                  augment_degrees: float = 0.0) -> Path:
    """The checkpoint of a PyTorch model trained on a synthetic task, trained once per run.

    Keyed by every argument (and the source of the data, model and training code), so notebooks
    asking for the same model share one checkpoint. The folder also holds ``history.json``.
    Load it with ``radxai.models.load``.
    """
    from radxai import models, train

    parameters = {"task": task, "dataset": dict(dataset), "input_shape": list(input_shape),
                  "architecture": architecture, "arguments": dict(arguments), "fit": dict(fit),
                  "augment_degrees": augment_degrees}

    def build(folder: Path) -> None:
        splits = model_datasets(run_dir, task, dataset, input_shape)
        # The initial weights come from the global generators: seed them, or reruns differ.
        train.seed_everything(int(fit.get("seed", 0)))
        model = models.build(architecture, **arguments)
        augmentation = train.random_rotation(augment_degrees) if augment_degrees else None
        history = train.fit(model, splits["train"], splits["val"], train.FitConfig(**fit),
                            checkpoint=folder / "model.pt", augmentation=augmentation)
        _write_history(history, folder)

    folder = load_or_build(run_dir, f"model-{architecture}", parameters, build,
                           code=torch_training_code())
    return folder / "model.pt"


def torch_training_code() -> tuple[Any, ...]:
    """The code whose source keys a cached PyTorch model: the whole data layer (synthetic and
    real loaders), every architecture and checkpoint, and the fit loop. Pass it (plus any of
    your own training code) as ``load_or_build(..., code=...)`` so a change to any of them
    retrains."""
    import radxai.data
    import radxai.models
    from radxai import train

    return (radxai.data, radxai.models, train)


def trained_keras_cnn3d(run_dir: Path, dataset: Mapping[str, Any], input_shape: Iterable[int],
                        arguments: Mapping[str, Any], fit: Mapping[str, Any]) -> Path:
    """The saved Keras 3D CNN trained on the synthetic CT task, once per run.

    Returns the archive path; load it with ``radxai.models.keras_cnn3d.load_keras_cnn3d``.
    """
    from radxai import train
    from radxai.models import keras_cnn3d

    parameters = {"dataset": dict(dataset), "input_shape": list(input_shape),
                  "arguments": dict(arguments), "fit": dict(fit)}

    def build(folder: Path) -> None:
        config = train.FitConfig(**fit)
        splits = model_datasets(run_dir, "ct", dataset, input_shape)
        build_arguments = {"input_shape": list(input_shape), "seed": config.seed, **arguments}
        model = keras_cnn3d.build_keras_cnn3d(**build_arguments)
        history = train.fit_keras(model, splits["train"], splits["val"], config)
        keras_cnn3d.save_keras_cnn3d(model, folder / "model.zip", build_arguments)
        _write_history(history, folder)

    folder = load_or_build(run_dir, "model-keras-cnn3d", parameters, build, code=torch_training_code())
    return folder / "model.zip"


TIMINGS_FILE = "timings.json"


def _write_history(history: Any, folder: Path) -> None:
    """``history.json`` (deterministic) and ``timings.json`` (wall clock) next to a checkpoint."""
    write_json_atomically(history.as_dict(), folder / "history.json")
    write_json_atomically({"epochs": history.timings,
                           "train_samples_per_second": history.samples_per_second()},
                          folder / TIMINGS_FILE)


def training_history(checkpoint: Path) -> dict[str, Any]:
    """The ``history.json`` written next to a checkpoint by ``trained_model``."""
    return json.loads((Path(checkpoint).parent / "history.json").read_text())


def training_timings(checkpoint: Path) -> dict[str, Any]:
    """The wall-clock ``timings.json`` written next to a checkpoint (varies between runs)."""
    return json.loads((Path(checkpoint).parent / TIMINGS_FILE).read_text())
