"""RAD-ChestCT (Report-Annotated Duke Chest CT), public Zenodo release.

    DIR/img{train,valid,test}_Abnormality_and_Location_Labels.csv
        NoteAcc_DEID, then one 0/1 column per "<abnormality>*<location>" pair
    DIR/Summary_3630.csv                  the volumes of the release (optional)
    DIR/**/<NoteAcc_DEID>.npz             key "ct": int16 HU, (D, H, W), axial slices first

The label file gives the split (train / val / test). Volumes are 0.8 mm isotropic, with
slices running head to feet, rows anterior to posterior and columns patient right to left,
which is the synthetic phantoms' voxel order; the affine is ``datasets.ct_affine``.
A study's binary ``label`` is its ``target`` abnormality (in any location) or, without a
target, any abnormality; ``grade`` holds the same 0/1 (this dataset has no severity grade).
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from radxai.data import io
from radxai.data.datasets import CTStudy, ct_affine
from radxai.data.manifests import Manifest, load_manifest
from radxai.data.real._common import (
    DatasetLoader,
    MissingFile,
    Survey,
    layout_error,
    read_table,
    table_columns,
    with_manifest,
)
from radxai.data.volume import Volume

__all__ = ["LOADER", "NAME", "RadChestCTStudy", "read_npz_volume", "survey"]

NAME = "rad_chestct"
_VOLUME_ID = re.compile(r"^(trn|val|tst)\d+$")


def read_npz_volume(path: Path, key: str, spacing_mm: tuple[float, float, float]) -> Volume:
    """A RAD-ChestCT volume: array ``key`` of the .npz at ``path``, (D, H, W) HU, with the
    phantoms' affine (``datasets.ct_affine``) for voxel size ``spacing_mm`` (dz, dy, dx).

    Raises ``ImageReadError`` naming the file for a missing, truncated or non-npz file, a
    missing key, or an array that is not 3D.
    """
    path = Path(path)
    if not path.is_file():
        raise io.ImageReadError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if key not in archive.files:
                raise io.ImageReadError(f"{path}: no array {key!r} (arrays: {archive.files})")
            array = archive[key]
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as error:
        raise io.ImageReadError(f"{path}: not a readable .npz volume: {error}") from error
    if array.ndim != 3:
        raise io.ImageReadError(f"{path}: expected a 3D (D, H, W) volume, got shape {array.shape}")
    return Volume(array, ct_affine(array.shape, spacing_mm), tuple(spacing_mm))


@dataclass(frozen=True, eq=False, kw_only=True)
class RadChestCTStudy(CTStudy):
    """A RAD-ChestCT volume. abnormality_locations: each abnormality present -> the locations
    marked for it. target: the abnormality that defines ``label``, or None for "any
    abnormality"."""

    abnormality_locations: dict[str, tuple[str, ...]]
    target: str | None = None
    volume_key: str = "ct"
    spacing_mm: tuple[float, float, float] = (0.8, 0.8, 0.8)
    manifest_path: Path | None = None

    @property
    def label(self) -> int:
        """1 if the target abnormality (or, without a target, any abnormality) is present."""
        return int(_positive(self.abnormality_locations, self.target))

    def load(self, allow_nan: bool = False) -> Volume:
        """The volume in HU (int16), (D, H, W), without masks. ``allow_nan`` has no effect:
        integer volumes cannot hold NaN."""
        try:
            return read_npz_volume(self.path, self.volume_key, self.spacing_mm)
        except io.ImageReadError as error:
            raise io.ImageReadError(with_manifest(str(error), self.manifest_path)) from error


def survey(root: Path, split_seed: int = 0, target: str | None = None) -> Survey:
    """Find the labelled volumes of a RAD-ChestCT copy at ``root``; see module docstring.

    ``split_seed`` is unused (the label files give the split) and kept for a uniform
    signature. ``target``: an abnormality name from the label files. Raises
    ``DatasetLayoutError`` naming the manifest for a root without label files, a malformed
    label column, a non-0/1 value or two volumes with one id; ``ValueError`` for an unknown
    target.
    """
    manifest = load_manifest(NAME)
    root = Path(root)
    if not root.is_dir():
        raise layout_error(manifest, root, "no such folder")
    label_files = manifest.label_value("label_files", kind=dict)
    present = {split: root / name for split, name in label_files.items() if (root / name).is_file()}
    if not present:
        raise layout_error(
            manifest, root, f"not a RAD-ChestCT folder: none of the label files {sorted(label_files.values())} is here"
        )
    missing = [
        MissingFile(name, "the manifest's labels.label_files")
        for split, name in label_files.items()
        if split not in present
    ]
    labelled, abnormalities = {}, set()
    for split, table in present.items():
        table_labels, table_abnormalities = _read_labels(manifest, table)
        abnormalities.update(table_abnormalities)
        for volume_id, (positives, where) in table_labels.items():
            labelled[volume_id] = (split, positives, where)
    if target is not None and target not in abnormalities:
        raise ValueError(
            f"unknown RAD-ChestCT target {target!r}; the label files name "
            f"{len(abnormalities)} abnormalities: {sorted(abnormalities)}"
        )
    volumes = _volume_index(manifest, root)
    release = _release_ids(manifest, root)
    records = []
    for volume_id in sorted(labelled):
        split, positives, where = labelled[volume_id]
        path = volumes.get(volume_id)
        if path is None:
            if release is not None and volume_id in release:
                missing.append(MissingFile(f"**/{volume_id}.npz", where))
            continue
        records.append(_record(manifest, volume_id, split, path, positives, target))
    tables = list(present.values())
    if (root / manifest.label_value("release_listing", kind=str)).is_file():
        tables.append(root / manifest.label_value("release_listing", kind=str))
    counts: Counter[str] = Counter({"volumes": len(records)})
    for record in records:
        counts.update(record.abnormality_locations.keys())
    return Survey(manifest, root, root, "zenodo", records, missing, tables=tables, counts=dict(counts))


def _read_labels(manifest: Manifest, table: Path) -> tuple[dict[str, tuple[dict[str, tuple[str, ...]], str]], set[str]]:
    """Per volume id: its positive abnormalities -> locations, and where it is listed; and the
    abnormality names of the table's header. pandas reads the table because the full label
    matrix has thousands of columns."""
    separator = manifest.label_value("label_separator", kind=str)
    id_column = manifest.label_value("id_column", kind=str)
    columns = table_columns(manifest, table)
    if columns[0] != id_column:
        raise layout_error(manifest, table, f"the first column must be {id_column!r}, found {columns[0]!r}")
    pairs = []
    for column in columns[1:]:
        parts = column.split(separator)
        if len(parts) != 2 or not all(parts):
            raise layout_error(manifest, table, f"label column {column!r} is not '<abnormality>{separator}<location>'")
        pairs.append((parts[0], parts[1]))
    try:
        frame = pd.read_csv(table, dtype={id_column: str}, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise layout_error(manifest, table, f"not a readable CSV table: {error}") from error
    values = frame.iloc[:, 1:].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad_rows, bad_columns = np.nonzero(~np.isin(values, (0.0, 1.0)))
    if bad_rows.size:
        row, column = int(bad_rows[0]), int(bad_columns[0])
        value = frame.iloc[row, column + 1]
        text = "" if pd.isna(value) else str(value)
        raise layout_error(
            manifest, f"{table} line {row + 2}", f"column {columns[column + 1]!r} holds {text!r}, expected 0 or 1"
        )
    locations: list[dict[str, list[str]]] = [{} for _ in range(len(frame))]
    for row, column in zip(*np.nonzero(values == 1.0)):
        abnormality, location = pairs[column]
        locations[row].setdefault(abnormality, []).append(location)
    labels = {}
    for row, volume_id in enumerate(frame[id_column].astype(str)):
        positives = {name: tuple(sorted(places)) for name, places in locations[row].items()}
        labels[volume_id] = (positives, f"{table.name} line {row + 2}")
    return labels, {abnormality for abnormality, _ in pairs}


def _volume_index(manifest: Manifest, root: Path) -> dict[str, Path]:
    volumes: dict[str, Path] = {}
    for path in sorted(root.rglob("*.npz")):
        if path.stem in volumes:
            raise layout_error(
                manifest, path, f"a second volume with id {path.stem} (the first is {volumes[path.stem]})"
            )
        volumes[path.stem] = path
    return volumes


def _release_ids(manifest: Manifest, root: Path) -> set[str] | None:
    listing = root / manifest.label_value("release_listing", kind=str)
    if not listing.is_file():
        return None
    id_column = manifest.label_value("id_column", kind=str)
    columns = table_columns(manifest, listing)
    rows = read_table(manifest, listing, [])
    if id_column in columns:
        return {row.values[id_column] for row in rows}
    for column in columns:
        values = [row.values.get(column, "") for row in rows]
        if values and all(_VOLUME_ID.match(Path(value).stem) for value in values):
            return {Path(value).stem for value in values}
    raise layout_error(manifest, listing, f"no column of volume ids ({id_column} or values like trn00001)")


def _record(
    manifest: Manifest,
    volume_id: str,
    split: str,
    path: Path,
    positives: dict[str, tuple[str, ...]],
    target: str | None,
) -> RadChestCTStudy:
    spacing = tuple(float(value) for value in manifest.label_value("spacing_mm", kind=list))
    return RadChestCTStudy(
        volume_id,
        int(_positive(positives, target)),
        path,
        split,
        abnormality_locations=positives,
        target=target,
        volume_key=manifest.label_value("volume_key", kind=str),
        spacing_mm=spacing,
        manifest_path=manifest.path,
    )  # type: ignore[arg-type]


def _positive(abnormality_locations: dict[str, tuple[str, ...]], target: str | None) -> bool:
    return target in abnormality_locations if target is not None else bool(abnormality_locations)


LOADER = DatasetLoader(NAME, survey)
