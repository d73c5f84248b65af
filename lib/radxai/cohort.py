"""Explain a cohort of CT studies or radiographs: one task per case on Dask distributed, one table.

`explain_cohort` runs `explain_case` for every case of a dataset (any dataset with a loader: the
synthetic CT and X-ray sets or a real one) on a Dask cluster: a LocalCluster of worker processes
on 127.0.0.1 by default, or any running scheduler (``scheduler="tcp://host:8786"``; through
dask-jobqueue or dask-kubernetes the same call uses a SLURM or Kubernetes cluster). Per case it
writes each method's heatmap on the case's own grid (NIfTI for a study, a 16-bit PNG for a
radiograph) and, as the case's last step, its rows (``rows/<case>.json``, atomically): the
model's probability of the explained class (COVID-19 for CT; for a radiograph each class its
readers boxed) and, where the case has a lesion mask or boxes of that class, the localisation of
each map (IoU and Dice at h > 0.7, 0.3 < h <= 0.7 and the top 5%, pointing game, mass accuracy)
and, if asked (`DeletionSettings`), each map's deletion AUC on the model's grid beside the
probability the model gives the deletion's baseline (a baseline scored as the explained class is
flagged: its curve measures the baseline, not the map). A rerun skips the cases whose rows exist
(resume); a case that fails is recorded with its error and the others go on; a worker that dies
has its case run again elsewhere (Dask retries it). At the end the rows of every case become
``cohort.parquet``, sorted by case, class and method, the same table for any number of workers
(each case runs on one thread; timings are kept apart, in the rows files).

``workers=0`` runs the cases in this process, one after another: the reference the Dask path is
measured against.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BINARISATIONS", "Case", "CohortError", "DeletionSettings", "cohort_cases", "explain_case", "explain_cohort"]

COHORT_RECORD = "cohort.json"
TABLE = "cohort.parquet"
ROWS = "rows"


def _binarisations() -> dict[str, Any]:
    from radxai.evaluate.binarise import Band, Threshold, TopFraction

    # Column-safe names of the 3D COVID-19 work's two cuts and the chest X-ray work's top 5%.
    return {"above_0_7": Threshold(0.7), "between_0_3_and_0_7": Band(0.3, 0.7), "top_5_percent": TopFraction(0.05)}


BINARISATIONS = tuple(_binarisations())


class CohortError(RuntimeError):
    """A cohort that cannot run: an output folder of another cohort, a scheduler that does not answer."""


@dataclass(frozen=True)
class Case:
    """One case of a cohort: its id, scan file, lesion mask file (CT; or None) and label, its
    ``modality`` ("ct" or "xray") and, for a radiograph, the readers' ``boxes`` as (class name,
    (x_min, y_min, x_max, y_max)) in pixels of the stored image (`radxai.evaluate.boxes`).
    ``label``: COVID-19 (1) or not (0) for CT; for a radiograph 1 if any reader marked a box."""

    case_id: str
    scan: str
    mask: str | None
    label: int
    modality: str = "ct"
    boxes: tuple[tuple[str, tuple[float, float, float, float]], ...] = ()


@dataclass(frozen=True)
class DeletionSettings:
    """Deletion curves per case: ``steps`` equal steps of the map's voxel order, removed voxels
    replaced by ``baseline`` ("blur", "mean", "zero": the baselines that need no other array;
    see `radxai.evaluate.faithfulness.deletion_curve`)."""

    steps: int = 20
    baseline: str = "blur"

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"deletion steps must be at least 1, got {self.steps}")
        if self.baseline not in ("blur", "mean", "zero"):
            raise ValueError(f"deletion baseline {self.baseline!r}: use 'blur', 'mean' or 'zero'")


# The synthetic sets by the real layout they are written in (and read by).
SYNTHETIC_LAYOUTS = {"synthetic": "mosmeddata", "synthetic_xray": "vindr_cxr"}


def cohort_cases(dataset: str, root: str | Path, *, split: str | None = None, split_seed: int = 0) -> list[Case]:
    """The cases of a dataset: "synthetic" (a `radxai data synthesize ct` folder), "synthetic_xray"
    (a `radxai data synthesize cxr` folder) or a real dataset name (`radxai.data.real.dataset_names()`,
    CT or X-ray), all splits or one ("train", "val", "test"). Synthetic folders are in the
    MosMedData and VinDr-CXR layouts and are read by those datasets' loaders."""
    from radxai.data import real

    name = SYNTHETIC_LAYOUTS.get(dataset, dataset)
    if name not in real.dataset_names():
        raise ValueError(
            f"unknown dataset {dataset!r}; use 'synthetic', 'synthetic_xray' or one of {real.dataset_names()}"
        )
    records = real.load_dataset(name, Path(root), split_seed=split_seed)
    if split is not None:
        records = [record for record in records if record.split == split]
    return [_case_of(record) for record in records]


def _case_of(record: Any) -> Case:
    from radxai.data.datasets import CTStudy

    if isinstance(record, CTStudy):
        return Case(
            record.study_id,
            str(record.path),
            None if record.mask_path is None else str(record.mask_path),
            int(record.label),
        )
    boxes = tuple(
        (annotation.finding, tuple(float(value) for value in annotation.box)) for annotation in record.annotations
    )
    return Case(record.image_id, str(record.path), None, int(bool(boxes)), "xray", boxes)


def _localisation(heatmap: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    from radxai.evaluate import localisation
    from radxai.evaluate.binarise import binarise

    scores: dict[str, float] = {}
    for name, scheme in _binarisations().items():
        predicted = binarise(heatmap, scheme)
        scores[f"iou_{name}"] = localisation.iou(predicted, mask)
        scores[f"dice_{name}"] = localisation.dice(predicted, mask)
    scores["pointing_hit"] = float(localisation.pointing_game(heatmap, mask))
    scores["mass_accuracy"] = localisation.mass_accuracy(heatmap, mask)
    return scores


def _deletion(
    model: Any, inputs: np.ndarray, heatmaps: np.ndarray, target: int, settings: DeletionSettings
) -> dict[str, Any]:
    from radxai.evaluate import faithfulness

    curve = faithfulness.deletion_curve(
        model, inputs, heatmaps, target, steps=settings.steps, baseline=settings.baseline
    )
    return {
        "deletion_auc": float(curve.auc[0]),
        "deletion_baseline_probability": float(curve.baseline_scores[0]),
        "deletion_baseline_scored_as_target": bool(curve.baseline_scored_as_target()[0]),
    }


_MODELS: dict[tuple[str, float], tuple[Any, Any]] = {}


def _model_of(checkpoint: str) -> tuple[Any, Any]:
    # One load per worker process and checkpoint file version, not one per case.
    from radxai import models

    key = (checkpoint, os.path.getmtime(checkpoint))
    if key not in _MODELS:
        _MODELS[key] = (models.load(checkpoint), models.read_model_input(checkpoint))
    return _MODELS[key]


def explain_case(
    case: Case,
    checkpoint: str,
    methods: Sequence[str],
    out_dir: str,
    layer: str | None = None,
    deletion: DeletionSettings | None = None,
) -> list[dict[str, Any]]:
    """Explain one case and write its heatmaps and rows; returns the rows.

    A CT study is explained for COVID-19; a radiograph for each of the model's classes its
    readers boxed (or, without boxes, for its predicted class). One row per method and explained
    class: case_id, label, method, class_name, status ("done" or "error"), error (message),
    probability (of that class), heatmap (file name: NIfTI on the study's grid, or a 16-bit PNG
    of the radiograph's size), the localisation columns where the case has a lesion mask (CT) or
    boxes of that class (X-ray: the union of every reader's boxes), and with ``deletion`` the
    columns deletion_auc (of the class's probability over the fraction of pixels removed, model
    grid), deletion_baseline_probability and deletion_baseline_scored_as_target (the baseline's
    probability >= 0.5). Any error of this case (unreadable scan, a method that does not apply)
    becomes rows with status "error"; the case's rows file is written last, atomically.
    """
    import torch

    from radxai.pipeline import write_json_atomically

    started = time.perf_counter()
    out = Path(out_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic on any worker, so tables match across worker counts
    try:
        model, model_input = _model_of(checkpoint)
        (out / "heatmaps").mkdir(parents=True, exist_ok=True)
        explain_rows = _xray_rows if case.modality == "xray" else _ct_rows
        rows = [
            {"case_id": case.case_id, "label": case.label, **row}
            for row in explain_rows(case, model, model_input, methods, out, layer, deletion)
        ]
    except Exception as error:  # a damaged case is recorded, not fatal to the cohort
        rows = _error_rows(case, methods, error)
    finally:
        torch.set_num_threads(threads)
    write_json_atomically(
        {"rows": rows, "seconds": round(time.perf_counter() - started, 3)}, out / ROWS / f"{case.case_id}.json"
    )
    return rows


def _ct_rows(
    case: Case,
    model: Any,
    model_input: Any,
    methods: Sequence[str],
    out: Path,
    layer: str | None,
    deletion: DeletionSettings | None,
) -> list[dict[str, Any]]:
    from radxai.data import io
    from radxai.data.volume import Volume
    from radxai.scan_explanation import explain_loaded_scan

    volume = io.read_nifti(case.scan)
    result = explain_loaded_scan("ct", volume, model, model_input, methods, target=1, layer=layer)
    mask = io.read_nifti(case.mask).array > 0 if case.mask is not None else None
    if mask is not None and mask.shape != volume.array.shape:
        raise ValueError(f"{case.mask}: mask of shape {mask.shape} for a scan of shape {volume.array.shape}")
    class_name = model_input.class_names[1]
    rows = []
    for method, heatmap in result.heatmaps.items():
        name = f"{case.case_id}_{method}.nii.gz"
        io.write_nifti(Volume(heatmap, volume.affine, volume.spacing), out / "heatmaps" / name)
        rows.append(
            _done_row(method, class_name, result, name, _scores(heatmap, mask, model, result, method, 1, deletion))
        )
    return rows


def _xray_rows(
    case: Case,
    model: Any,
    model_input: Any,
    methods: Sequence[str],
    out: Path,
    layer: str | None,
    deletion: DeletionSettings | None,
) -> list[dict[str, Any]]:
    from radxai.data import io
    from radxai.evaluate.boxes import mask_from_boxes
    from radxai.scan_explanation import explain_loaded_scan, read_scan

    kind, image = read_scan(case.scan)
    boxed = sorted({name for name, _ in case.boxes if name in model_input.class_names})
    rows = []
    for target in boxed or [None]:
        result = explain_loaded_scan(kind, image, model, model_input, methods, target=target, layer=layer)
        class_name = model_input.class_names[result.class_index]
        mask = (
            mask_from_boxes([box for name, box in case.boxes if name == class_name], np.shape(image))
            if target is not None
            else None
        )
        for method, heatmap in result.heatmaps.items():
            name = f"{case.case_id}_{_file_name_part(class_name)}_{method}.png"
            io.write_png(heatmap, out / "heatmaps" / name, bits=16)
            rows.append(
                _done_row(
                    method,
                    class_name,
                    result,
                    name,
                    _scores(heatmap, mask, model, result, method, result.class_index, deletion),
                )
            )
    return rows


def _done_row(method: str, class_name: str, result: Any, heatmap_name: str, scores: dict[str, Any]) -> dict[str, Any]:
    return {
        "method": method,
        "class_name": class_name,
        "status": "done",
        "error": "",
        "probability": result.probabilities[class_name],
        "heatmap": f"heatmaps/{heatmap_name}",
        **scores,
    }


def _scores(
    heatmap: np.ndarray,
    mask: np.ndarray | None,
    model: Any,
    result: Any,
    method: str,
    target: int,
    deletion: DeletionSettings | None,
) -> dict[str, Any]:
    scores = _localisation(heatmap, mask) if mask is not None and mask.any() else {}
    if deletion is not None:
        scores.update(_deletion(model, result.model_inputs, result.explanations[method].heatmaps, target, deletion))
    return scores


def _file_name_part(class_name: str) -> str:
    return "".join(character if character.isalnum() else "_" for character in class_name)


def _check_out_dir(out: Path, identity: dict[str, Any]) -> None:
    from radxai.pipeline import write_json_atomically

    record = out / COHORT_RECORD
    if record.is_file():
        try:
            earlier = json.loads(record.read_text())
        except ValueError:
            earlier = None
        if earlier != identity:
            raise CohortError(
                f"{out} holds the results of another cohort ({record} differs: dataset, model or "
                "methods); write this cohort into another folder"
            )
        return
    if out.exists() and any(out.iterdir()):
        raise CohortError(f"{out} is not empty and holds no {COHORT_RECORD}: write the cohort into a new folder")
    (out / ROWS).mkdir(parents=True, exist_ok=True)
    write_json_atomically(identity, record)


def explain_cohort(
    cases: Sequence[Case],
    checkpoint: str | Path,
    methods: Sequence[str],
    out_dir: str | Path,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    scheduler_timeout: float = 10.0,
    identity: dict[str, Any] | None = None,
    layer: str | None = None,
    deletion: DeletionSettings | None = None,
    progress: bool = True,
    case_task: Callable[..., list[dict[str, Any]]] = explain_case,
) -> pd.DataFrame:
    """Explain every case not done yet and return the cohort's table (also ``out_dir/cohort.parquet``).

    Args:
        cases: from `cohort_cases`.
        checkpoint: a radxai CT checkpoint that records its input (`radxai explain` reads the same).
        methods: explanation method names.
        out_dir: new or empty, or a folder of this same cohort (resume); another cohort's is refused.
        workers: worker processes of the local cluster (0: this process, serially).
        scheduler: address of a running Dask scheduler (then ``workers`` is unused); one that does
            not answer within ``scheduler_timeout`` seconds raises CohortError.
        identity: what names the cohort in ``cohort.json`` besides model and methods (e.g. the
            dataset and root); a rerun must give the same.
        deletion: deletion curves per case and method (None: none); part of the cohort's identity.
        case_task: the function run per case (`explain_case`).

    Returns:
        The table, one row per (case, method), sorted by case id and method.
    """
    from tqdm.auto import tqdm

    out, checkpoint = Path(out_dir), Path(checkpoint)
    if not methods:
        raise ValueError("no method given: name at least one, e.g. hirescam")
    if not checkpoint.is_file():
        raise FileNotFoundError(f"no checkpoint file at {checkpoint}")
    if scheduler is None and workers < 0:
        raise ValueError(f"workers must be 0 (serial) or more; got {workers}")
    from radxai.pipeline import sha256_of_file

    _check_out_dir(
        out,
        {
            **(identity or {}),
            "model_sha256": sha256_of_file(checkpoint),
            "methods": list(methods),
            "cases": sorted(case.case_id for case in cases),
            "deletion": None if deletion is None else dataclasses.asdict(deletion),
        },
    )
    pending = [case for case in cases if not (out / ROWS / f"{case.case_id}.json").is_file()]
    bar = tqdm(total=len(cases), initial=len(cases) - len(pending), unit="case", disable=not progress)
    arguments = (str(checkpoint), list(methods), str(out), layer, deletion)
    if pending and scheduler is None and workers == 0:
        for case in pending:
            case_task(case, *arguments)
            bar.update()
    elif pending:
        from distributed import as_completed

        from radxai.cluster import SchedulerUnreachableError, dask_client

        try:
            client, cluster = dask_client(workers=workers, scheduler=scheduler, timeout=scheduler_timeout)
        except SchedulerUnreachableError as error:
            raise CohortError(str(error)) from error
        try:
            futures = {
                client.submit(
                    case_task, case, *arguments, key=f"explain-{case.case_id}-{os.getpid()}", pure=False
                ): case
                for case in pending
            }
            for future in as_completed(futures):
                case = futures[future]
                if future.status == "error":
                    # The task itself records its errors; this is a case whose worker kept dying.
                    _record_lost_case(case, methods, out, future.exception())
                bar.update()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    bar.close()
    return _write_table(cases, out)


def _record_lost_case(case: Case, methods: Sequence[str], out: Path, error: BaseException) -> None:
    from radxai.pipeline import write_json_atomically

    write_json_atomically(
        {"rows": _error_rows(case, methods, error), "seconds": math.nan}, out / ROWS / f"{case.case_id}.json"
    )


def _error_rows(case: Case, methods: Sequence[str], error: BaseException) -> list[dict[str, Any]]:
    return [
        {
            "case_id": case.case_id,
            "label": case.label,
            "method": method,
            "class_name": "",
            "status": "error",
            "error": f"{type(error).__name__}: {error}",
            "probability": math.nan,
            "heatmap": "",
        }
        for method in methods
    ]


def _write_table(cases: Sequence[Case], out: Path) -> pd.DataFrame:
    rows = []
    for case in cases:
        rows.extend(json.loads((out / ROWS / f"{case.case_id}.json").read_text())["rows"])
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values(["case_id", "class_name", "method"], kind="stable").reset_index(drop=True)
    temporary = out / f".{TABLE}.tmp"
    table.to_parquet(temporary, index=False)
    os.replace(temporary, out / TABLE)
    return table
