"""A run killed with SIGKILL at random points resumes to the outputs of an uninterrupted run.

`make test-faults` (not part of `make test`: it runs the smoke profile about twice, 10-15 minutes
on two cores). One uninterrupted `radxai reproduce --profile smoke` gives the reference outputs and
each notebook's duration. A second run is then killed `KILLS` times: each kill point is a notebook
(drawn with probability proportional to its duration, so every part of the run can be hit) and a
moment inside it (a uniform fraction of its duration); the run is resumed with `--resume` after
every kill, and once more at the end to completion. SIGKILL goes to the whole process group, the
reproduce process and its Jupyter kernel together, as a power cut or the kernel OOM killer would
leave it: nothing gets to clean up.

Compared: every file the notebooks write for a reader (tables/, figures/, heatmaps/), byte for
byte. Not compared: the executed notebooks (timestamps), cache/ (training histories hold
seconds) and timings/. Written: faults/output/kill_and_resume.json with every kill (where it was
aimed, which notebook was running when it landed, seconds into the run) and the comparison.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = Path(__file__).resolve().parent / "output"
KILLS = 10
SEED = 0
COMPARED_FOLDERS = ("tables", "figures", "heatmaps")
RUN_RECORD = "run.json"
COMPLETE_MARKER = ".complete"


def _reproduce(runs_root: Path, *arguments: str) -> subprocess.Popen:
    command = [str(Path(sys.executable).parent / "radxai"), "reproduce", "--runs", str(runs_root), *arguments]
    # A new session: the kill below reaches the kernel papermill started too.
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _record(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / RUN_RECORD).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _running_notebook(run_dir: Path) -> str | None:
    return next(
        (name for name, entry in _record(run_dir).get("notebooks", {}).items() if entry.get("status") == "running"),
        None,
    )


def _only_run_directory(runs_root: Path, timeout: float = 120.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        folders = [path for path in runs_root.iterdir() if (path / RUN_RECORD).is_file()]
        if folders:
            return folders[0]
        time.sleep(0.2)
    raise TimeoutError(f"no run directory appeared under {runs_root}")


def _compared_files(run_dir: Path) -> dict[str, bytes]:
    return {
        path.relative_to(run_dir).as_posix(): path.read_bytes()
        for folder in COMPARED_FOLDERS
        for path in sorted((run_dir / folder).rglob("*"))
        if path.is_file()
    }


def _kill_group(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _wait_until_running(process: subprocess.Popen, run_dir: Path, notebook: str) -> bool:
    """True once `notebook` runs; False if the run finished or went past it first."""
    while process.poll() is None:
        record = _record(run_dir)
        entry = record.get("notebooks", {}).get(notebook, {})
        if entry.get("status") == "running":
            return True
        if entry.get("status") == "completed":
            return False
        time.sleep(0.1)
    return False


def test_a_run_killed_ten_times_resumes_to_the_uninterrupted_outputs(tmp_path):
    reference_root, killed_root = tmp_path / "uninterrupted", tmp_path / "killed"
    reference_root.mkdir(), killed_root.mkdir()
    started = time.monotonic()
    assert _reproduce(reference_root, "--profile", "smoke").wait() == 0
    reference_seconds = time.monotonic() - started
    reference_dir = _only_run_directory(reference_root)
    durations = {name: entry["seconds"] for name, entry in _record(reference_dir)["notebooks"].items()}
    expected = _compared_files(reference_dir)
    assert expected, f"the uninterrupted run wrote nothing under {COMPARED_FOLDERS}"

    generator = random.Random(SEED)
    names = sorted(durations)
    targets = sorted(
        (generator.choices(names, weights=[durations[name] for name in names])[0], generator.random())
        for _ in range(KILLS)
    )
    kills = []
    process = _reproduce(killed_root, "--profile", "smoke")
    run_dir = _only_run_directory(killed_root)
    run_started = time.monotonic()
    for notebook, fraction in targets:
        if _wait_until_running(process, run_dir, notebook):
            time.sleep(fraction * durations[notebook])
        landed_in = _running_notebook(run_dir)
        if process.poll() is not None:
            break
        _kill_group(process)
        kills.append(
            {
                "aimed_at": notebook,
                "fraction_of_its_duration": round(fraction, 3),
                "running_when_killed": landed_in,
                "seconds_into_the_run": round(time.monotonic() - run_started, 1),
            }
        )
        process = _reproduce(killed_root, "--resume", str(run_dir))
    assert process.wait() == 0, f"the last resume of {run_dir} failed"
    killed_seconds = time.monotonic() - run_started

    final = _record(run_dir)
    produced = _compared_files(run_dir)
    differing = sorted(name for name in expected.keys() & produced.keys() if expected[name] != produced[name])
    missing, extra = sorted(expected.keys() - produced.keys()), sorted(produced.keys() - expected.keys())
    # Hidden files other than the cache's completion markers: temporaries of writes a kill cut short.
    leftovers = sorted(
        path.relative_to(run_dir).as_posix()
        for path in run_dir.rglob(".*")
        if path.is_file() and path.name != COMPLETE_MARKER
    )
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "kill_and_resume.json").write_text(
        json.dumps(
            {
                "kills": kills,
                "resumed": final.get("resumed"),
                "status": final.get("status"),
                "uninterrupted_seconds": round(reference_seconds, 1),
                "killed_run_seconds": round(killed_seconds, 1),
                "compared_files": len(expected),
                "differing": differing,
                "missing": missing,
                "extra": extra,
                "hidden_files_left": leftovers,
            },
            indent=1,
        )
    )

    assert len(kills) == KILLS, f"only {len(kills)} kills landed before the run finished: {kills}"
    assert len({kill["running_when_killed"] for kill in kills}) >= 3, kills
    assert final["status"] == "completed" and final["resumed"] == KILLS
    assert not missing and not extra and not differing, (missing, extra, differing)
