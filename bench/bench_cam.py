"""Cost of Grad-CAM and HiResCAM relative to the model's own passes, in 2D and 3D.

The target (DESIGN, "Targets"): a CAM costs at most 1.1x the model's forward pass on the same
input, and never more than 1.15x its forward+backward pass; its peak memory stays within a
small multiple of the model's forward+backward footprint.

Cases (batch of one, 1 channel, the models' full width):
    2d: cnn2d (width 1), a 224 x 224 radiograph, input (1, 1, 224, 224)
    3d: cnn3d (width 1, valid padding), a 128 x 128 x 64 CT volume, input (1, 1, 64, 128, 128)
Kinds measured per case:
    forward            model(x) under torch.no_grad(), eval mode: the baseline of the 1.1x
    forward_backward   model(x)[:, 0].sum().backward() with parameter gradients, eval mode
    gradcam, hirescam  radxai.explain.explain(model, x, method, target=0), at the model's
                       cam_layer, everything included (input checks, interpolation to the
                       input size, normalisation)

Time: torch.set_num_threads(2); one warm-up of every kind, then a case's number of rounds,
each timing every kind once in a rotated order (so a shared machine's changing load falls on
all kinds alike). Reported per kind: the median and the minimum; ratios are ratios of medians
(the target's measure) and of minima (the least disturbed runs: on a busy machine, other
processes only ever add time, so this is the steadier estimate of the method's own cost). The
load average before and after is recorded, since two threads on a loaded two-core machine
wait for each other on every operation.

Memory: tracemalloc does not see torch's allocator, so each (case, kind) runs in a fresh
subprocess that builds the model and input, then runs the kind once. It reports the peak
resident set size of the process (peak MiB) and the pass's own share of it (pass MiB = peak
during the pass minus the resident size just before it: what the pass needed on top of the
imported libraries, the model and the input). On Linux the peak is VmHWM of
/proc/self/status, reset just before the pass (``echo 5 > /proc/self/clear_refs``);
``getrusage``'s ru_maxrss cannot be used there, because a child process inherits the maximum
of its parent (the benchmark runner, large after timing the 3D case). Elsewhere ru_maxrss of
the child is the fallback, with that caveat.

Results go to bench/results/cam.json; `run` returns the markdown table.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from radxai.explain import explain
from radxai.models import build

RESULTS = Path(__file__).parent / "results" / "cam.json"
THREADS = 2
# case: (architecture, arguments, input shape, timing rounds); the cheaper 2D passes get more
# rounds, as short runs suffer more from a shared machine's noise.
CASES: dict[str, tuple[str, dict, tuple[int, ...], int]] = {
    "2d": ("cnn2d", {"width": 1.0, "in_channels": 1}, (1, 1, 224, 224), 15),
    "3d": ("cnn3d", {"width": 1.0, "padding": "valid"}, (1, 1, 64, 128, 128), 7),
}
KINDS = ("forward", "forward_backward", "gradcam", "hirescam")
METHODS = ("gradcam", "hirescam")
TARGET_FORWARD_RATIO = 1.1
TARGET_FORWARD_BACKWARD_RATIO = 1.15


def build_case(case: str) -> tuple[nn.Module, torch.Tensor]:
    """The model (eval mode, seeded initialisation) and a seeded input of a case."""
    architecture, arguments, shape, _ = CASES[case]
    torch.manual_seed(0)
    model = build(architecture, **arguments).eval()
    return model, torch.randn(*shape, generator=torch.Generator().manual_seed(1))


def runner(kind: str, model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """A function running one pass of `kind` on the model and input."""

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        model(x)[:, 0].sum().backward()

    def cam() -> None:
        explain(model, x, kind, target=0)

    return {"forward": forward, "forward_backward": forward_backward}.get(kind, cam)


def time_case(case: str) -> dict[str, list[float]]:
    """Seconds per pass of every kind for one case, one value per round (after a warm-up)."""
    model, x = build_case(case)
    runs = {kind: runner(kind, model, x) for kind in KINDS}
    for run_once in runs.values():
        run_once()
    seconds: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for round_index in range(CASES[case][3]):
        shift = round_index % len(KINDS)
        for kind in KINDS[shift:] + KINDS[:shift]:
            started = time.perf_counter()
            runs[kind]()
            seconds[kind].append(time.perf_counter() - started)
    return seconds


def peak_memory(case: str, kind: str) -> dict[str, float]:
    """Peak RSS (MiB) of a fresh process running one pass of `kind`, and the pass's share."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.bench_cam", "--memory", case, kind],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _measure_memory_here(case: str, kind: str) -> dict[str, float]:
    """Run inside the subprocess of `peak_memory` (see the module docstring)."""
    torch.set_num_threads(THREADS)
    model, x = build_case(case)
    run_once = runner(kind, model, x)
    status = Path("/proc/self/status")
    if status.exists():
        before = _status_mib(status, "VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # peak resident size := current
        run_once()
        peak = _status_mib(status, "VmHWM")
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB
        run_once()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"peak_mib": round(peak, 1), "increase_mib": round(peak - before, 1)}


def _status_mib(status: Path, field: str) -> float:
    """A "Field:   1234 kB" line of /proc/self/status, in MiB."""
    for line in status.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise KeyError(f"{field} not in {status}")


def measure_case(case: str) -> dict:
    """Times, memory and ratios of one case (the "cases" entries of cam.json)."""
    architecture, arguments, shape, rounds = CASES[case]
    seconds = time_case(case)
    median = {kind: statistics.median(values) for kind, values in seconds.items()}
    minimum = {kind: min(values) for kind, values in seconds.items()}
    memory = {kind: peak_memory(case, kind) for kind in KINDS}
    ratios = {
        method: {
            "to_forward": median[method] / median["forward"],
            "to_forward_backward": median[method] / median["forward_backward"],
            "best_to_forward": minimum[method] / minimum["forward"],
            "best_to_forward_backward": minimum[method] / minimum["forward_backward"],
            "memory_to_forward_backward": memory[method]["increase_mib"] / memory["forward_backward"]["increase_mib"],
        }
        for method in METHODS
    }
    return {
        "model": architecture,
        "arguments": arguments,
        "input_shape": list(shape),
        "rounds": rounds,
        "seconds": seconds,
        "median_seconds": median,
        "min_seconds": minimum,
        "memory": memory,
        "ratios": ratios,
    }


def run() -> str:
    """Measure every case, write bench/results/cam.json, return the markdown table."""
    torch.set_num_threads(THREADS)
    load_before = os.getloadavg()
    cases = {case: measure_case(case) for case in CASES}
    report = {
        "description": __doc__.split("\n\n")[0],
        "threads": THREADS,
        "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor_count": os.cpu_count(),
        "targets": {
            "to_forward": TARGET_FORWARD_RATIO,
            "to_forward_backward": TARGET_FORWARD_BACKWARD_RATIO,
        },
        "cases": cases,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return table(report)


def table(report: dict) -> str:
    """Markdown table: one row per case and method, times, ratios (median and best) against
    the targets, and the memory of each pass."""
    lines = [
        "Median seconds over the rounds; ratios of medians (best: of minima); MiB: peak "
        "resident size, and each pass's own increase (CAM, forward, forward+backward). "
        f"Load average before/after: {report['load_average_1_5_15_min']['before'][0]:.1f} / "
        f"{report['load_average_1_5_15_min']['after'][0]:.1f} on "
        f"{report['processor_count']} processors, {report['threads']} torch threads.",
        "",
        "| case | method | s | fwd s | fwd+bwd s | / fwd (<= 1.1) | best / fwd "
        "| / fwd+bwd (<= 1.15) | best / fwd+bwd | peak MiB | pass MiB | fwd MiB | fwd+bwd MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, result in report["cases"].items():
        median, memory = result["median_seconds"], result["memory"]
        for method in METHODS:
            ratios = result["ratios"][method]
            lines.append(
                f"| {case} {tuple(result['input_shape'])} | {method} | {median[method]:.3f} "
                f"| {median['forward']:.3f} | {median['forward_backward']:.3f} "
                f"| {ratios['to_forward']:.3f} | {ratios['best_to_forward']:.3f} "
                f"| {ratios['to_forward_backward']:.3f} "
                f"| {ratios['best_to_forward_backward']:.3f} "
                f"| {memory[method]['peak_mib']:.0f} | {memory[method]['increase_mib']:.0f} "
                f"| {memory['forward']['increase_mib']:.0f} "
                f"| {memory['forward_backward']['increase_mib']:.0f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--memory":
        print(json.dumps(_measure_memory_here(sys.argv[2], sys.argv[3])))
    else:
        print(run())
