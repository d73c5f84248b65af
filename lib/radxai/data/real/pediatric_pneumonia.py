"""Pediatric pneumonia chest X-rays (Kermany et al. 2018) in their published layouts.

    DIR/chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg    (Kaggle mirror)
    DIR/chest_xray/{train,test}/{NORMAL,PNEUMONIA}/*.jpeg        (Mendeley ChestXRay2017.zip)

DIR may also be the chest_xray folder itself. The class is the folder; a pneumonia's subtype
(bacteria or virus) is the word in its file name (person<N>_bacteria_<M>.jpeg). Splits are
the folders; without a val/ folder, a validation split is carved from train/ by patient (the
patient id in the file name), stratified by class, with the split seed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radxai.data import io
from radxai.data.datasets import CXRImage
from radxai.data.manifests import Manifest, load_manifest
from radxai.data.real._common import DatasetLoader, Survey, grouped_stratified_split, layout_error, with_manifest

__all__ = ["LOADER", "NAME", "PediatricCXRImage", "patient_id_of", "subtype_of", "survey"]

NAME = "pediatric_pneumonia"
_FOLDER_SPLITS = ("train", "val", "test")


@dataclass(frozen=True, eq=False, kw_only=True)
class PediatricCXRImage(CXRImage):
    """A pediatric chest X-ray. class_name: "NORMAL" or "PNEUMONIA"; subtype: "bacteria",
    "virus" or None; patient_id: from the file name; folder_split: the folder it is in (its
    ``split`` differs only for images carved from train/ into val)."""

    class_name: str
    subtype: str | None
    patient_id: str
    folder_split: str
    manifest_path: Path | None = None

    def load(self) -> np.ndarray:
        """The image as float32 (H, W) in [0, 1] (colour files converted to grayscale)."""
        try:
            return io.read_image(self.path)
        except io.ImageReadError as error:
            raise io.ImageReadError(with_manifest(str(error), self.manifest_path)) from error


def subtype_of(file_name: str, subtypes: list[str]) -> str | None:
    """The pneumonia subtype named in ``file_name`` (e.g. "bacteria"), or None."""
    tokens = re.split(r"[_\-.\s]+", file_name.lower())
    found = [subtype for subtype in subtypes if subtype in tokens]
    return found[0] if len(found) == 1 else None


def patient_id_of(file_stem: str, patterns: list[str]) -> str:
    """The patient id in a file name (first group of the first matching pattern), or the stem
    itself when no pattern matches (then the image is its own group)."""
    for pattern in patterns:
        match = re.match(pattern, file_stem)
        if match:
            return match.group(1)
    return file_stem


def survey(root: Path, split_seed: int = 0) -> Survey:
    """Find the images of a pediatric pneumonia copy at ``root``; see the module docstring.

    Raises ``DatasetLayoutError`` (naming the manifest and the expected layouts) for a root
    without train/ and test/ folders or a class folder that is not NORMAL or PNEUMONIA.
    """
    manifest = load_manifest(NAME)
    root = Path(root)
    if not root.is_dir():
        raise layout_error(manifest, root, "no such folder")
    base = root / "chest_xray" if (root / "chest_xray").is_dir() else root
    absent = [name for name in ("train", "test") if not (base / name).is_dir()]
    if absent:
        raise layout_error(manifest, base, f"not a chest_xray folder: the split folders {absent} are missing")
    classes = manifest.label_strings("classes")
    subtypes = manifest.label_strings("subtypes")
    subtyped_class = manifest.label_value("subtyped_class", kind=str)
    patterns = manifest.label_strings("patient_id_patterns")
    suffixes = {suffix.lower() for suffix in manifest.label_strings("image_suffixes")}
    found = []
    for folder_split in _FOLDER_SPLITS:
        for class_name, path in _images(manifest, base / folder_split, classes, suffixes):
            found.append((folder_split, class_name, path))
    has_val = (base / "val").is_dir()
    splits = _splits(manifest, found, patterns, has_val, split_seed)
    records = []
    counts: Counter[str] = Counter()
    for (folder_split, class_name, path), split in zip(found, splits):
        subtype = subtype_of(path.stem, subtypes) if class_name == subtyped_class else None
        counts[f"{folder_split}/{class_name}"] += 1
        if subtype is not None:
            counts[f"{class_name}/{subtype}"] += 1
        records.append(
            PediatricCXRImage(
                image_id=path.relative_to(base).with_suffix("").as_posix(),
                path=path,
                split=split,
                labels={name: name == class_name for name in classes},
                annotations=(),
                class_name=class_name,
                subtype=subtype,
                patient_id=patient_id_of(path.stem, patterns),
                folder_split=folder_split,
                manifest_path=manifest.path,
            )
        )
    return Survey(manifest, root, base, "kaggle" if has_val else "mendeley", records, counts=dict(counts))


def _images(manifest: Manifest, split_folder: Path, classes: list[str], suffixes: set[str]) -> list[tuple[str, Path]]:
    if not split_folder.is_dir():
        return []
    images = []
    for class_folder in sorted(split_folder.iterdir()):
        if class_folder.name.startswith(".") or not class_folder.is_dir():
            continue
        if class_folder.name not in classes:
            raise layout_error(manifest, class_folder, f"unknown class folder; expected only {classes}")
        # Hidden files include macOS "._name.jpeg" resource forks, which are no images.
        images.extend(
            (class_folder.name, path)
            for path in sorted(class_folder.iterdir())
            if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in suffixes
        )
    return images


def _splits(
    manifest: Manifest, found: list[tuple[str, str, Path]], patterns: list[str], has_val: bool, split_seed: int
) -> list[str]:
    splits = [folder_split for folder_split, _, _ in found]
    if has_val:
        return splits
    val_fraction = float(manifest.label_value("carved_val_fraction", kind=(int, float)))
    train = [index for index, split in enumerate(splits) if split == "train"]
    carved = grouped_stratified_split(
        [found[index][1] for index in train],
        [patient_id_of(found[index][2].stem, patterns) for index in train],
        {"train": 1.0 - val_fraction, "val": val_fraction},
        seed=split_seed,
    )
    for index, split in zip(train, carved):
        splits[index] = split
    return splits


LOADER = DatasetLoader(NAME, survey)
