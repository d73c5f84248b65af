"""Cost of the perturbation explanations (Kernel SHAP, LIME, occlusion) in 2D and 3D.

DESIGN's target: perturbation work is batched and its cost is counted in model evaluations.
This benchmark reports, per method, the model evaluations of one explanation, its seconds,
the evaluations per second it achieves, and how much of its time the model's forward passes
took: the rest is the method's own overhead (composing the perturbed inputs, shap's and
lime's bookkeeping and regressions, painting the maps).

Cases (batch of one, 1 channel; `radxai.explain.explain` with target 1 of the single-logit
model and output="probability", the 3D COVID-19 work's explained output):
    2d: cnn2d at width 0.25 on a 224 x 224 chest X-ray phantom (`radxai.data.phantoms`,
        seed 0); SLIC superpixels (n_segments 50); batches of 32.
    3d: cnn3d at width 0.25 (valid padding) on a 128 x 128 x 64 CT phantom (seed 0, grade 2,
        HU window [-1000, 400] scaled to [0, 1]); SLIC supervoxels (n_segments 64: the air
        around the body is uniform, so SLIC returns fewer); batches of 8.
Width 0.25: a quarter of the filters keeps the whole benchmark within minutes on two CPU
cores (the full-width 3D model costs about 1.3 s per volume, so a few hundred evaluations
would take most of ten minutes); the methods' overhead does not depend on the width, and the
model-only column shows what the model itself costs.
Methods per case: kernel_shap with samples = 3 S (S the segment count; Kernel SHAP needs
at least 2 (S - 1)), lime with samples = 3 S, occlusion with the baseline "mean" and
2D: patch 32 x 32, stride 16 (13 x 13 = 169 windows); 3D: patch (16, 32, 32) = stride (a
quarter of each axis, 4 x 4 x 4 = 64 windows).

Time: torch.set_num_threads(2); every method is first run once on a small input (imports of
shap, lime and scikit-learn, allocator warm-up); each explanation is then timed once (they
run for tens of seconds, so one run is a stable measure, and more would not fit the budget).
The segments are computed before the timed explanations (SLIC's seconds are reported apart),
and are passed to kernel_shap and lime. The model's share is measured inside the same run, by
forward hooks timing every call of the model (so a shared machine's changing load falls on
both parts alike). The load average before and after is recorded.

Engines: each explanation is timed twice, with the model's forward passes in PyTorch (the
columns above) and in ONNX Runtime (engine "onnxruntime"; the session is exported and checked
against PyTorch once per case before the timed runs, its seconds reported apart). Reported: the
ONNX Runtime seconds, their ratio to PyTorch's, and the maximum |difference| of the two maps.

Results go to bench/results/perturbation.json; `run` returns the markdown table.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from radxai.data.phantoms import ct_phantom, cxr_phantom
from radxai.explain import explain
from radxai.explain.backends import detect_backend
from radxai.explain.engines import use_engine
from radxai.explain.segments import segment_counts, slic_segments
from radxai.models import build

RESULTS = Path(__file__).parent / "results" / "perturbation.json"
THREADS = 2
TARGET = 1
OUTPUT = "probability"
SAMPLES_PER_SEGMENT = 3
# case: (architecture, arguments, input shape, SLIC segments, batch size, occlusion patch
# and stride)
CASES: dict[str, tuple[str, dict, tuple[int, ...], int, int, tuple[int, ...], tuple[int, ...]]] = {
    "2d": (
        "cnn2d",
        {"width": 0.25, "in_channels": 1},
        (1, 1, 224, 224),
        50,
        32,
        (32, 32),
        (16, 16),
    ),
    "3d": (
        "cnn3d",
        {"width": 0.25, "padding": "valid"},
        (1, 1, 64, 128, 128),
        64,
        8,
        (16, 32, 32),
        (16, 32, 32),
    ),
}
METHODS = ("kernel_shap", "lime", "occlusion")


def build_case(case: str) -> tuple[nn.Module, np.ndarray]:
    """The model (eval mode, seeded initialisation) and the phantom input of a case."""
    architecture, arguments, shape, *_ = CASES[case]
    torch.manual_seed(0)
    model = build(architecture, **arguments).eval()
    if len(shape) == 4:
        image = cxr_phantom(seed=0, shape=shape[2:]).image
    else:
        hu = ct_phantom(seed=0, shape=shape[2:], grade=2).hu
        image = (np.clip(hu, -1000.0, 400.0) + 1000.0) / 1400.0
    return model, image.astype(np.float32)[None, None]


def method_options(case: str, segments: np.ndarray) -> dict[str, dict]:
    """The options of every method for a case (see the module docstring)."""
    *_, batch_size, patch, stride = CASES[case]
    samples = SAMPLES_PER_SEGMENT * int(segment_counts(segments[None])[0])
    common = {"output": OUTPUT, "batch_size": batch_size}
    return {
        "kernel_shap": {"segments": segments, "samples": samples, "seed": 0, **common},
        "lime": {"segments": segments, "samples": samples, "seed": 0, **common},
        "occlusion": {
            "patch_size": patch,
            "stride": stride,
            "baseline": "mean",
            **common,
        },
    }


def warm_up() -> None:
    """Run every method once on a tiny model and input, so that imports are not timed."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 1)).eval()
    x = np.random.default_rng(0).random((1, 1, 16, 16)).astype(np.float32)
    segments = np.arange(256).reshape(16, 16) // 64
    explain(model, x, "kernel_shap", segments=segments, samples=8)
    explain(model, x, "lime", segments=segments, samples=8)
    explain(model, x, "occlusion", patch_size=8, stride=8)


@contextmanager
def model_timer(model: nn.Module) -> Iterator[list[float]]:
    """Within the block, the returned list collects the seconds of every forward call of
    `model` (hooks on the model itself; removed on exit)."""
    seconds: list[float] = []
    started: list[float] = []

    def before(module: nn.Module, inputs: object) -> None:
        started.append(time.perf_counter())

    def after(module: nn.Module, inputs: object, output: object) -> None:
        seconds.append(time.perf_counter() - started.pop())

    handles = [model.register_forward_pre_hook(before), model.register_forward_hook(after)]
    try:
        yield seconds
    finally:
        for handle in handles:
            handle.remove()


def measure_case(case: str) -> dict:
    """Segments and every method's cost for one case."""
    architecture, arguments, shape, n_segments, batch_size, *_ = CASES[case]
    model, x = build_case(case)
    started = time.perf_counter()
    segments = slic_segments(x, n_segments=n_segments)[0]
    slic_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with use_engine("onnxruntime"):
        detect_backend(model).scores(x, TARGET)
    export_seconds = time.perf_counter() - started
    methods = {}
    for method, options in method_options(case, segments).items():
        with model_timer(model) as model_seconds, use_engine("torch"):
            result = explain(model, x, method, target=TARGET, **options)
        with use_engine("onnxruntime"):
            onnxruntime_result = explain(model, x, method, target=TARGET, **options)
        methods[method] = {
            "onnxruntime_seconds": onnxruntime_result.seconds,
            "onnxruntime_to_torch": onnxruntime_result.seconds / result.seconds,
            "onnxruntime_max_abs_map_difference": float(np.abs(onnxruntime_result.heatmaps - result.heatmaps).max()),
            "options": {name: value for name, value in options.items() if name != "segments"},
            "model_evaluations": result.model_evaluations,
            "seconds": result.seconds,
            "evaluations_per_second": result.model_evaluations / result.seconds,
            "model_calls": len(model_seconds),
            "model_seconds": sum(model_seconds),
            "overhead_share": 1 - sum(model_seconds) / result.seconds,
            "map_max": float(result.heatmaps.max()),
        }
    return {
        "model": architecture,
        "arguments": arguments,
        "input_shape": list(shape),
        "slic": {
            "n_segments": n_segments,
            "segments": int(segment_counts(segments[None])[0]),
            "seconds": slic_seconds,
        },
        "batch_size": batch_size,
        "onnxruntime_export_seconds": export_seconds,
        "methods": methods,
    }


def run() -> str:
    """Measure every case, write bench/results/perturbation.json, return the markdown table."""
    torch.set_num_threads(THREADS)
    load_before = os.getloadavg()
    warm_up()
    cases = {case: measure_case(case) for case in CASES}
    report = {
        "description": __doc__.split("\n\n")[0],
        "threads": THREADS,
        "target": TARGET,
        "output": OUTPUT,
        "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor_count": os.cpu_count(),
        "cases": cases,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return table(report)


def table(report: dict) -> str:
    """Markdown table: one row per case and method."""
    load = report["load_average_1_5_15_min"]
    lines = [
        "One explanation per row (segments given, SLIC timed apart); eval/s = model "
        "evaluations per second of the explanation; model s = its time in the model's "
        "forward calls; overhead = the share of the time outside them. Load average "
        f"before/after: {load['before'][0]:.1f} / {load['after'][0]:.1f} on "
        f"{report['processor_count']} processors, {report['threads']} torch threads.",
        "",
        "| case | method | segments (SLIC s) | batch | model evaluations (calls) "
        "| s per explanation | eval/s | model s | overhead | s, ONNX Runtime | / PyTorch "
        "| max map difference |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, result in report["cases"].items():
        slic = result["slic"]
        for method, measured in result["methods"].items():
            segments = "-" if method == "occlusion" else f"{slic['segments']} ({slic['seconds']:.2f})"
            lines.append(
                f"| {case} {tuple(result['input_shape'])} | {method} | {segments} "
                f"| {result['batch_size']} "
                f"| {measured['model_evaluations']} ({measured['model_calls']}) "
                f"| {measured['seconds']:.1f} | {measured['evaluations_per_second']:.2f} "
                f"| {measured['model_seconds']:.1f} | {measured['overhead_share']:.1%} "
                f"| {measured['onnxruntime_seconds']:.1f} | {measured['onnxruntime_to_torch']:.2f} "
                f"| {measured['onnxruntime_max_abs_map_difference']:.1e} |"
            )
        lines.append(
            f"| {case} | export to ONNX and check | | | | {result['onnxruntime_export_seconds']:.1f} | | | | | | |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
