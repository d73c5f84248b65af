"""Seed sweeps: one profile run once per seed, and the spread of every measurement across the seeds.

A run's bootstrap intervals say how much a number would move with other test cases; they do not
say how much it moves when the data are drawn and the models trained again. `reproduce_seeds`
runs the profile once per seed, each a complete run directory (``seed-<k>/``) inside the sweep's
folder, with the profile's ``seed`` parameter replaced: on the synthetic default that seed draws
the phantoms, the split, the weight initialisation, the batch order and the bootstrap resamples;
on a real dataset (fixed files) it changes the split and the training. `aggregate_seeds` then
writes ``tables/measurements_across_seeds.csv``: per measurement the mean, the standard
deviation across seeds beside the mean width of the seeds' own intervals, the extremes, and each
seed's value with its interval.

On one machine the runs go one after another: each run's notebooks already use every core, so
running seeds side by side would only make each slower. Given a Dask scheduler address, each seed
is one task (papermill inside the worker); the workers must see the same files (a shared file
system), and each worker should have a machine's cores to itself (``--nthreads 1`` per machine).
"""

from __future__ import annotations

import datetime as _datetime
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radxai import pipeline
from radxai.report import MEASUREMENT_KEY, read_measurements

__all__ = [
    "ACROSS_SEEDS_FILE",
    "SWEEP_RECORD",
    "SeedSweepError",
    "aggregate_seeds",
    "parse_seeds",
    "read_sweep_record",
    "reproduce_seeds",
]

SWEEP_RECORD = "sweep.json"
ACROSS_SEEDS_FILE = "measurements_across_seeds.csv"


class SeedSweepError(RuntimeError):
    """A sweep that cannot run or be aggregated; the message names the seed, folder or file."""


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"0,1,2"``: distinct non-negative integers, in the order given.

    Raises
    ------
    ValueError
        Nothing given, a part that is not a non-negative integer, or a seed given twice.
    """
    parts = [part.strip() for part in str(text).split(",") if part.strip()]
    if not parts:
        raise ValueError(f"no seed in {text!r}: give comma-separated integers, e.g. 0,1,2")
    seeds = []
    for part in parts:
        if not part.isdigit():
            raise ValueError(f"seed {part!r} in {text!r} is not a non-negative integer")
        seeds.append(int(part))
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise ValueError(f"seed {repeated[0]} is given twice in {text!r}: each seed runs once")
    return seeds


def _run_seed(
    profile_name: str,
    notebooks_dir: str,
    params_dir: str,
    kernel_name: str | None,
    seed: int,
    only: list[str] | None,
    sweep_dir: str,
    progress: Callable[[str], None] | None = None,
) -> str:
    """One seed's complete run inside ``sweep_dir``; its folder name. As a Dask task it gets plain
    arguments only and prints its progress lines (``progress`` None) into the worker's log."""
    report = progress or (lambda line: print(line, flush=True))
    settings = pipeline.RunSettings(
        notebooks_dir=Path(notebooks_dir),
        params_dir=Path(params_dir),
        runs_root=Path(sweep_dir),
        kernel_name=kernel_name,
        progress=lambda line: report(f"seed {seed} · {line}"),
    )
    run_dir = pipeline.reproduce(profile_name, settings, only, overrides={"seed": seed}, label=f"seed-{seed}")
    return run_dir.name


def reproduce_seeds(
    profile_name: str,
    settings: pipeline.RunSettings,
    seeds: Sequence[int],
    *,
    only: Iterable[str] | None = None,
    scheduler: str | None = None,
    scheduler_timeout: float = 10.0,
) -> Path:
    """Run profile ``profile_name`` once per seed into a new ``runs/<timestamp>-<profile>-seeds/``;
    aggregate the measurements across the seeds that completed; return the sweep's folder.

    Each seed's run is an ordinary run directory (resumable with ``radxai reproduce --resume``).
    ``sweep.json`` records the profile, the seeds and each run's folder and status as they finish.
    A seed whose run fails is recorded as failed and the other seeds still run; the sweep then
    raises `SeedSweepError` naming the failed seeds, after aggregating the ones that completed.

    Parameters
    ----------
    profile_name : str
        A profile of ``settings.params_dir``.
    settings : RunSettings
        Where notebooks and profiles are read; the sweep's folder is made in ``settings.runs_root``.
    seeds : sequence of int
        Distinct seeds, at least one.
    only : iterable of str, keyword-only
        Notebook numbers or names, as for `radxai.pipeline.reproduce`.
    scheduler : str, keyword-only
        Address of a running Dask scheduler: one task per seed there. None: one after another here.
    scheduler_timeout : float, keyword-only
        Seconds to wait for the scheduler to answer.
    """
    seeds = [int(seed) for seed in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one; got {seeds}")
    profile = pipeline.load_profile(profile_name, settings.params_dir)
    only = None if only is None else list(only)
    pipeline.list_notebooks(settings.notebooks_dir, only)  # an unknown notebook fails before any run
    client = None
    if scheduler is not None:
        from radxai.cluster import SchedulerUnreachableError, dask_client

        try:
            client, _ = dask_client(workers=0, scheduler=scheduler, timeout=scheduler_timeout)
        except SchedulerUnreachableError as error:
            raise SeedSweepError(f"sweep of profile {profile['name']!r} not started: {error}") from error
    try:
        sweep_dir = pipeline.new_run_directory(settings.runs_root, f"{profile['name']}-seeds")
        record = {
            "profile": profile["name"],
            "seeds": seeds,
            "only": only,
            "status": "running",
            "started": _datetime.datetime.now().isoformat(timespec="seconds"),
            "finished": None,
            "runs": {str(seed): {"status": "pending"} for seed in seeds},
        }
        _write_record(sweep_dir, record)
    except BaseException:
        if client is not None:
            client.close()
        raise
    arguments = (str(settings.notebooks_dir), str(settings.params_dir), settings.kernel_name)

    def finished(seed: int, folder: str | None, error: BaseException | None) -> None:
        entry = (
            {"status": "completed", "run": folder}
            if error is None
            else {
                "status": "failed",
                "run": _run_folder_of(sweep_dir, seed),
                "error": f"{type(error).__name__}: {error}",
            }
        )
        record["runs"][str(seed)] = entry
        _write_record(sweep_dir, record)
        settings.progress(f"seed {seed}: {entry['status']}" + (f" ({entry['error']})" if error else ""))

    try:
        if client is None:
            for seed in seeds:
                settings.progress(f"seed {seed}: running ...")
                try:
                    folder = _run_seed(profile["name"], *arguments, seed, only, str(sweep_dir), settings.progress)
                except pipeline.NotebookFailure as error:
                    if isinstance(error.__cause__, KeyboardInterrupt):
                        raise  # an interrupt stops the sweep, not only this seed
                    finished(seed, None, error)
                else:
                    finished(seed, folder, None)
        else:
            _run_on_scheduler(client, profile["name"], arguments, seeds, only, sweep_dir, finished)
    except BaseException as error:
        # An interrupt, a lost scheduler or an error outside the notebooks: sweep.json says so,
        # with what had finished, instead of "running".
        record.update(
            status="interrupted",
            error=f"{type(error).__name__}: {error}",
            finished=_datetime.datetime.now().isoformat(timespec="seconds"),
        )
        _write_record(sweep_dir, record)
        raise
    completed = [seed for seed in seeds if record["runs"][str(seed)]["status"] == "completed"]
    if completed:
        aggregate_seeds(sweep_dir)
    failed = [seed for seed in seeds if seed not in completed]
    record.update(
        status="completed" if not failed else "failed", finished=_datetime.datetime.now().isoformat(timespec="seconds")
    )
    _write_record(sweep_dir, record)
    if failed:
        runs = ", ".join(f"seed {seed}: {record['runs'][str(seed)].get('run') or 'no run folder'}" for seed in failed)
        raise SeedSweepError(
            f"sweep {sweep_dir}: {len(failed)} of {len(seeds)} seeds failed ({runs}); "
            f"resume each with `radxai reproduce --resume {sweep_dir}/<run folder>`, then "
            f"`radxai aggregate-seeds {sweep_dir}`"
        )
    return sweep_dir


def _run_on_scheduler(
    client: Any,
    profile_name: str,
    arguments: tuple[Any, ...],
    seeds: Sequence[int],
    only: list[str] | None,
    sweep_dir: Path,
    finished: Callable[[int, str | None, BaseException | None], None],
) -> None:
    from distributed import as_completed

    try:
        futures = {
            client.submit(
                _run_seed,
                profile_name,
                *arguments,
                seed,
                only,
                str(sweep_dir),
                key=f"radxai-seed-{seed}-{sweep_dir.name}",
                pure=False,
            ): seed
            for seed in seeds
        }
        for future in as_completed(futures):
            seed = futures[future]
            if future.status == "finished":
                finished(seed, future.result(), None)
            elif future.status == "error":
                finished(seed, None, future.exception())
            else:  # cancelled, or lost with the scheduler
                finished(seed, None, RuntimeError(f"the task of seed {seed} ended {future.status}"))
    finally:
        client.close()


def _run_folder_of(sweep_dir: Path, seed: int) -> str | None:
    """The folder a seed's run made in the sweep (found by its label), None if it never started."""
    folders = sorted(path.name for path in sweep_dir.glob(f"*-seed-{seed}") if path.is_dir())
    return folders[-1] if folders else None


def _write_record(sweep_dir: Path, record: dict[str, Any]) -> None:
    pipeline.write_json_atomically(record, sweep_dir / SWEEP_RECORD)


def read_sweep_record(sweep_dir: str | Path) -> dict[str, Any]:
    """The ``sweep.json`` of ``sweep_dir``; `SeedSweepError` naming the folder if absent or broken."""
    path = Path(sweep_dir) / SWEEP_RECORD
    record = pipeline.read_json_record(path, SeedSweepError, f"{sweep_dir} is not a seed sweep")
    if not isinstance(record, dict) or not isinstance(record.get("runs"), dict):
        raise SeedSweepError(f"{path} is not a seed sweep record (no 'runs' mapping)")
    return record


def aggregate_seeds(sweep_dir: str | Path) -> pd.DataFrame:
    """Write and return ``sweep_dir/tables/measurements_across_seeds.csv``: one row per measurement.

    Columns: the measurement key (experiment, work, reference, metric, setting); ``seeds`` (the
    seeds that measured it, e.g. "0,1,2") and ``seed_count``; ``mean``, ``standard_deviation``
    across seeds (sample, ddof = 1; empty for one seed), ``minimum``, ``maximum``;
    ``mean_interval_width`` (the mean of the seeds' own CI widths, empty where no seed gave one),
    so that the spread across seeds stands beside the spread a single run reports; and
    ``per_seed`` ("0: 0.91 [0.85, 0.95]; 1: ..."). Rows are sorted by the key.

    Every seed whose run record says completed is read again from its folder, so the table can be
    remade after a failed seed was resumed.

    Raises
    ------
    SeedSweepError
        No completed seed, or a completed seed's folder without its measurements table.
    """
    sweep_dir = Path(sweep_dir)
    record = read_sweep_record(sweep_dir)
    frames = []
    for seed_text, entry in record["runs"].items():
        folder = entry.get("run") or _run_folder_of(sweep_dir, int(seed_text))
        if folder is None or not _run_completed(sweep_dir / folder):
            continue
        measurements_path = sweep_dir / folder / "tables" / "measurements.csv"
        if not measurements_path.is_file():
            raise SeedSweepError(
                f"seed {seed_text}: {measurements_path} is missing; its run completed without measurements"
            )
        frames.append(read_measurements(sweep_dir / folder).assign(seed=int(seed_text)))
    if not frames:
        raise SeedSweepError(f"sweep {sweep_dir}: no seed's run has completed, nothing to aggregate")
    table = _across_seeds(pd.concat(frames, ignore_index=True))
    folder = sweep_dir / "tables"
    folder.mkdir(exist_ok=True)
    temporary = folder / f".{ACROSS_SEEDS_FILE}.partial"
    table.to_csv(temporary, index=False, float_format="%.6g", lineterminator="\n")
    temporary.replace(folder / ACROSS_SEEDS_FILE)
    return table


def _run_completed(run_dir: Path) -> bool:
    try:
        return pipeline.read_run_record(run_dir).get("status") == "completed"
    except pipeline.RunDirectoryError:
        return False


def _across_seeds(measurements: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for key, group in measurements.groupby(list(MEASUREMENT_KEY), sort=True, dropna=False):
        group = group.sort_values("seed")
        values = group["value"].to_numpy(dtype=float)
        widths = (group["ci_high"] - group["ci_low"]).to_numpy(dtype=float)
        rows.append(
            {
                **dict(zip(MEASUREMENT_KEY, key)),
                "seeds": ",".join(str(seed) for seed in group["seed"]),
                "seed_count": len(group),
                "mean": float(np.mean(values)),
                "standard_deviation": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
                "minimum": float(np.min(values)),
                "maximum": float(np.max(values)),
                "mean_interval_width": float(np.nanmean(widths)) if np.isfinite(widths).any() else math.nan,
                "per_seed": "; ".join(_seed_text(row) for row in group.itertuples(index=False)),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            *MEASUREMENT_KEY,
            "seeds",
            "seed_count",
            "mean",
            "standard_deviation",
            "minimum",
            "maximum",
            "mean_interval_width",
            "per_seed",
        ],
    )


def _seed_text(row: Any) -> str:
    interval = f" [{row.ci_low:.3g}, {row.ci_high:.3g}]" if np.isfinite(row.ci_low) and np.isfinite(row.ci_high) else ""
    return f"{row.seed}: {row.value:.3g}{interval}"
