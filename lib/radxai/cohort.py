"""Explain a cohort of CT studies: one task per case on Dask distributed, one table of results.

`explain_cohort` runs `explain_case` for every case of a dataset (any CT dataset with a loader:
the synthetic default or a real one) on a Dask cluster: a LocalCluster of worker processes on
127.0.0.1 by default, or any running scheduler (``scheduler="tcp://host:8786"``; through
dask-jobqueue or dask-kubernetes the same call uses a SLURM or Kubernetes cluster). Per case it
writes each method's heatmap as NIfTI on the study's own grid and, as the case's last step, its
rows (``rows/<case>.json``, atomically): the model's probability of COVID-19 and, where the
study has a lesion mask, the localisation of each map (IoU and Dice at h > 0.7, 0.3 < h <= 0.7
and the top 5%, pointing game, mass accuracy) and, if asked (`DeletionSettings`), each map's
deletion AUC on the model's grid beside the probability the model gives the deletion's baseline
(a baseline scored as COVID-19 is flagged: its curve measures the baseline, not the map). A
rerun skips the cases whose rows exist
(resume); a case that fails is recorded with its error and the others go on; a worker that dies
has its case run again elsewhere (Dask retries it). At the end the rows of every case become
``cohort.parquet``, sorted by case and method, the same table for any number of workers (each
case runs on one thread; timings are kept apart, in the rows files).

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

__all__ = ["BINARISATIONS", "Case", "CohortError", "DeletionSettings", "cohort_cases", "explain_case",
           "explain_cohort"]

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
    """One study of a cohort: its id, scan file, lesion mask file (or None) and label."""

    case_id: str
    scan: str
    mask: str | None
    label: int


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


def cohort_cases(dataset: str, root: str | Path, *, split: str | None = None, split_seed: int = 0) -> list[Case]:
    """The cases of a CT dataset: "synthetic" (a `radxai data synthesize ct` folder) or a real
    dataset name (`radxai.data.real.dataset_names()`), all splits or one ("train", "val", "test")."""
    from radxai.data import datasets, real

    root = Path(root)
    if dataset == "synthetic":
        studies = datasets.read_ct_studies(root, split_seed=split_seed)
    else:
        if dataset not in real.dataset_names():
            raise ValueError(f"unknown dataset {dataset!r}; use 'synthetic' or one of {real.dataset_names()}")
        if real.dataset_task(dataset) != "ct":
            raise ValueError(f"dataset {dataset!r} is not a CT dataset; explain-cohort explains CT studies")
        studies = real.load_dataset(dataset, root, split_seed=split_seed)
    if split is not None:
        studies = [study for study in studies if study.split == split]
    return [Case(study.study_id, str(study.path), None if study.mask_path is None else str(study.mask_path),
                 int(study.label)) for study in studies]


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


def _deletion(model: Any, inputs: np.ndarray, maps: np.ndarray, settings: DeletionSettings) -> dict[str, Any]:
    from radxai.evaluate import faithfulness

    curve = faithfulness.deletion_curve(model, inputs, maps, 1, steps=settings.steps, baseline=settings.baseline)
    return {"deletion_auc": float(curve.auc[0]), "deletion_baseline_probability": float(curve.baseline_scores[0]),
            "deletion_baseline_scored_as_covid": bool(curve.baseline_scored_as_target()[0])}


_MODELS: dict[tuple[str, float], tuple[Any, Any]] = {}


def _model_of(checkpoint: str) -> tuple[Any, Any]:
    # One load per worker process and checkpoint file version, not one per case.
    from radxai import models

    key = (checkpoint, os.path.getmtime(checkpoint))
    if key not in _MODELS:
        _MODELS[key] = (models.load(checkpoint), models.read_model_input(checkpoint))
    return _MODELS[key]


def explain_case(case: Case, checkpoint: str, methods: Sequence[str], out_dir: str,
                 layer: str | None = None, deletion: DeletionSettings | None = None) -> list[dict[str, Any]]:
    """Explain one case for COVID-19 and write its heatmaps and rows; returns the rows.

    One row per method: case_id, label, method, status ("done" or "error"), error (message),
    probability (of COVID-19), heatmap (file name), where the case has a lesion mask the
    localisation columns, and with ``deletion`` the columns deletion_auc (of the COVID-19
    probability over the fraction of voxels removed, model grid), deletion_baseline_probability
    and deletion_baseline_scored_as_covid (the baseline's probability >= 0.5). Any error of this
    case (unreadable scan, a method that does not apply) becomes rows with status "error"; the
    case's rows file is written last, atomically.
    """
    import torch

    from radxai.data import io
    from radxai.data.volume import Volume
    from radxai.pipeline import write_json_atomically
    from radxai.scan_explanation import explain_loaded_scan

    started = time.perf_counter()
    out = Path(out_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic on any worker, so tables match across worker counts
    base = {"case_id": case.case_id, "label": case.label}
    try:
        model, model_input = _model_of(checkpoint)
        volume = io.read_nifti(case.scan)
        result = explain_loaded_scan("ct", volume, model, model_input, methods, target=1, layer=layer)
        mask = io.read_nifti(case.mask).array > 0 if case.mask is not None else None
        if mask is not None and mask.shape != volume.array.shape:
            raise ValueError(f"{case.mask}: mask of shape {mask.shape} for a scan of shape {volume.array.shape}")
        (out / "heatmaps").mkdir(parents=True, exist_ok=True)
        rows = []
        for method, heatmap in result.maps.items():
            name = f"{case.case_id}_{method}.nii.gz"
            io.write_nifti(Volume(heatmap, volume.affine, volume.spacing), out / "heatmaps" / name)
            row = {**base, "method": method, "status": "done", "error": "",
                   "probability": result.probabilities[model_input.class_names[1]], "heatmap": f"heatmaps/{name}"}
            if mask is not None and mask.any():
                row.update(_localisation(heatmap, mask))
            if deletion is not None:
                row.update(_deletion(model, result.model_inputs, result.explanations[method].maps, deletion))
            rows.append(row)
    except Exception as error:  # a damaged case is recorded, not fatal to the cohort
        rows = [{**base, "method": method, "status": "error", "error": f"{type(error).__name__}: {error}",
                 "probability": math.nan, "heatmap": ""} for method in methods]
    finally:
        torch.set_num_threads(threads)
    write_json_atomically({"rows": rows, "seconds": round(time.perf_counter() - started, 3)},
                          out / ROWS / f"{case.case_id}.json")
    return rows


def _check_out_dir(out: Path, identity: dict[str, Any]) -> None:
    from radxai.pipeline import write_json_atomically

    record = out / COHORT_RECORD
    if record.is_file():
        try:
            earlier = json.loads(record.read_text())
        except ValueError:
            earlier = None
        if earlier != identity:
            raise CohortError(f"{out} holds the results of another cohort ({record} differs: dataset, model or "
                              "methods); write this cohort into another folder")
        return
    if out.exists() and any(out.iterdir()):
        raise CohortError(f"{out} is not empty and holds no {COHORT_RECORD}: write the cohort into a new folder")
    (out / ROWS).mkdir(parents=True, exist_ok=True)
    write_json_atomically(identity, record)


def explain_cohort(cases: Sequence[Case], checkpoint: str | Path, methods: Sequence[str], out_dir: str | Path, *,
                   workers: int = 2, scheduler: str | None = None, scheduler_timeout: float = 10.0,
                   identity: dict[str, Any] | None = None,
                   layer: str | None = None, deletion: DeletionSettings | None = None, progress: bool = True,
                   case_task: Callable[..., list[dict[str, Any]]] = explain_case) -> pd.DataFrame:
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

    _check_out_dir(out, {**(identity or {}), "model_sha256": sha256_of_file(checkpoint), "methods": list(methods),
                         "cases": sorted(case.case_id for case in cases),
                         "deletion": None if deletion is None else dataclasses.asdict(deletion)})
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
            futures = {client.submit(case_task, case, *arguments, key=f"explain-{case.case_id}-{os.getpid()}",
                                     pure=False): case for case in pending}
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

    rows = [{"case_id": case.case_id, "label": case.label, "method": method, "status": "error",
             "error": f"{type(error).__name__}: {error}", "probability": math.nan, "heatmap": ""} for method in methods]
    write_json_atomically({"rows": rows, "seconds": math.nan}, out / ROWS / f"{case.case_id}.json")


def _write_table(cases: Sequence[Case], out: Path) -> pd.DataFrame:
    rows = []
    for case in cases:
        rows.extend(json.loads((out / ROWS / f"{case.case_id}.json").read_text())["rows"])
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values(["case_id", "method"], kind="stable").reset_index(drop=True)
    temporary = out / f".{TABLE}.tmp"
    table.to_parquet(temporary, index=False)
    os.replace(temporary, out / TABLE)
    return table

