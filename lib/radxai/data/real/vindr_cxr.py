"""VinDr-CXR (chest X-rays with radiologists' boxes) in its published layouts.

PhysioNet release (train: 3 readers per image; test: consensus of 5)::

    DIR/annotations/annotations_{train,test}.csv    image_id, rad_id, class_name, x_min, y_min, x_max, y_max
    DIR/annotations/image_labels_{train,test}.csv   image_id, rad_id, one 0/1 column per label
    DIR/{train,test}/<image_id>.dicom

Kaggle competition copy (training set only) and its resized PNG/JPG copies::

    DIR/train.csv          image_id, class_name, class_id, rad_id, x_min, y_min, x_max, y_max
                           (+ width, height = original size, in some resized copies)
    DIR/train_meta.csv     image_id, dim0 (original rows), dim1 (original columns), in others
    DIR/train/<image_id>.dicom | .png | .jpg

Boxes are kept per reader (one ``ReaderAnnotation`` each) in the pixels of the stored image:
a resized copy's boxes are scaled from the original size, x by stored width / original width
and y by stored height / original height. DICOMs are read with MONOCHROME1 inverted and the
VOI LUT applied. A finding is positive if any reader marked it; "No finding" if none marked
anything. Splits: PhysioNet test is "test" and its train is split train/val; the Kaggle copy
is split 60/20/20 (both stratified by "any finding", with the split seed).

radxai's synthetic phantoms are written in the resized Kaggle layout (boxes in the stored PNG's
pixels) with a side table (``synthetic_images.csv``: the writer's splits and confounders) and
the true extent of each finding (``masks/``), and are read here too, as layout "synthetic".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from radxai.data import io
from radxai.data.datasets import CXRImage, ReaderAnnotation, stratified_split
from radxai.data.manifests import Manifest, load_manifest
from radxai.data.real._common import (
    DatasetLoader,
    MissingFile,
    Survey,
    TableRow,
    UnreadableFile,
    is_plain_file_name,
    layout_error,
    parse_binary,
    parse_number,
    read_table,
    synthetic_side_table,
    synthetic_split,
    table_columns,
    with_manifest,
)

__all__ = ["LOADER", "NAME", "VinDrImage", "survey"]

NAME = "vindr_cxr"
SYNTHETIC_TABLE = "synthetic_images.csv"
_BOX_COLUMNS = ("x_min", "y_min", "x_max", "y_max")
_DICOM_SUFFIXES = (".dicom", ".dcm")
_RELEASE_SPLITS = ("train", "test")


@dataclass(frozen=True, eq=False, kw_only=True)
class VinDrImage(CXRImage):
    """A VinDr-CXR image. release_split: "train" or "test", the release folder it is in.
    original_size: (rows, columns) of the original DICOM when the stored image is a resized
    copy whose boxes were scaled to it; None when boxes were not rescaled."""

    release_split: str
    original_size: tuple[int, int] | None = None
    manifest_path: Path | None = None

    def load(self) -> np.ndarray:
        """The image as float32 (H, W) in [0, 1], bright = dense."""
        try:
            if self.path.suffix.lower() in _DICOM_SUFFIXES:
                return io.read_dicom_image(self.path)
            return io.read_image(self.path)
        except io.ImageReadError as error:
            raise io.ImageReadError(with_manifest(str(error), self.manifest_path)) from error


@dataclass
class _Marks:
    """What the tables say about one image."""

    first_seen: str
    marked: set[str] = field(default_factory=set)
    annotations: list[ReaderAnnotation] = field(default_factory=list)
    original_width_height: tuple[float, float] | None = None


def survey(root: Path, split_seed: int = 0) -> Survey:
    """Find the images of a VinDr-CXR copy at ``root`` (any layout); see module docstring.

    Raises ``DatasetLayoutError`` (naming the manifest, the table and line, and the expected
    layouts) for a root that is no VinDr-CXR copy, a table without the expected columns, an
    unknown class, a class id that does not match its name, or a negative or inverted box.
    """
    manifest = load_manifest(NAME)
    root = Path(root)
    if not root.is_dir():
        raise layout_error(manifest, root, "no such folder")
    if (root / "annotations").is_dir():
        return _survey_physionet(manifest, root, split_seed)
    if (root / "train.csv").is_file():
        return _survey_kaggle(manifest, root, split_seed)
    raise layout_error(
        manifest,
        root,
        "not a VinDr-CXR folder: found neither annotations/ (PhysioNet release) nor train.csv (Kaggle copy)",
    )


# ----------------------------------------------------------------------------- PhysioNet


def _survey_physionet(manifest: Manifest, root: Path, split_seed: int) -> Survey:
    local = manifest.label_strings("local_labels")
    global_labels = manifest.label_strings("global_labels")
    no_finding = manifest.label_value("no_finding", kind=str)
    classes = local + global_labels
    tables, marks_by_split = [], {}
    for release_split in _RELEASE_SPLITS:
        table = root / "annotations" / f"annotations_{release_split}.csv"
        if not table.is_file():
            continue
        tables.append(table)
        marks = _read_boxes(
            manifest, table, classes, set(global_labels), no_finding, reader_required=release_split == "train"
        )
        labels_table = root / "annotations" / f"image_labels_{release_split}.csv"
        if labels_table.is_file():
            tables.append(labels_table)
            _add_image_labels(manifest, labels_table, classes, no_finding, marks)
        marks_by_split[release_split] = marks
    if not marks_by_split:
        raise layout_error(
            manifest, root / "annotations", "holds neither annotations_train.csv nor annotations_test.csv"
        )
    suffixes = manifest.label_strings("image_suffixes")
    found, missing = [], []
    for release_split, marks in marks_by_split.items():
        for image_id in sorted(marks):
            path = _existing_image(root / release_split, image_id, suffixes)
            if path is None:
                missing.append(MissingFile(f"{release_split}/{image_id}.dicom", marks[image_id].first_seen))
            else:
                found.append((release_split, image_id, path, marks[image_id]))
    val_fraction = float(manifest.label_value("carved_val_fraction", kind=(int, float)))
    train = [index for index, item in enumerate(found) if item[0] == "train"]
    carved = stratified_split(
        [bool(found[index][3].marked) for index in train],
        {"train": 1.0 - val_fraction, "val": val_fraction},
        seed=split_seed,
    )
    splits = ["test"] * len(found)
    for index, split in zip(train, carved):
        splits[index] = split
    records = [_record(manifest, item, split, classes, no_finding, None) for item, split in zip(found, splits)]
    return Survey(manifest, root, root, "physionet", records, missing, tables=tables, counts=_counts(records, classes))


def _add_image_labels(
    manifest: Manifest, table: Path, classes: list[str], no_finding: str, marks: dict[str, _Marks]
) -> None:
    aliases = manifest.label_value("column_aliases", kind=dict)
    columns = table_columns(manifest, table)
    label_columns = [column for column in columns if column not in ("image_id", "rad_id")]
    unknown = [column for column in label_columns if aliases.get(column, column) not in classes]
    if unknown:
        raise layout_error(
            manifest,
            table,
            f"unknown label columns {unknown}; the manifest (labels.local_labels "
            f"and labels.global_labels) lists {classes}",
        )
    for row in read_table(manifest, table, ["image_id"]):
        if not is_plain_file_name(row.values["image_id"]):
            raise layout_error(
                manifest, f"{table} line {row.line}", f"image_id {row.values['image_id']!r} is not a file name; refused"
            )
        entry = marks.setdefault(row.values["image_id"], _Marks(f"{table.name} line {row.line}"))
        for column in label_columns:
            name = aliases.get(column, column)
            if name != no_finding and parse_binary(manifest, table, row, column):
                entry.marked.add(name)


# ----------------------------------------------------------------------------- Kaggle


def _survey_kaggle(manifest: Manifest, root: Path, split_seed: int) -> Survey:
    side_table = synthetic_side_table(manifest, root, SYNTHETIC_TABLE, "image_id")
    class_ids = manifest.label_value("kaggle_classes", kind=dict)
    no_finding = manifest.label_value("no_finding", kind=str)
    classes = list(class_ids)
    table = root / "train.csv"
    marks = _read_boxes(manifest, table, classes, {no_finding}, no_finding, reader_required=True, class_ids=class_ids)
    tables = [table]
    meta = root / manifest.label_value("meta_file", kind=str)
    meta_sizes = {}
    if meta.is_file():
        tables.append(meta)
        meta_sizes = _read_meta(manifest, meta)
    images = _image_index(root / "train", manifest.label_strings("image_suffixes"))
    found, missing, unreadable = [], [], []
    for image_id in sorted(marks):
        path = images.get(image_id)
        if path is None:
            missing.append(MissingFile(f"train/{image_id}.<dicom|png|jpg>", marks[image_id].first_seen))
            continue
        original = None
        if path.suffix.lower() not in _DICOM_SUFFIXES:
            original = marks[image_id].original_width_height or meta_sizes.get(image_id)
            if original is not None:
                try:
                    _rescale(marks[image_id], original, path)
                except io.ImageReadError as error:
                    unreadable.append(UnreadableFile(path.relative_to(root).as_posix(), str(error)))
                    continue
        found.append((("train", image_id, path, marks[image_id]), original))
    if side_table is None:
        splits = stratified_split([bool(item[3].marked) for item, _ in found], seed=split_seed)
        records = [
            _record(manifest, item, split, classes, no_finding, original)
            for (item, original), split in zip(found, splits)
        ]
        dicoms_only = bool(records) and all(record.path.suffix.lower() in _DICOM_SUFFIXES for record in records)
        layout = "kaggle_dicom" if dicoms_only else "kaggle_resized"
    else:
        records = [
            _synthetic_record(manifest, root, _record(manifest, item, "", classes, no_finding, original), side_table)
            for item, original in found
        ]
        layout = "synthetic"
    return Survey(manifest, root, root, layout, records, missing, unreadable, tables, _counts(records, classes))


def _synthetic_record(
    manifest: Manifest, root: Path, record: VinDrImage, side_table: dict[str, dict[str, str]]
) -> VinDrImage:
    """A synthetic copy's image: the writer's split, its confounders and the true extent of
    each finding (``masks/<image_id>_<class_id>.png``) that real data lacks."""
    class_ids = manifest.label_value("kaggle_classes", kind=dict)
    row = side_table.get(record.image_id, {})
    masks = {
        name: mask
        for name, class_id in class_ids.items()
        if (mask := root / "masks" / f"{record.image_id}_{class_id}.png").is_file()
    }
    return replace(
        record,
        split=synthetic_split(manifest, side_table, record.image_id, root / SYNTHETIC_TABLE),
        confounders=tuple(name for name in row.get("confounders", "").split(";") if name),
        mask_paths=masks,
    )


def _read_meta(manifest: Manifest, meta: Path) -> dict[str, tuple[float, float]]:
    columns = manifest.label_value("meta_columns", kind=dict)
    rows_column, columns_column = columns["rows"], columns["columns"]
    sizes = {}
    for row in read_table(manifest, meta, ["image_id", rows_column, columns_column]):
        height = parse_number(manifest, meta, row, rows_column)
        width = parse_number(manifest, meta, row, columns_column)
        if width <= 0 or height <= 0:
            raise layout_error(
                manifest,
                f"{meta} line {row.line}",
                f"original size {rows_column}={height}, {columns_column}={width} is not positive",
            )
        sizes[row.values["image_id"]] = (width, height)
    return sizes


def _image_index(folder: Path, suffixes: list[str]) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    accepted = {suffix.lower() for suffix in suffixes}
    return {
        path.stem: path
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in accepted
    }


def _rescale(marks: _Marks, original_width_height: tuple[float, float], path: Path) -> None:
    width, height = _stored_width_height(path)
    scale_x, scale_y = width / original_width_height[0], height / original_width_height[1]
    marks.annotations = [
        ReaderAnnotation(
            annotation.reader_id,
            annotation.finding,
            (
                annotation.box[0] * scale_x,
                annotation.box[1] * scale_y,
                annotation.box[2] * scale_x,
                annotation.box[3] * scale_y,
            ),
        )
        for annotation in marks.annotations
    ]


def _stored_width_height(path: Path) -> tuple[int, int]:
    # Only the header is read: Pillow opens lazily, so this costs no pixel decoding.
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise io.ImageReadError(f"{path}: not a readable PNG/JPEG image: {error}") from error


# ----------------------------------------------------------------------------- shared


def _read_boxes(
    manifest: Manifest,
    table: Path,
    classes: list[str],
    boxless: set[str],
    no_finding: str,
    reader_required: bool,
    class_ids: dict[str, int] | None = None,
) -> dict[str, _Marks]:
    required = ["image_id", "class_name", *_BOX_COLUMNS]
    if reader_required:
        required.append("rad_id")
    if class_ids is not None:
        required.append("class_id")
    columns = table_columns(manifest, table)
    has_size = all(name in columns for name in manifest.label_value("original_size_columns", kind=dict).values())
    consensus = manifest.label_value("consensus_reader_id", kind=str)
    marks: dict[str, _Marks] = {}
    for row in read_table(manifest, table, required):
        where = f"{table} line {row.line}"
        image_id, class_name = row.values["image_id"], row.values["class_name"]
        if not image_id:
            raise layout_error(manifest, where, "empty image_id")
        if not is_plain_file_name(image_id):
            raise layout_error(manifest, where, f"image_id {image_id!r} is not a file name; refused")
        if class_name not in classes:
            raise layout_error(manifest, where, f"unknown class {class_name!r}; the manifest lists {classes}")
        if class_ids is not None:
            _check_class_id(manifest, table, row, class_name, class_ids[class_name])
        entry = marks.setdefault(image_id, _Marks(f"{table.name} line {row.line}"))
        if has_size:
            _note_original_size(manifest, table, row, entry)
        box = _box(manifest, table, row, class_name in boxless)
        if class_name != no_finding:
            entry.marked.add(class_name)
        if box is not None:
            reader = row.values.get("rad_id") or consensus
            entry.annotations.append(ReaderAnnotation(reader, class_name, box))
    return marks


def _check_class_id(manifest: Manifest, table: Path, row: TableRow, class_name: str, expected: int) -> None:
    value = parse_number(manifest, table, row, "class_id")
    if value != expected:
        raise layout_error(
            manifest,
            f"{table} line {row.line}",
            f"class_id {row.values['class_id']} does not match class {class_name!r} (the manifest gives id {expected})",
        )


def _note_original_size(manifest: Manifest, table: Path, row: TableRow, entry: _Marks) -> None:
    names = manifest.label_value("original_size_columns", kind=dict)
    width = parse_number(manifest, table, row, names["width"])
    height = parse_number(manifest, table, row, names["height"])
    if width <= 0 or height <= 0:
        raise layout_error(
            manifest, f"{table} line {row.line}", f"original size width={width}, height={height} is not positive"
        )
    if entry.original_width_height not in (None, (width, height)):
        raise layout_error(
            manifest,
            f"{table} line {row.line}",
            f"original size {width}x{height} contradicts "
            f"{entry.original_width_height[0]}x{entry.original_width_height[1]} "
            f"given for the same image at {entry.first_seen}",
        )
    entry.original_width_height = (width, height)


def _box(
    manifest: Manifest, table: Path, row: TableRow, may_be_empty: bool
) -> tuple[float, float, float, float] | None:
    where = f"{table} line {row.line}"
    texts = [row.values.get(column, "") for column in _BOX_COLUMNS]
    if not any(texts):
        if may_be_empty:
            return None
        raise layout_error(manifest, where, f"class {row.values['class_name']!r} has no box (x_min..y_max are empty)")
    if not all(texts):
        raise layout_error(manifest, where, f"incomplete box {dict(zip(_BOX_COLUMNS, texts))}")
    x_min, y_min, x_max, y_max = (parse_number(manifest, table, row, column) for column in _BOX_COLUMNS)
    if min(x_min, y_min, x_max, y_max) < 0:
        raise layout_error(
            manifest,
            where,
            f"negative box coordinate in ({x_min}, {y_min}, {x_max}, {y_max}); "
            "boxes are pixel positions x_min, y_min, x_max, y_max >= 0",
        )
    if x_max < x_min or y_max < y_min:
        raise layout_error(
            manifest,
            where,
            f"box ({x_min}, {y_min}, {x_max}, {y_max}) has a negative width or height (x_max < x_min or y_max < y_min)",
        )
    return (x_min, y_min, x_max, y_max)


def _existing_image(folder: Path, image_id: str, suffixes: list[str]) -> Path | None:
    for suffix in suffixes:
        path = folder / f"{image_id}{suffix}"
        if path.is_file():
            return path
    return None


def _record(
    manifest: Manifest,
    item: tuple[str, str, Path, _Marks],
    split: str,
    classes: list[str],
    no_finding: str,
    original_width_height: tuple[float, float] | None,
) -> VinDrImage:
    release_split, image_id, path, marks = item
    labels = {name: name in marks.marked for name in classes}
    labels[no_finding] = not marks.marked
    original_size = (
        None
        if original_width_height is None
        else (int(round(original_width_height[1])), int(round(original_width_height[0])))
    )
    return VinDrImage(
        image_id=image_id,
        path=path,
        split=split,
        labels=labels,
        annotations=tuple(marks.annotations),
        release_split=release_split,
        original_size=original_size,
        manifest_path=manifest.path,
    )


def _counts(records: list[VinDrImage], classes: list[str]) -> dict[str, int]:
    counts: Counter[str] = Counter(record.release_split for record in records)
    for record in records:
        counts.update(name for name in classes if record.labels[name])
    return dict(counts)


LOADER = DatasetLoader(NAME, survey)
