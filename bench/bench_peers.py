"""radxai's perturbation explanations against the peer libraries, same model, input and settings.

Cases (batch of one, 1 channel, seeded models in eval mode, the explained output is the
single logit of the positive class):
    occlusion_3d   cnn3d at the default profile's width 0.125 (valid padding) on the default CT
                   input (1, 1, 64, 128, 128): a grade-2 phantom, HU window [-1000, 400] scaled
                   to [0, 1]; patch = stride = (16, 32, 32), 64 windows, zero baseline, batches
                   of 8. Kinds: radxai with PyTorch, radxai with ONNX Runtime, captum Occlusion
                   (sliding_window_shapes = strides = (1, 16, 32, 32), baselines 0,
                   perturbations_per_eval 8) and MONAI OcclusionSensitivity (mask_size
                   (16, 32, 32), overlap 0, mode 0.0, activate False, n_batch 8). All four
                   compute drop = f(x) - f(x with the window zeroed) for every voxel of a
                   window (MONAI returns f(x occluded), classes on axis 1, turned into the
                   drop here), so their maps are compared: max |difference| from radxai's
                   PyTorch raw map.
    kernel_shap_2d cnn2d (width 0.25) on a 224 x 224 X-ray phantom, SLIC superpixels
                   (n_segments 50), a removed superpixel takes the image mean, 3 S coalitions
                   (S superpixels), batches of 32. Kinds: radxai (PyTorch, ONNX Runtime) and
                   shap.KernelExplainer called directly (one all-removed background row,
                   nsamples 3 S, the same batch size), the way a user of shap writes it.
                   The coalitions are sampled differently, so no map difference is reported.
    gradcam_3d     the occlusion case's model and volume; Grad-CAM of the positive logit at the
                   model's CAM layer (block4.activation): radxai, captum LayerGradCam
                   (relu_attributions False, so its map is radxai's raw map: compared) and
                   MONAI GradCAM (upsampled and normalised by MONAI: timed only) and
                   pytorch-grad-cam GradCAM (ClassifierOutputTarget(0); min-max scaled and resized
                   with scipy's zoom: timed only), beside the model's forward pass alone (the
                   floor a CAM cannot beat). pytorch-grad-cam needs torchvision, so it is timed
                   when this runs in bench/.venv (`make bench`), with PyPI's torch 2.14.1.
    lime_2d        the same model, image and superpixels; radxai (PyTorch, ONNX Runtime) and
                   lime_image.LimeImageExplainer.explain_instance called directly
                   (segmentation_fn returning the same superpixels, hide_color the image
                   mean, num_samples 3 S, batch_size 32, random_state 0).

Time: torch.set_num_threads(2); every kind runs once untimed (imports, ONNX export and
check), then `ROUNDS` rounds time every kind of a case once in a rotated order. Reported per
kind: median seconds, model evaluations, seconds per evaluation, and the ratio to radxai with
PyTorch and to the peer (medians), with the load average before and after.

Results go to bench/results/peers.json; `run` returns the markdown table.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import os
import platform
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.timing import interleaved_rounds
from radxai.data.phantoms import ct_phantom, cxr_phantom
from radxai.explain import explain
from radxai.explain.engines import use_engine
from radxai.explain.segments import segment_counts, slic_segments
from radxai.models import build

RESULTS = Path(__file__).parent / "results" / "peers.json"
THREADS = 2
ROUNDS = 3
PATCH = (16, 32, 32)
SAMPLES_PER_SEGMENT = 3


def ct_case() -> tuple[nn.Module, np.ndarray]:
    torch.manual_seed(0)
    model = build("cnn3d", width=0.125, padding="valid").eval()
    hu = ct_phantom(seed=0, shape=(64, 128, 128), grade=2).hu
    return model, ((np.clip(hu, -1000.0, 400.0) + 1000.0) / 1400.0).astype(np.float32)[None, None]


def xray_case() -> tuple[nn.Module, np.ndarray, np.ndarray]:
    torch.manual_seed(0)
    model = build("cnn2d", width=0.25, in_channels=1).eval()
    image = cxr_phantom(seed=0, shape=(224, 224)).image.astype(np.float32)[None, None]
    return model, image, slic_segments(image, n_segments=50)[0]


def logit(model: nn.Module, batch: np.ndarray | torch.Tensor) -> np.ndarray:
    """The positive-class logit of every input of a batch, by one PyTorch pass."""
    with torch.no_grad():
        return model(torch.as_tensor(batch)).reshape(-1).numpy()


def radxai_kinds(
    model: nn.Module, x: np.ndarray, method: str, options: dict[str, Any], *, keep_map: bool
) -> dict[str, Callable[[], dict]]:
    """radxai's explanation of ``x`` with PyTorch and with ONNX Runtime running the forward passes;
    ``keep_map`` returns the raw map for comparison with the peers'."""

    def with_engine(engine: str) -> Callable[[], dict]:
        def run_once() -> dict:
            with use_engine(engine):
                result = explain(model, x, method, target=1, **options)
            return {"evaluations": result.model_evaluations, "map": result.raw[0] if keep_map else None}

        return run_once

    return {"radxai (PyTorch)": with_engine("torch"), "radxai (ONNX Runtime)": with_engine("onnxruntime")}


def occlusion_kinds(quiet: Callable) -> tuple[dict[str, Callable[[], dict]], dict[str, str]]:
    model, x = ct_case()
    options = {"patch_size": PATCH, "stride": PATCH, "baseline": "zero", "batch_size": 8}

    kinds = radxai_kinds(model, x, "occlusion", options, keep_map=True)
    versions = {}
    try:
        from captum.attr import Occlusion
    except ImportError as error:
        versions["captum"] = f"not installed ({error.name})"
    else:
        versions["captum"] = importlib.metadata.version("captum")
        occlusion = Occlusion(model)

        def captum_occlusion() -> dict:
            attribution = occlusion.attribute(
                torch.from_numpy(x),
                sliding_window_shapes=(1, *PATCH),
                strides=(1, *PATCH),
                baselines=0.0,
                target=0,
                perturbations_per_eval=8,
            )
            windows = int(np.prod([size // patch for size, patch in zip(x.shape[2:], PATCH)]))
            return {"evaluations": windows + 1, "map": attribution[0, 0].numpy()}

        kinds["captum Occlusion"] = captum_occlusion
    try:
        from monai.visualize import OcclusionSensitivity
    except ImportError as error:
        versions["monai"] = f"not installed ({error.name})"
    else:
        versions["monai"] = importlib.metadata.version("monai")
        sensitivity = OcclusionSensitivity(
            model, mask_size=PATCH, n_batch=8, verbose=False, mode=0.0, overlap=0.0, activate=False
        )

        def monai_occlusion() -> dict:
            with torch.no_grad():
                occluded, _ = quiet(sensitivity, torch.from_numpy(x))
            windows = int(np.prod([size // patch for size, patch in zip(x.shape[2:], PATCH)]))
            return {"evaluations": windows + 1, "map": logit(model, x)[0] - occluded[0, 0].numpy()}

        kinds["MONAI OcclusionSensitivity"] = monai_occlusion
    return kinds, versions


def kernel_shap_kinds(quiet: Callable) -> tuple[dict[str, Callable[[], dict]], dict[str, str]]:
    model, x, segments = xray_case()
    count = int(segment_counts(segments[None])[0])
    samples = SAMPLES_PER_SEGMENT * count
    options = {"segments": segments, "samples": samples, "seed": 0, "baseline": "mean", "batch_size": 32}

    kinds = radxai_kinds(model, x, "kernel_shap", options, keep_map=False)
    import shap

    image, fill = x[0, 0], float(x.mean())

    def score_coalitions(coalitions: np.ndarray) -> np.ndarray:
        scores = []
        for start in range(0, len(coalitions), 32):
            kept = coalitions[start : start + 32].astype(bool)
            batch = np.where(kept[:, segments], image, fill)[:, None].astype(np.float32)
            scores.append(logit(model, batch))
        return np.concatenate(scores)

    def shap_direct() -> dict:
        explainer = shap.KernelExplainer(score_coalitions, np.zeros((1, count)))
        quiet(explainer.shap_values, np.ones((1, count)), nsamples=samples, silent=True)
        return {"evaluations": samples + 2}

    kinds["shap.KernelExplainer"] = shap_direct
    return kinds, {"shap": importlib.metadata.version("shap")}


def lime_kinds(quiet: Callable) -> tuple[dict[str, Callable[[], dict]], dict[str, str]]:
    model, x, segments = xray_case()
    samples = SAMPLES_PER_SEGMENT * int(segment_counts(segments[None])[0])
    options = {"segments": segments, "samples": samples, "seed": 0, "baseline": "mean", "batch_size": 32}

    kinds = radxai_kinds(model, x, "lime", options, keep_map=False)
    from lime import lime_image

    rgb = np.repeat(x[0, 0][..., None], 3, axis=2).astype(np.float64)

    def classifier(images: np.ndarray) -> np.ndarray:
        positive = 1.0 / (1.0 + np.exp(-logit(model, images[..., 0][:, None].astype(np.float32))))
        return np.stack([1.0 - positive, positive], axis=1)

    def lime_direct() -> dict:
        explainer = lime_image.LimeImageExplainer(random_state=0)
        quiet(
            explainer.explain_instance,
            rgb,
            classifier,
            labels=(1,),
            hide_color=float(x.mean()),
            top_labels=None,
            num_samples=samples,
            batch_size=32,
            segmentation_fn=lambda image: segments,
        )
        return {"evaluations": samples}

    kinds["lime_image"] = lime_direct
    return kinds, {"lime": importlib.metadata.version("lime")}


def gradcam_kinds(quiet: Callable) -> tuple[dict[str, Callable[[], dict]], dict[str, str]]:
    model, x = ct_case()
    volume = torch.from_numpy(x)

    def forward() -> dict:
        with torch.no_grad():
            model(volume)
        return {"evaluations": 1}

    def radxai() -> dict:
        return {"evaluations": 1, "map": explain(model, x, "gradcam", target=1).raw[0]}

    kinds = {"model forward (floor)": forward, "radxai (PyTorch)": radxai}
    versions = {}
    try:
        from captum.attr import LayerGradCam
    except ImportError as error:
        versions["captum"] = f"not installed ({error.name})"
    else:
        versions["captum"] = importlib.metadata.version("captum")
        layer_gradcam = LayerGradCam(model, model.get_submodule(model.cam_layer))

        def captum() -> dict:
            return {"evaluations": 1, "map": layer_gradcam.attribute(volume, target=0).detach()[0, 0].numpy()}

        kinds["captum LayerGradCam"] = captum
    try:
        from monai.visualize import GradCAM
    except ImportError as error:
        versions["monai"] = f"not installed ({error.name})"
    else:
        versions["monai"] = importlib.metadata.version("monai")
        # MONAI keeps its hooks on the module it is given: a copy, so the other kinds run without them.
        monai_gradcam = GradCAM(nn_module=copy.deepcopy(model), target_layers=model.cam_layer)

        def monai() -> dict:
            quiet(monai_gradcam, volume, class_idx=0)
            return {"evaluations": 1}

        kinds["MONAI GradCAM"] = monai
    try:
        from pytorch_grad_cam import GradCAM as PytorchGradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError as error:
        versions["grad-cam"] = f"not installed ({error.name}; `make bench` runs this case in bench/.venv)"
    else:
        versions["grad-cam"] = importlib.metadata.version("grad-cam")
        # Its hooks stay on the module it is given, as MONAI's do.
        peer_model = copy.deepcopy(model)
        pytorch_gradcam = PytorchGradCAM(model=peer_model, target_layers=[peer_model.get_submodule(model.cam_layer)])

        def pytorch_grad_cam() -> dict:
            quiet(pytorch_gradcam, input_tensor=volume, targets=[ClassifierOutputTarget(0)])
            return {"evaluations": 1}

        kinds["pytorch-grad-cam GradCAM"] = pytorch_grad_cam
    return kinds, versions


CASES = {
    "occlusion_3d": occlusion_kinds,
    "gradcam_3d": gradcam_kinds,
    "kernel_shap_2d": kernel_shap_kinds,
    "lime_2d": lime_kinds,
}


def quiet(function: Callable, *arguments: Any, **options: Any) -> Any:
    """Call without the progress bars and warnings some peers print."""
    import contextlib
    import io
    import warnings

    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        return function(*arguments, **options)


def measure_case(name: str) -> dict[str, Any]:
    kinds, versions = CASES[name](quiet)
    for run_once in kinds.values():  # untimed: imports, ONNX export and check
        run_once()
    seconds, outputs = interleaved_rounds(kinds, ROUNDS)
    names = list(kinds)
    reference = outputs["radxai (PyTorch)"].get("map")
    peer = next((kind for kind in names if not kind.startswith(("radxai", "model"))), None)
    rows = {}
    for kind in kinds:
        median = statistics.median(seconds[kind])
        row = {
            "seconds": seconds[kind],
            "median_seconds": median,
            "evaluations": outputs[kind]["evaluations"],
            "seconds_per_evaluation": median / outputs[kind]["evaluations"],
            "to_radxai_pytorch": median / statistics.median(seconds["radxai (PyTorch)"]),
        }
        if peer is not None:
            row["to_peer"] = median / statistics.median(seconds[peer])
        if reference is not None and outputs[kind].get("map") is not None:
            row["max_abs_map_difference"] = float(np.abs(outputs[kind]["map"] - reference).max())
        rows[kind] = row
    return {"versions": versions, "kinds": rows}


def run() -> str:
    """Measure every case, write bench/results/peers.json, return the markdown table."""
    torch.set_num_threads(THREADS)
    load_before = os.getloadavg()
    cases = {name: measure_case(name) for name in CASES}
    report = {
        "description": __doc__.split("\n\n")[0],
        "threads": THREADS,
        "rounds": ROUNDS,
        "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
        "torch": torch.__version__,
        "onnxruntime": _version("onnxruntime"),
        "python": platform.python_version(),
        "processor_count": os.cpu_count(),
        "cases": cases,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return table(report)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def table(report: dict[str, Any]) -> str:
    """Markdown table: one row per case and kind."""
    load = report["load_average_1_5_15_min"]
    lines = [
        f"Same model, input and settings per case; median seconds of {report['rounds']} interleaved rounds; "
        f"ratios of medians. Load average before/after: {load['before'][0]:.1f} / {load['after'][0]:.1f} on "
        f"{report['processor_count']} processors, {report['threads']} threads; torch {report['torch']}, "
        f"onnxruntime {report['onnxruntime']}.",
        "",
        "| case | kind | s (median) | evaluations | s per evaluation | / radxai PyTorch | / peer "
        "| max map difference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case, result in report["cases"].items():
        for kind, row in result["kinds"].items():
            to_peer = f"{row['to_peer']:.3f}" if "to_peer" in row else ""
            difference = f"{row['max_abs_map_difference']:.1e}" if "max_abs_map_difference" in row else ""
            lines.append(
                f"| {case} | {kind} | {row['median_seconds']:.2f} | {row['evaluations']} "
                f"| {row['seconds_per_evaluation']:.4f} | {row['to_radxai_pytorch']:.3f} | {to_peer} "
                f"| {difference} |"
            )
        versions = ", ".join(f"{name} {version}" for name, version in result["versions"].items())
        lines.append(f"| {case} | versions | {versions} | | | | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
