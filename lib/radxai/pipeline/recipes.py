"""Recipes the notebooks share: synthetic and real datasets, and models trained once per run."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from radxai.pipeline.cache import load_or_build
from radxai.pipeline.files import write_json_atomically


def synthetic_ct_dataset(
    run_dir: Path,
    count: int,
    shape: Iterable[int],
    seed: int,
    confounder: str | None = None,
    confounder_strength: float = 0.9,
    grade_shares: Iterable[float] = (0.5, 0.125, 0.125, 0.125, 0.125),
    involvement_range: Iterable[float] | None = None,
    lesion_free_twins: bool = False,
) -> Path:
    """The folder of a synthetic CT dataset (MosMedData layout) in ``run_dir``, built once.

    Any notebook that asks with the same parameters gets the same folder, so notebooks share
    the data within a run and each one still runs alone. ``involvement_range`` and
    ``lesion_free_twins`` make a positive-control set (see
    ``radxai.data.datasets.write_synthetic_ct``).
    """
    import radxai.data
    from radxai.data import datasets

    parameters = {
        "count": int(count),
        "shape": [int(size) for size in shape],
        "seed": int(seed),
        "confounder": confounder,
        "confounder_strength": float(confounder_strength),
        "grade_shares": [float(share) for share in grade_shares],
    }
    # Only when asked for, so the keys (and caches) of the other synthetic sets stay as they were.
    if involvement_range is not None:
        parameters["involvement_range"] = [float(value) for value in involvement_range]
    if lesion_free_twins:
        parameters["lesion_free_twins"] = True
    return load_or_build(
        run_dir,
        "synthetic-ct",
        parameters,
        lambda folder: datasets.write_synthetic_ct(folder, **parameters),
        code=(radxai.data,),
    )


def synthetic_cxr_dataset(
    run_dir: Path,
    count: int,
    shape: Iterable[int],
    seed: int,
    prevalence: float = 0.3,
    normal_share: float = 0.4,
    confounder: str | None = None,
    confounder_label: str = "Cardiomegaly",
    confounder_strength: float = 0.9,
) -> Path:
    """The folder of a synthetic chest X-ray dataset (VinDr-CXR layout) in ``run_dir``, built once."""
    import radxai.data
    from radxai.data import datasets

    parameters = {
        "count": int(count),
        "shape": [int(size) for size in shape],
        "seed": int(seed),
        "prevalence": float(prevalence),
        "normal_share": float(normal_share),
        "confounder": confounder,
        "confounder_label": confounder_label,
        "confounder_strength": float(confounder_strength),
    }
    return load_or_build(
        run_dir,
        "synthetic-cxr",
        parameters,
        lambda folder: datasets.write_synthetic_cxr(folder, **parameters),
        code=(radxai.data,),
    )


SYNTHETIC = "synthetic"


def dataset_spec(dataset: str, data_root: str | os.PathLike[str] | None, seed: int, **synthetic: Any) -> dict[str, Any]:
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
        raise ValueError(
            f"unknown dataset {dataset!r}; use {SYNTHETIC!r} or one of "
            f"{real.dataset_names()} (manifests in data_manifests/)"
        )
    if data_root is None:
        raise ValueError(
            f"dataset {dataset!r} needs data_root, the folder of its local copy "
            f"(check it with `radxai data verify {dataset} --root DIR`)"
        )
    return {"name": dataset, "root": str(Path(data_root).resolve()), "seed": seed}


def _real_records(task: str, dataset: Mapping[str, Any]) -> tuple[list[Any], list[str] | None]:
    """The records of a real dataset and, for X-rays, its class names; ValueError if the
    dataset's task is not ``task``."""
    from radxai.data import real

    name = dataset["name"]
    dataset_task = real.dataset_task(name)
    if dataset_task != task.split("-")[0]:
        raise ValueError(f"dataset {name!r} is a {dataset_task!r} dataset; this step needs a {task!r} dataset")
    records = real.load_dataset(
        name,
        dataset["root"],
        split_seed=int(dataset.get("seed", 0)),
        allow_incomplete=bool(dataset.get("allow_incomplete", False)),
    )
    return records, (real.dataset_class_names(name) if dataset_task == "cxr" else None)


def model_datasets(run_dir: Path, task: str, dataset: Mapping[str, Any], input_shape: Iterable[int]) -> dict[str, Any]:
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
    from radxai.data import ct_slices, datasets, real

    shape = tuple(int(size) for size in input_shape)
    if task not in ("ct", "ct-slices", "cxr"):
        raise ValueError(f"unknown task {task!r}: use 'ct', 'ct-slices' or 'cxr'")
    slicing = {name: dataset[name] for name in ("volume_shape", "view", "slices_per_study") if task == "ct-slices"}
    source = {name: value for name, value in dataset.items() if name not in slicing}
    class_names = None
    if "name" in source:
        records, class_names = _real_records(task, source)
    elif task == "cxr":
        records = real.load_dataset("vindr_cxr", synthetic_cxr_dataset(run_dir, **source))
    else:
        records = real.load_dataset("mosmeddata", synthetic_ct_dataset(run_dir, **source))
    by_split = {split: [record for record in records if record.split == split] for split in datasets.SPLITS}
    if task == "ct-slices":
        return {
            split: ct_slices.CTSliceDataset(studies, slice_shape=shape, **slicing)
            for split, studies in by_split.items()
        }
    if task == "ct":
        return {split: datasets.CTVolumeDataset(studies, shape=shape) for split, studies in by_split.items()}
    return {
        split: datasets.CXRImageDataset(images, shape=shape, class_names=class_names)
        for split, images in by_split.items()
    }


def trained_model(
    run_dir: Path,
    task: str,
    dataset: Mapping[str, Any],
    input_shape: Iterable[int],
    architecture: str,
    arguments: Mapping[str, Any],
    fit: Mapping[str, Any],
    augment_degrees: float = 0.0,
) -> Path:
    """The checkpoint of a PyTorch model trained on a synthetic task, trained once per run.

    Keyed by every argument (and the source of the data, model and training code), so notebooks
    asking for the same model share one checkpoint. The folder also holds ``history.json``.
    Load it with ``radxai.models.load``.
    """
    from radxai import models, train

    parameters = {
        "task": task,
        "dataset": dict(dataset),
        "input_shape": list(input_shape),
        "architecture": architecture,
        "arguments": dict(arguments),
        "fit": dict(fit),
        "augment_degrees": augment_degrees,
    }

    def build(folder: Path) -> None:
        splits = model_datasets(run_dir, task, dataset, input_shape)
        # The initial weights come from the global generators: seed them, or reruns differ.
        train.seed_everything(int(fit.get("seed", 0)))
        model = models.build(architecture, **arguments)
        augmentation = train.random_rotation(augment_degrees) if augment_degrees else None
        history = train.fit(
            model,
            splits["train"],
            splits["val"],
            train.FitConfig(**fit),
            checkpoint=folder / "model.pt",
            augmentation=augmentation,
        )
        write_history(history, folder)

    folder = load_or_build(run_dir, f"model-{architecture}", parameters, build, code=torch_training_code())
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


def trained_keras_cnn3d(
    run_dir: Path,
    dataset: Mapping[str, Any],
    input_shape: Iterable[int],
    arguments: Mapping[str, Any],
    fit: Mapping[str, Any],
) -> Path:
    """The saved Keras 3D CNN trained on the synthetic CT task, once per run.

    Returns the archive path; load it with ``radxai.models.keras_cnn3d.load_keras_cnn3d``.
    """
    from radxai import train
    from radxai.keras_training import fit_keras
    from radxai.models import keras_cnn3d

    parameters = {
        "dataset": dict(dataset),
        "input_shape": list(input_shape),
        "arguments": dict(arguments),
        "fit": dict(fit),
    }

    def build(folder: Path) -> None:
        config = train.FitConfig(**fit)
        splits = model_datasets(run_dir, "ct", dataset, input_shape)
        build_arguments = {"input_shape": list(input_shape), "seed": config.seed, **arguments}
        model = keras_cnn3d.build_keras_cnn3d(**build_arguments)
        history = fit_keras(model, splits["train"], splits["val"], config)
        keras_cnn3d.save_keras_cnn3d(model, folder / "model.zip", build_arguments)
        write_history(history, folder)

    import radxai.keras_training

    folder = load_or_build(
        run_dir, "model-keras-cnn3d", parameters, build, code=(*torch_training_code(), radxai.keras_training)
    )
    return folder / "model.zip"


TIMINGS_FILE = "timings.json"


def write_history(history: Any, folder: Path) -> None:
    """``history.json`` (deterministic) and ``timings.json`` (wall clock) next to a checkpoint."""
    write_json_atomically(history.as_dict(), folder / "history.json")
    write_json_atomically(
        {"epochs": history.timings, "train_samples_per_second": history.samples_per_second()}, folder / TIMINGS_FILE
    )


def training_history(checkpoint: Path) -> dict[str, Any]:
    """The ``history.json`` written next to a checkpoint by a recipe (``trained_model``, the Keras
    and the guided ones)."""
    return json.loads((Path(checkpoint).parent / "history.json").read_text())


def training_timings(checkpoint: Path) -> dict[str, Any]:
    """The wall-clock ``timings.json`` written next to a checkpoint (varies between runs)."""
    return json.loads((Path(checkpoint).parent / TIMINGS_FILE).read_text())
