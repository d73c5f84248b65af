"""Explain one scan of one's own: `radxai explain SCAN --model CKPT`.

The scan is read as it is on disk (a NIfTI file, a DICOM series folder, or a radiograph as PNG,
JPEG or DICOM), prepared exactly as the model's training data were (`radxai.data.model_input`,
stored in the checkpoint: HU window, voxel order, input grid), explained with each method, and
every map is written on the scan's own grid:

- CT: ``<method>.nii.gz`` with the scan's shape and affine (the map is resampled from the model
  grid to the reordered scan, then put back in the file's voxel order), so it overlays the scan
  in ITK-SNAP or 3D Slicer with no further step; ``<method>.png``: orthogonal views with the map
  over the scan, in the phantoms' orientation.
- Radiograph: ``<method>.png``, the map as a grayscale image of the radiograph's size;
  ``<method>_overlay.png``: the map over the image.
- ``explanation.json``: the model's probability per class, the explained class, each method's
  layer, files and time, the preprocessing, radxai's version.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radxai import __version__

__all__ = ["SCAN_KINDS", "ScanHeatmaps", "ScanReadError", "explain_loaded_scan", "explain_scan", "read_scan"]

SCAN_KINDS = "a NIfTI file (.nii, .nii.gz), a DICOM series folder, or a radiograph (.png, .jpg, .jpeg, .dcm)"
RECORD = "explanation.json"


class ScanReadError(ValueError):
    """A scan that is not one of the kinds `radxai explain` reads, or that does not fit the model."""


def read_scan(path: str | Path) -> tuple[str, Any]:
    """``("ct", Volume)`` for a NIfTI file or DICOM series folder, ``("xray", (H, W) array)`` for
    a radiograph; anything else raises ScanReadError naming the file and the kinds read."""
    from radxai.data import io

    source = Path(path)
    name = source.name.lower()
    if source.is_dir():
        return "ct", io.read_dicom_series(source)
    if not source.is_file():
        raise FileNotFoundError(f"no scan at {source}")
    if name.endswith((".nii", ".nii.gz")):
        return "ct", io.read_nifti(source)
    if name.endswith((".png", ".jpg", ".jpeg")):
        return "xray", io.read_image(source)
    if name.endswith(".dcm"):
        return "xray", io.read_dicom_image(source)
    raise ScanReadError(f"{source}: not a scan radxai reads; give {SCAN_KINDS}")


def _probabilities(model: torch.nn.Module, x: np.ndarray, class_names: Sequence[str]) -> dict[str, float]:
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).reshape(-1).double().numpy()
    positive = 1.0 / (1.0 + np.exp(-logits))
    if len(logits) == 1 and len(class_names) == 2:
        # One logit for two classes: class 1 is the logit's, class 0 its complement.
        return {class_names[0]: float(1 - positive[0]), class_names[1]: float(positive[0])}
    return {name: float(value) for name, value in zip(class_names, positive)}


def _refuse_another_scans_folder(out_dir: Path, scan: Path) -> None:
    record = out_dir / RECORD
    if record.is_file():
        try:
            earlier = json.loads(record.read_text()).get("scan")
        except (ValueError, AttributeError):
            earlier = None
        if earlier != str(scan):
            raise ScanReadError(
                f"{out_dir} holds the explanation of {earlier or 'another scan'}; "
                f"write the explanation of {scan} into another folder"
            )


@dataclass
class ScanHeatmaps:
    """One scan explained: ``probabilities`` per class name, the explained ``class_index``, and per
    method the map on the scan's own grid (``heatmaps``, in the file's voxel order, in [0, 1]) with its
    `radxai.explain.Explanation` (whose maps lie on the model's grid). ``model_inputs`` is the
    batch the model saw, (1, C, *model grid). For CT, ``reordered`` is the scan in the phantoms'
    voxel order and ``reordered_heatmaps`` the maps on it (for figures)."""

    probabilities: dict[str, float]
    class_index: int
    heatmaps: dict[str, np.ndarray]
    explanations: dict[str, Any]
    model_inputs: np.ndarray
    reordered: Any = None
    reordered_heatmaps: dict[str, np.ndarray] | None = None


def explain_loaded_scan(
    kind: str,
    content: Any,
    model: torch.nn.Module,
    model_input: Any,
    methods: Sequence[str],
    *,
    target: str | int | None = None,
    layer: str | None = None,
) -> ScanHeatmaps:
    """Explain a scan read by `read_scan` (``kind``, ``content``) with a loaded model and its
    `radxai.data.model_input.ModelInput`; see `explain_scan` for the steps and errors."""
    from radxai.data import orientation, preprocess
    from radxai.explain import explain_methods

    if not methods:
        raise ValueError("no method given: name at least one, e.g. hirescam")
    if kind != model_input.modality:
        models_of = {"ct": "a CT model", "xray": "an X-ray model"}
        raise ScanReadError(
            f"the scan is a {'CT volume' if kind == 'ct' else 'radiograph'} but the model is "
            f"{models_of[model_input.modality]}"
        )
    reordered = reordering = None
    if kind == "ct":
        if tuple(model_input.axis_codes) != orientation.PHANTOM_AXIS_CODES:
            raise ScanReadError(
                f"the model was trained in voxel order {model_input.axis_codes}; radxai "
                f"reorders scans to {orientation.PHANTOM_AXIS_CODES} only"
            )
        reordered, reordering = orientation.to_phantom_order(content)
        model_grid_scan = reordered.array
    else:
        model_grid_scan = np.asarray(content)
    x = model_input.prepare(model_grid_scan)
    probabilities = _probabilities(model, x, model_input.class_names)
    if not all(math.isfinite(value) for value in probabilities.values()):
        raise ValueError(f"the model's scores are not finite: {probabilities}")
    class_index = (
        model_input.class_index(target) if target is not None else int(np.argmax(list(probabilities.values())))
    )
    heatmaps, reordered_heatmaps = {}, {}
    # The gradient CAMs among the methods share one forward and backward pass.
    explanations = explain_methods(model, x, methods, target=class_index, layer=layer)
    for method, explanation in explanations.items():
        on_scan = np.clip(preprocess.resize(explanation.heatmaps[0], model_grid_scan.shape, order=1), 0, 1)
        reordered_heatmaps[method] = on_scan.astype(np.float32)
        heatmaps[method] = (reordering.undo(on_scan) if reordering is not None else on_scan).astype(np.float32)
    return ScanHeatmaps(
        probabilities, class_index, heatmaps, explanations, x, reordered, reordered_heatmaps if kind == "ct" else None
    )


def explain_scan(
    scan: str | Path,
    checkpoint: str | Path,
    methods: Sequence[str],
    out_dir: str | Path,
    *,
    target: str | int | None = None,
    layer: str | None = None,
) -> dict[str, Any]:
    """Explain one scan with each of ``methods`` and write the maps on its grid into ``out_dir``.

    Args:
        scan: see `read_scan`.
        checkpoint: a PyTorch checkpoint written by radxai with its model-input record.
        methods: names of `radxai.explain.methods()`, e.g. ["gradcam", "hirescam"].
        out_dir: created if missing; a folder holding another scan's explanation is refused.
        target: a class name or index of the model's classes; None explains the predicted class.
        layer: the CAM layer (None: the model's default).

    Returns:
        The ``explanation.json`` record. Raises FileNotFoundError, ScanReadError, the
        checkpoint's CheckpointError or ModelInputError, and the explanation's ValueError (e.g.
        a CAM for a model without a spatial layer), each naming the problem; files already
        written stay.
    """
    from radxai import models
    from radxai.data import io
    from radxai.data.volume import Volume
    from radxai.pipeline import write_json_atomically

    started = time.perf_counter()
    scan, checkpoint, out_dir = Path(scan), Path(checkpoint), Path(out_dir)
    model_input = models.read_model_input(checkpoint)
    model = models.load(checkpoint)
    kind, content = read_scan(scan)
    try:
        result = explain_loaded_scan(kind, content, model, model_input, methods, target=target, layer=layer)
    except ScanReadError as error:
        raise ScanReadError(f"{scan} with {checkpoint}: {error}") from error
    class_name = model_input.class_names[result.class_index]
    _refuse_another_scans_folder(out_dir, scan)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {}
    for method, heatmap in result.heatmaps.items():
        if kind == "ct":
            io.write_nifti(Volume(heatmap, content.affine, content.spacing), out_dir / f"{method}.nii.gz")
            files = {
                "heatmap": f"{method}.nii.gz",
                "figure": _write_ct_figure(
                    result.reordered, result.reordered_heatmaps[method], method, class_name, out_dir
                ),
            }
        else:
            io.write_png(heatmap, out_dir / f"{method}.png")
            files = {
                "heatmap": f"{method}.png",
                "figure": _write_xray_figure(content, heatmap, method, class_name, out_dir),
            }
        explanation = result.explanations[method]
        written[method] = {**files, "layer": explanation.layer, "seconds": round(explanation.seconds, 3)}
    record = {
        "scan": str(scan),
        "model": str(checkpoint),
        "radxai_version": __version__,
        "probabilities": result.probabilities,
        "explained_class": class_name,
        "explained_class_index": result.class_index,
        "target_given": target is not None,
        "methods": written,
        "model_input": model_input.as_dict(),
        "scan_shape": list(np.shape(content.array if kind == "ct" else content)),
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_json_atomically(record, out_dir / RECORD)
    return record


def _write_ct_figure(reordered, heatmap: np.ndarray, method: str, class_name: str, out_dir: Path) -> str:
    import matplotlib.pyplot as plt

    from radxai.data import preprocess
    from radxai.viz import views

    figure = views.plot_orthogonal_views(
        reordered.array,
        reordered.spacing,
        window=preprocess.WINDOWS["lung"],
        heatmap=heatmap,
        title=f"{method} for {class_name}",
    )
    name = f"{method}.png"
    figure.savefig(out_dir / name, dpi=110)
    plt.close(figure)
    return name


def _write_xray_figure(image: np.ndarray, heatmap: np.ndarray, method: str, class_name: str, out_dir: Path) -> str:
    import matplotlib.pyplot as plt

    from radxai.viz import views

    figure, axes = plt.subplots(figsize=(5.6, 5.4), constrained_layout=True)
    artist = views.show_slice(axes, image, heatmap=heatmap, title=f"{method} for {class_name}")
    figure.colorbar(artist, ax=axes, shrink=0.8, label=f"{method} (normalised)")
    name = f"{method}_overlay.png"
    figure.savefig(out_dir / name, dpi=110)
    plt.close(figure)
    return name
