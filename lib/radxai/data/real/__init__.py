"""Loaders of the datasets described in ``data_manifests/``, real copies and synthetic ones in their layouts.

One module per dataset reads its published folder layouts and defines its `DatasetLoader`
(``LOADER``: the manifest name and the ``survey`` function); this module dispatches by name:

    load_dataset("mosmeddata", "/data/COVID19_1110")            -> list[MosMedStudy]
    load_dataset("vindr_cxr", "/data/vindr-cxr/1.0.0")          -> list[VinDrImage]
    load_dataset("eye_gaze", "/data/egd-cxr/1.0.0", image_root="/data/mimic-cxr/2.0.0")

CT datasets give ``CTStudy`` subclasses and X-ray datasets ``CXRImage`` subclasses, with
splits assigned, so ``CTVolumeDataset`` / ``CXRImageDataset`` take them unchanged. The
synthetic sets (``radxai.data.datasets.write_synthetic_ct`` / ``write_synthetic_cxr``) are
written in the MosMedData and VinDr-CXR layouts and read here too, by those loaders (layout
"synthetic", recognised by its side table), so a synthetic run exercises the loaders a real
copy goes through.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from radxai.data import datasets
from radxai.data.manifests import load_manifest
from radxai.data.real import eye_gaze, mosmeddata, pediatric_pneumonia, rad_chestct, vindr_cxr
from radxai.data.real._common import (
    DatasetLoader,
    MissingFile,
    Survey,
    UnreadableFile,
)

__all__ = [
    "DatasetLoader",
    "MissingFile",
    "Survey",
    "UnreadableFile",
    "dataset_class_names",
    "dataset_names",
    "dataset_task",
    "load_dataset",
    "survey_dataset",
]

_LOADERS: dict[str, DatasetLoader] = {
    loader.name: loader
    for loader in (mosmeddata.LOADER, pediatric_pneumonia.LOADER, vindr_cxr.LOADER, rad_chestct.LOADER, eye_gaze.LOADER)
}


def dataset_names() -> list[str]:
    """The names of the datasets radxai can read (each a real dataset's layouts), sorted."""
    return sorted(_LOADERS)


def _loader(name: str) -> DatasetLoader:
    if name not in _LOADERS:
        raise ValueError(
            f"unknown dataset {name!r}; real datasets are {dataset_names()} "
            "(a synthetic copy is read by the loader of its layout: mosmeddata or vindr_cxr)"
        )
    return _LOADERS[name]


def dataset_task(name: str) -> str:
    """ "ct" for a CT dataset (loaders give CTStudy records), "cxr" for X-rays (CXRImage)."""
    _loader(name)
    return load_manifest(name).task


def dataset_class_names(name: str) -> list[str]:
    """An X-ray dataset's class names in model-output order; every record's ``labels`` has
    these keys.

    vindr_cxr: ``datasets.cxr_class_names()`` (the seven findings of the multi-label X-ray
    work plus "No finding", the synthetic set's classes; the records also label every other
    VinDr-CXR class). pediatric_pneumonia: NORMAL, PNEUMONIA. eye_gaze: Normal, CHF,
    pneumonia. CT datasets carry one binary ``label`` per study and raise ``ValueError``.
    """
    _loader(name)
    manifest = load_manifest(name)
    if manifest.task != "cxr":
        raise ValueError(f"{name} is a CT dataset: each study has one binary label, not classes")
    if name == vindr_cxr.NAME:
        return datasets.cxr_class_names()
    return manifest.label_strings("classes")


def survey_dataset(name: str, root: str | Path, split_seed: int = 0, **options: Any) -> Survey:
    """What the local copy at ``root`` holds (records, missing and unreadable files, counts)
    without decoding any image; ``options`` go to the dataset's loader (eye_gaze:
    ``image_root``; rad_chestct: ``target``)."""
    return _loader(name).survey(Path(root), split_seed=split_seed, **options)


def load_dataset(
    name: str, root: str | Path, split_seed: int = 0, allow_incomplete: bool = False, **options: Any
) -> list[datasets.CTStudy] | list[datasets.CXRImage]:
    """The records of dataset ``name`` at ``root`` (a real copy, or a synthetic one in its
    layout), with splits assigned.

    split_seed: seeds the split where the dataset has none of its own. allow_incomplete:
    load whatever is present instead of refusing a copy with missing or unreadable files or
    fewer items than the publisher reports. options: see ``survey_dataset``.
    Raises ``DatasetLayoutError`` naming the manifest, the files and the expected layout for
    a root that is not the dataset, a damaged table or a half-copied dataset, and
    ``checksums.DatasetIntegrityError`` naming the files of a synthetic copy changed since it was
    written.
    """
    return _loader(name).records(root, split_seed, allow_incomplete, **options)
