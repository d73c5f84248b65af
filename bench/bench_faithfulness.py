"""Cost of batched deletion curves on a CT volume, and the same curve by Quantus PixelFlipping.

Case: cnn3d at width 0.25 (filters 16, 16, 32, 64; dense 128; valid padding, the source
work's layout), seeded, eval mode, one 128 x 128 x 64 volume, input (1, 1, 64, 128, 128),
2^20 voxels; target class 1 (probability sigmoid(logit)); zero baseline; the map is
`random_heatmaps` (continuous values, no ties, so every library orders the voxels the same).
Width 0.25 keeps a run near half a minute on two cores; the full network (width 1) costs
about 6x more per forward pass, and since the model's passes are almost all of a curve's cost,
its ratios stay close to those reported here.

Kinds measured:
    model_passes_50    the model's own passes of a 50-step curve and nothing else, under
                       torch.no_grad(): the volume once, then 50 volumes in batches of
                       `BATCH_SIZE` (the last one smaller), on a prepared batch. The floor of
                       radxai_50; radxai_50 / model_passes_50 is what building the perturbed
                       volumes, ordering the voxels and the bookkeeping add.
    radxai_50          radxai.evaluate.faithfulness.deletion_curve, 50 steps, batches of
                       BATCH_SIZE perturbed volumes (51 evaluations)
    radxai_64          the same with 64 steps (65 evaluations)
    onnxruntime_50     radxai_50 with the forward passes in ONNX Runtime (engine
                       "onnxruntime"; the session is exported and checked against PyTorch
                       before the timed rounds, and the export's seconds are reported apart)
    onnxruntime_64     the same with 64 steps
    quantus_64         quantus.PixelFlipping with features_in_step = 2^20 / 64 = 16384 voxels,
                       perturb_baseline 0.0, no normalisation or absolute value, on the model
                       followed by a sigmoid (softmax=False), so it scores the same
                       probability. Quantus asks features_in_step to divide the voxel count,
                       which 50 steps of 2^20 voxels cannot, hence the comparison at 64 steps.
                       Quantus perturbs the batch of samples in place step by step and runs
                       one model call per step (64 evaluations: it does not score the
                       unperturbed input), so a single volume is never batched.
The 64-step curves are compared point by point (max |difference|, steps 1..64), Quantus's and
ONNX Runtime's against radxai's PyTorch curve.

Time: torch.set_num_threads(2); one warm-up pass of the model, then `ROUNDS` rounds, each
timing every kind once in a rotated order. Reported per kind: median and minimum seconds; model
evaluations per second (from the median); ratios of medians and of minima (quantus_64 /
radxai_64, radxai_50 / its floor; on a busy machine other processes only add time, so the
minima are the steadier estimate). Quantus is imported optionally: where it is not installed the table says so. Its
import is not timed (it imports TensorFlow when present).

Results go to bench/results/faithfulness.json; `run` returns the markdown table.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.timing import interleaved_rounds
from radxai.evaluate.faithfulness import deletion_curve, random_heatmaps
from radxai.explain.engines import use_engine
from radxai.models import build
from radxai.models.keras_backend import TENSORFLOW_SETTINGS

RESULTS = Path(__file__).parent / "results" / "faithfulness.json"
THREADS = 2
ROUNDS = 3
WIDTH = 0.25
INPUT_SHAPE = (1, 1, 64, 128, 128)
STEPS = 50
QUANTUS_STEPS = 64
BATCH_SIZE = 8
TARGET = 1


def build_case() -> tuple[nn.Module, np.ndarray, np.ndarray]:
    """The model (eval mode, seeded), the volume and its map."""
    torch.manual_seed(0)
    model = build("cnn3d", width=WIDTH, padding="valid").eval()
    volume = np.random.default_rng(1).standard_normal(INPUT_SHAPE).astype(np.float32)
    return model, volume, random_heatmaps(volume, seed=2)


def load_quantus() -> tuple[Any, str]:
    """(the quantus module or None, its version or why it is missing)."""
    # Quantus imports TensorFlow when it is installed: quietly, as radxai imports it.
    for name, value in TENSORFLOW_SETTINGS.items():
        os.environ.setdefault(name, value)
    try:
        import quantus
    except ImportError as error:
        return None, f"not installed ({error.name or error})"
    return quantus, importlib.metadata.version("quantus")


def runners(
    model: nn.Module, volume: np.ndarray, heatmaps: np.ndarray, quantus: Any
) -> dict[str, Callable[[], dict[str, Any]]]:
    """A function per kind running it once and returning its evaluations (and curve)."""
    prepared = torch.from_numpy(np.repeat(volume, BATCH_SIZE, axis=0))
    batch_sizes = [1] + [min(BATCH_SIZE, STEPS - start) for start in range(0, STEPS, BATCH_SIZE)]

    def model_passes() -> dict[str, Any]:
        with torch.no_grad():
            for size in batch_sizes:
                model(prepared[:size])
        return {"evaluations": sum(batch_sizes)}

    def radxai(steps: int, engine: str = "torch") -> Callable[[], dict[str, Any]]:
        def run_curve() -> dict[str, Any]:
            with use_engine(engine):
                curve = deletion_curve(
                    model, volume, heatmaps, target=TARGET, steps=steps, baseline="zero", batch_size=BATCH_SIZE
                )
            return {"evaluations": curve.model_evaluations, "curve": curve.scores[0]}

        return run_curve

    kinds = {
        "model_passes_50": model_passes,
        "radxai_50": radxai(STEPS),
        "radxai_64": radxai(QUANTUS_STEPS),
        "onnxruntime_50": radxai(STEPS, "onnxruntime"),
        "onnxruntime_64": radxai(QUANTUS_STEPS, "onnxruntime"),
    }
    if quantus is not None:
        voxels = math.prod(INPUT_SHAPE[2:])
        metric = quantus.PixelFlipping(
            features_in_step=voxels // QUANTUS_STEPS,
            perturb_baseline=0.0,
            normalise=False,
            abs=False,
            disable_warnings=True,
            display_progressbar=False,
        )
        probability = nn.Sequential(model, nn.Sigmoid()).eval()

        def quantus_64() -> dict[str, Any]:
            curves = metric(
                model=probability,
                x_batch=volume,
                y_batch=np.array([0]),
                a_batch=heatmaps[:, None],
                channel_first=True,
                softmax=False,
                device="cpu",
                batch_size=1,
            )
            return {"evaluations": QUANTUS_STEPS, "curve": np.asarray(curves[0])}

        kinds["quantus_64"] = quantus_64
    return kinds


def measure() -> dict[str, Any]:
    """Seconds, evaluations and curves of every kind (the "kinds" entries of the JSON)."""
    model, volume, heatmaps = build_case()
    quantus, quantus_version = load_quantus()
    kinds = runners(model, volume, heatmaps, quantus)
    with torch.no_grad():
        model(torch.from_numpy(volume))
    # The sessions (one per input shape: the volume alone, a full batch, the last batch) are
    # exported and checked once, as any run's first curve would; timed apart.
    started = time.perf_counter()
    kinds["onnxruntime_50"]()
    kinds["onnxruntime_64"]()
    export_seconds = time.perf_counter() - started
    seconds, outputs = interleaved_rounds(kinds, ROUNDS)
    median = {kind: statistics.median(values) for kind, values in seconds.items()}
    results: dict[str, Any] = {}
    for kind in kinds:
        evaluations = outputs[kind]["evaluations"]
        entry = {
            "seconds": seconds[kind],
            "median_seconds": median[kind],
            "min_seconds": min(seconds[kind]),
            "evaluations": evaluations,
            "evaluations_per_second": evaluations / median[kind],
        }
        results[kind] = entry
    results["radxai_50"]["to_floor"] = median["radxai_50"] / median["model_passes_50"]
    results["radxai_50"]["best_to_floor"] = min(seconds["radxai_50"]) / min(seconds["model_passes_50"])
    comparison: dict[str, Any] = {
        "quantus": quantus_version,
        "onnxruntime_to_torch": median["onnxruntime_50"] / median["radxai_50"],
        "best_onnxruntime_to_torch": min(seconds["onnxruntime_50"]) / min(seconds["radxai_50"]),
        "onnxruntime_first_curves_seconds": export_seconds,
        "onnxruntime_max_abs_curve_difference": float(
            np.max(np.abs(outputs["onnxruntime_64"]["curve"] - outputs["radxai_64"]["curve"]))
        ),
    }
    if quantus is not None:
        ours, theirs = outputs["radxai_64"]["curve"][1:], outputs["quantus_64"]["curve"]
        comparison.update(
            {
                "ratio_quantus_to_radxai": median["quantus_64"] / median["radxai_64"],
                "ratio_onnxruntime_to_quantus": median["onnxruntime_64"] / median["quantus_64"],
                "best_ratio_quantus_to_radxai": min(seconds["quantus_64"]) / min(seconds["radxai_64"]),
                "max_abs_curve_difference": float(np.max(np.abs(ours - theirs))),
            }
        )
    return {"kinds": results, "comparison": comparison}


def run() -> str:
    """Measure, write bench/results/faithfulness.json, return the markdown table."""
    torch.set_num_threads(THREADS)
    load_before = os.getloadavg()
    measured = measure()
    report = {
        "description": __doc__.split("\n\n")[0],
        "model": "cnn3d",
        "arguments": {"width": WIDTH, "padding": "valid"},
        "input_shape": list(INPUT_SHAPE),
        "steps": STEPS,
        "quantus_steps": QUANTUS_STEPS,
        "batch_size": BATCH_SIZE,
        "baseline": "zero",
        "rounds": ROUNDS,
        "threads": THREADS,
        "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor_count": os.cpu_count(),
        **measured,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return table(report)


def table(report: dict[str, Any]) -> str:
    """Markdown table: one row per kind, with the Quantus comparison below it."""
    load = report["load_average_1_5_15_min"]
    lines = [
        f"Deletion on cnn3d (width {report['arguments']['width']}), input "
        f"{tuple(report['input_shape'])}, zero baseline, batches of {report['batch_size']}; "
        f"median and minimum seconds over {report['rounds']} rounds; floor = the model's own "
        f"passes of the 50-step curve. Load average before/after: "
        f"{load['before'][0]:.1f} / {load['after'][0]:.1f} on {report['processor_count']} "
        f"processors, {report['threads']} torch threads.",
        "",
        "| kind | s (median) | s (min) | evaluations | evaluations/s | / floor | best / floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, entry in report["kinds"].items():
        to_floor = f"{entry['to_floor']:.3f}" if "to_floor" in entry else ""
        best = f"{entry['best_to_floor']:.3f}" if "best_to_floor" in entry else ""
        lines.append(
            f"| {kind} | {entry['median_seconds']:.2f} | {entry['min_seconds']:.2f} "
            f"| {entry['evaluations']} | {entry['evaluations_per_second']:.2f} | {to_floor} "
            f"| {best} |"
        )
    comparison = report["comparison"]
    lines.append("")
    lines.append(
        f"ONNX Runtime / PyTorch, 50-step curve: {comparison['onnxruntime_to_torch']:.3f} (medians), "
        f"{comparison['best_onnxruntime_to_torch']:.3f} (minima); max |curve difference| "
        f"{comparison['onnxruntime_max_abs_curve_difference']:.2e}; the first two curves, which "
        f"export and check the sessions, took {comparison['onnxruntime_first_curves_seconds']:.1f} s."
    )
    if "ratio_quantus_to_radxai" in comparison:
        lines.append(
            f"Quantus {comparison['quantus']} PixelFlipping / radxai at {report['quantus_steps']} "
            f"steps: {comparison['ratio_quantus_to_radxai']:.3f} (medians), "
            f"{comparison['best_ratio_quantus_to_radxai']:.3f} (minima); max |curve difference| "
            f"{comparison['max_abs_curve_difference']:.2e}. radxai with ONNX Runtime / Quantus: "
            f"{comparison['ratio_onnxruntime_to_quantus']:.3f} (medians)."
        )
    else:
        lines.append(f"Quantus: {comparison['quantus']}; no comparison.")
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
