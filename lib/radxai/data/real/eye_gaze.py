"""Eye Gaze Data for Chest X-rays (EGD-CXR, PhysioNet) with its MIMIC-CXR images.

    DIR/master_sheet.csv       dicom_id, path, patient_id, Normal, CHF, pneumonia, ...
    DIR/fixations.csv          DICOM_ID, ..., FPOGD, ..., X_ORIGINAL, Y_ORIGINAL
    IMAGE_ROOT/<path>          files/pNN/pNNNNNNNN/sNNNNNNNN/<dicom_id>.dcm (or .jpg)

IMAGE_ROOT is the ``image_root`` option (the mimic-cxr 2.0.0 folder), else DIR itself. Each
image carries its fixations as a float64 (K, 3) array with columns x_pixel (column),
y_pixel (row) in the original image's pixel grid and duration_seconds, in the continuous
convention of ``radxai.data.gaze`` (pixel (r, c) spans [c, c + 1) x [r, r + 1)): the
authors' X_ORIGINAL / Y_ORIGINAL are whole pixel indices (truncated positions), so each
fixation is placed at its pixel's centre, index + 1/2. Fixations outside the image (negative
coordinates in the authors' mapping) are dropped. Gaussian gaze heatmaps are made from them
by ``radxai.data.gaze.gaze_heatmap(fixations, shape, sigma)``. Classes: Normal,
CHF, pneumonia (exactly one per image). Splits: patients are split 60/20/20, stratified by
class, with the split seed (the dataset has no split).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radxai.data import io
from radxai.data.datasets import CXRImage
from radxai.data.gaze import FIXATION_COLUMNS
from radxai.data.manifests import Manifest, load_manifest
from radxai.data.real._common import (
    DatasetLoader,
    MissingFile,
    Survey,
    grouped_stratified_split,
    layout_error,
    leaves_folder,
    parse_binary,
    parse_number,
    read_table,
    with_manifest,
)

__all__ = ["LOADER", "NAME", "FIXATION_COLUMNS", "EyeGazeImage", "survey"]

NAME = "eye_gaze"
_DICOM_SUFFIX = ".dcm"
# A whole pixel index c stands for the positions [c, c + 1); its centre is c + 1/2.
_PIXEL_CENTRE = 0.5


@dataclass(frozen=True, eq=False, kw_only=True)
class EyeGazeImage(CXRImage):
    """A MIMIC-CXR image read by a radiologist under an eye tracker.

    class_name: "Normal", "CHF" or "pneumonia". patient_id: MIMIC subject id.
    fixations: float64 (K, 3), columns ``radxai.data.gaze.FIXATION_COLUMNS`` = x_pixel,
    y_pixel (continuous positions in the original image's pixels, x = column, y = row) and
    duration_seconds.
    """

    class_name: str
    patient_id: str
    fixations: np.ndarray
    manifest_path: Path | None = None

    def load(self) -> np.ndarray:
        """The image as float32 (H, W) in [0, 1], bright = dense (DICOM or MIMIC-CXR-JPG)."""
        try:
            if self.path.suffix.lower() == _DICOM_SUFFIX:
                return io.read_dicom_image(self.path)
            return io.read_image(self.path)
        except io.ImageReadError as error:
            raise io.ImageReadError(with_manifest(str(error), self.manifest_path)) from error


def survey(root: Path, split_seed: int = 0, image_root: Path | None = None) -> Survey:
    """Find the images and fixations of an EGD-CXR copy at ``root``; see module docstring.

    Raises ``DatasetLayoutError`` (naming the manifest, the table and line, and the expected
    layout) for a root without master_sheet.csv or fixations.csv, missing columns, a row with
    no or several classes, a duplicate dicom_id, or a non-numeric or negative-duration fixation.
    """
    manifest = load_manifest(NAME)
    root = Path(root)
    if not root.is_dir():
        raise layout_error(manifest, root, "no such folder")
    sheet = root / manifest.label_value("master_sheet", kind=str)
    fixation_table = root / manifest.label_value("fixations_file", kind=str)
    for table in (sheet, fixation_table):
        if not table.is_file():
            raise layout_error(manifest, table, "not found: this is not an EGD-CXR folder")
    images = _read_master_sheet(manifest, sheet)
    fixations = _read_fixations(manifest, fixation_table, set(images))
    bases = [Path(image_root)] if image_root is not None else []
    bases.append(root)
    suffixes = manifest.label_strings("image_suffixes")
    classes = manifest.label_strings("classes")
    found, missing = [], []
    for image_id in sorted(images):
        class_name, patient_id, relative, where = images[image_id]
        path = _existing_image(bases, relative, suffixes)
        if path is None:
            missing.append(MissingFile(relative, where))
        else:
            found.append((image_id, class_name, patient_id, path))
    splits = grouped_stratified_split([item[1] for item in found], [item[2] for item in found], seed=split_seed)
    empty = np.zeros((0, len(FIXATION_COLUMNS)), dtype=np.float64)
    records = [
        EyeGazeImage(
            image_id=image_id,
            path=path,
            split=split,
            labels={name: name == class_name for name in classes},
            annotations=(),
            class_name=class_name,
            patient_id=patient_id,
            fixations=fixations.get(image_id, empty),
            manifest_path=manifest.path,
        )
        for (image_id, class_name, patient_id, path), split in zip(found, splits)
    ]
    counts: Counter[str] = Counter({"images": len(records)})
    counts.update(record.class_name for record in records)
    return Survey(
        manifest,
        root,
        root,
        "physionet",
        records,
        missing,
        tables=[sheet, fixation_table],
        counts=dict(counts),
        other_roots=bases[:-1],
    )


def _read_master_sheet(manifest: Manifest, sheet: Path) -> dict[str, tuple[str, str, str, str]]:
    classes = manifest.label_strings("classes")
    id_column = manifest.label_value("image_id_column", kind=str)
    path_column = manifest.label_value("image_path_column", kind=str)
    patient_column = manifest.label_value("patient_column", kind=str)
    images: dict[str, tuple[str, str, str, str]] = {}
    for row in read_table(manifest, sheet, [id_column, path_column, patient_column, *classes]):
        where = f"{sheet} line {row.line}"
        image_id = row.values[id_column]
        present = [name for name in classes if parse_binary(manifest, sheet, row, name)]
        if len(present) != 1:
            raise layout_error(
                manifest, where, f"image {image_id} has classes {present}; expected exactly one of {classes}"
            )
        if image_id in images:
            raise layout_error(manifest, where, f"dicom_id {image_id} appears twice (first at {images[image_id][3]})")
        if not row.values[path_column]:
            raise layout_error(manifest, where, f"image {image_id} has an empty {path_column!r}")
        if leaves_folder(row.values[path_column]):
            raise layout_error(
                manifest,
                where,
                f"image {image_id}'s {path_column!r} "
                f"{row.values[path_column]!r} leaves the image folders "
                "(absolute or '..'); refused",
            )
        images[image_id] = (
            present[0],
            row.values[patient_column],
            row.values[path_column],
            f"{sheet.name} line {row.line}",
        )
    return images


def _read_fixations(manifest: Manifest, table: Path, image_ids: set[str]) -> dict[str, np.ndarray]:
    names = manifest.label_value("fixation_columns", kind=dict)
    id_column, x_column, y_column, duration_column = (names["image_id"], names["x"], names["y"], names["duration"])
    points: dict[str, list[tuple[float, float, float]]] = {}
    for row in read_table(manifest, table, [id_column, x_column, y_column, duration_column]):
        image_id = row.values[id_column]
        # Rows of the calibration image and of images outside the master sheet carry no label.
        if image_id not in image_ids:
            continue
        x = parse_number(manifest, table, row, x_column)
        y = parse_number(manifest, table, row, y_column)
        duration = parse_number(manifest, table, row, duration_column)
        if duration < 0:
            raise layout_error(
                manifest,
                f"{table} line {row.line}",
                f"negative fixation duration {duration} s in column {duration_column!r}",
            )
        if x >= 0 and y >= 0:
            points.setdefault(image_id, []).append((x + _PIXEL_CENTRE, y + _PIXEL_CENTRE, duration))
    return {image_id: np.array(rows, dtype=np.float64) for image_id, rows in points.items()}


def _existing_image(bases: list[Path], relative: str, suffixes: list[str]) -> Path | None:
    stem = Path(relative).with_suffix("")
    for base in bases:
        for candidate in (Path(relative), *(stem.with_suffix(suffix) for suffix in suffixes)):
            path = base / candidate
            if path.is_file():
                return path
    return None


LOADER = DatasetLoader(NAME, survey)
