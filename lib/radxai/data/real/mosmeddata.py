"""MosMedData COVID19_1110 (chest CT, Moscow 2020) in its two published layouts.

Full dataset::

    DIR/studies/CT-<g>/study_<NNNN>.nii.gz    g = 0..4, the severity grade
    DIR/masks/study_<NNNN>_mask.nii.gz        lesion masks (50 studies of CT-1)

Keras 3D tutorial subset::

    DIR/CT-0/study_<NNNN>.nii.gz              normal
    DIR/CT-23/study_<NNNN>.nii.gz             grade 2 or 3, told apart by study number

radxai's synthetic phantoms are written in the full layout with a side table
(``synthetic_studies.csv``: the writer's splits, confounders, involvement) and the ground truth
real data lacks (``organs/``, ``confounders/``, ``lesion_free/``), and are read here too, as
layout "synthetic": the code that reads a researcher's copy is the code the tests and the
synthetic runs exercise.

Labels: 0 for CT-0, 1 for CT-1..CT-4; the grade is kept. Every study and mask is reoriented
with its own affine to the synthetic phantoms' voxel order, so real and synthetic arrays are
both (D, H, W) with columns toward the patient's left, rows toward posterior and slices toward
the feet. Splits: stratified by grade with the split seed (the dataset has no split).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from radxai.data import io
from radxai.data.datasets import CT_STUDY_PATTERN, CTStudy, stratified_split
from radxai.data.manifests import Manifest, load_manifest
from radxai.data.orientation import PHANTOM_AXIS_CODES, reorient_like_phantoms
from radxai.data.real._common import (
    DatasetLoader,
    MissingFile,
    Survey,
    layout_error,
    synthetic_side_table,
    synthetic_split,
    with_manifest,
)
from radxai.data.volume import Volume

__all__ = ["LOADER", "NAME", "PHANTOM_AXIS_CODES", "MosMedStudy", "reorient_like_phantoms", "survey"]

NAME = "mosmeddata"
SYNTHETIC_TABLE = "synthetic_studies.csv"
_GRADE_FOLDER = re.compile(r"^CT-(\d+)$")
_MASK_PATTERN = re.compile(r"^study_(\d+)_mask\.nii(\.gz)?$")
_KERAS_FOLDERS = ("CT-0", "CT-23")


@dataclass(frozen=True, eq=False, kw_only=True)
class MosMedStudy(CTStudy):
    """A MosMedData study. ``grade_from_study_number`` is True for the Keras CT-23 folder,
    whose grade (2 or 3) comes from the study-number ranges in the manifest."""

    grade_from_study_number: bool = False
    manifest_path: Path | None = None

    def load(self, allow_nan: bool = False) -> Volume:
        """`CTStudy.load` (HU, reoriented like the phantoms, with its masks), its read errors
        naming the dataset's manifest."""
        try:
            return super().load(allow_nan)
        except io.ImageReadError as error:
            raise io.ImageReadError(with_manifest(str(error), self.manifest_path)) from error


def survey(root: Path, split_seed: int = 0) -> Survey:
    """Find the studies of a MosMedData copy at ``root`` (either layout); see module docstring.

    Raises ``DatasetLayoutError`` (naming the manifest and the expected layouts) for a root
    that is neither layout, an unknown grade folder, or a CT-23 study whose number lies
    outside the manifest's CT-2/CT-3 ranges.
    """
    manifest = load_manifest(NAME)
    root = Path(root)
    if not root.is_dir():
        raise layout_error(manifest, root, "no such folder")
    for base in (root, root / "COVID19_1110"):
        if (base / "studies").is_dir():
            return _survey_full(manifest, root, base, split_seed)
    if any((root / folder).is_dir() for folder in _KERAS_FOLDERS):
        return _survey_keras(manifest, root, split_seed)
    raise layout_error(manifest, root, "not a MosMedData folder: found neither studies/ nor CT-0/ and CT-23/")


def _study_files(folder: Path) -> list[tuple[int, Path]]:
    found = []
    for path in sorted(folder.iterdir()):
        match = CT_STUDY_PATTERN.search(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return found


def _survey_full(manifest: Manifest, root: Path, base: Path, split_seed: int) -> Survey:
    side_table = synthetic_side_table(manifest, base, SYNTHETIC_TABLE, "study_id")
    grades = manifest.label_value("grades", kind=dict)
    found: list[tuple[int, int, Path]] = []
    for folder in sorted((base / "studies").iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        if folder.name not in grades:
            raise layout_error(manifest, folder, f"unknown grade folder; expected one of {sorted(grades)}")
        grade = int(_GRADE_FOLDER.match(folder.name).group(1))  # type: ignore[union-attr]
        found.extend((number, grade, path) for number, path in _study_files(folder))
    studies_by_number = {number: (grade, path) for number, grade, path in found}
    masks, missing = _masks(root, base, studies_by_number)
    counts = Counter(f"CT-{grade}" for _, grade, _ in found)
    counts["masks"] = len(masks)
    if side_table is not None:
        records = _synthetic_records(manifest, base, found, masks, side_table)
        return Survey(manifest, root, base, "synthetic", records, missing, counts=dict(counts))
    records = _records(manifest, found, masks, {}, split_seed)
    return Survey(manifest, root, base, "full", records, missing, counts=dict(counts))


def _synthetic_records(
    manifest: Manifest,
    base: Path,
    found: list[tuple[int, int, Path]],
    masks: dict[int, Path],
    side_table: dict[str, dict[str, str]],
) -> list[MosMedStudy]:
    """The studies of a synthetic copy: the writer's splits, and the ground truth real data lacks
    (organ labels, confounder voxels and names, involvement, lesion-free twins) where present."""
    records = []
    for number, grade, path in sorted(found):
        study_id = f"study_{number:04d}"
        row = side_table.get(study_id, {})
        records.append(
            MosMedStudy(
                study_id,
                grade,
                path,
                synthetic_split(manifest, side_table, study_id, base / SYNTHETIC_TABLE),
                mask_path=masks.get(number),
                organ_path=_existing(base / "organs" / f"{study_id}_organs.nii.gz"),
                confounders=tuple(name for name in row.get("confounders", "").split(";") if name),
                involvement=float(row["involvement"]) if row.get("involvement") else None,
                confounder_path=_existing(base / "confounders" / f"{study_id}_confounders.nii.gz"),
                lesion_free_path=_existing(base / "lesion_free" / f"{study_id}_lesion_free.nii.gz"),
                manifest_path=manifest.path,
            )
        )
    return records


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def _masks(root: Path, base: Path, studies: dict[int, tuple[int, Path]]) -> tuple[dict[int, Path], list[MissingFile]]:
    masks: dict[int, Path] = {}
    missing = []
    mask_folder = base / "masks"
    studies_folder = (base / "studies").relative_to(root).as_posix()
    for path in sorted(mask_folder.iterdir()) if mask_folder.is_dir() else []:
        match = _MASK_PATTERN.match(path.name)
        if not match:
            continue
        number = int(match.group(1))
        if number in studies:
            masks[number] = path
        else:
            missing.append(
                MissingFile(
                    f"{studies_folder}/CT-<grade>/study_{number:04d}.nii.gz",
                    f"its lesion mask {path.relative_to(root).as_posix()} exists",
                )
            )
    return masks, missing


def _survey_keras(manifest: Manifest, root: Path, split_seed: int) -> Survey:
    folder_grades = manifest.label_value("keras_subset_folders", kind=dict)
    ranges = manifest.label_value("study_numbers", kind=dict)
    found: list[tuple[int, int, Path]] = []
    from_number: set[int] = set()
    counts: Counter[str] = Counter()
    for folder_name in _KERAS_FOLDERS:
        folder = root / folder_name
        if not folder.is_dir():
            continue
        allowed = [int(grade) for grade in folder_grades[folder_name]]
        for number, path in _study_files(folder):
            counts[folder_name] += 1
            if len(allowed) == 1:
                found.append((number, allowed[0], path))
                continue
            grade = _grade_of_number(manifest, ranges, allowed, number, path)
            found.append((number, grade, path))
            from_number.add(number)
    records = _records(manifest, found, {}, from_number, split_seed)
    return Survey(manifest, root, root, "keras_subset", records, counts=dict(counts))


def _grade_of_number(manifest: Manifest, ranges: dict, allowed: list[int], number: int, path: Path) -> int:
    for grade in allowed:
        low, high = ranges[f"CT-{grade}"]
        if low <= number <= high:
            return grade
    spans = ", ".join(f"CT-{grade} {ranges[f'CT-{grade}'][0]}-{ranges[f'CT-{grade}'][1]}" for grade in allowed)
    raise layout_error(
        manifest,
        path,
        f"study number {number} lies outside the study-number ranges of the grades "
        f"this folder may hold ({spans}; manifest key labels.study_numbers)",
    )


def _records(
    manifest: Manifest,
    found: list[tuple[int, int, Path]],
    masks: dict[int, Path],
    from_number: set[int],
    split_seed: int,
) -> list[MosMedStudy]:
    found = sorted(found)
    splits = stratified_split([grade for _, grade, _ in found], seed=split_seed)
    return [
        MosMedStudy(
            f"study_{number:04d}",
            grade,
            path,
            split,
            mask_path=masks.get(number),
            grade_from_study_number=number in from_number,
            manifest_path=manifest.path,
        )
        for (number, grade, path), split in zip(found, splits)
    ]


LOADER = DatasetLoader(NAME, survey)
