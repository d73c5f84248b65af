"""What every dataset loader shares: the survey of a local copy, layout errors that name the
manifest, CSV tables read with line numbers, patient-grouped stratified splits, and the side
table that marks a copy as radxai's synthetic phantoms."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from radxai.data import checksums
from radxai.data.datasets import DatasetLayoutError, stratified_split
from radxai.data.manifests import Manifest, load_manifest

# How many missing or unreadable files an error message lists before it says "and N more".
MESSAGE_LIST_LIMIT = 10


@dataclass(frozen=True)
class MissingFile:
    """A file the dataset should have but the local copy lacks.

    relative_path: the file, relative to the dataset root given by the user.
    expected_by: what says it should exist, e.g. "master_sheet.csv line 12".
    """

    relative_path: str
    expected_by: str


@dataclass(frozen=True)
class UnreadableFile:
    """A file that exists but could not be read; ``problem`` names the file and the error."""

    relative_path: str
    problem: str


@dataclass
class Survey:
    """What a loader found in a local copy of a dataset (real, or synthetic in its layout), before any image is decoded.

    root: the folder the user gave. base: the dataset folder inside it that the layout starts
    from (often ``root`` itself). layout: the key of the manifest layout recognised.
    records: CTStudy / CXRImage subclasses whose files all exist, with splits assigned.
    missing / unreadable: files listed or implied by the dataset that are absent or whose
    header could not be read. tables: the label tables read. counts: items found per class
    (and split), keyed like the layout's ``expected_counts``. other_roots: folders outside
    ``root`` that hold some of the files (e.g. the MIMIC-CXR images of the eye-gaze set).
    """

    manifest: Manifest
    root: Path
    base: Path
    layout: str
    records: list[Any]
    missing: list[MissingFile] = field(default_factory=list)
    unreadable: list[UnreadableFile] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    other_roots: list[Path] = field(default_factory=list)

    @property
    def expected_counts(self) -> dict[str, int]:
        """The counts the publisher reports for this layout (from the manifest)."""
        return self.manifest.layouts[self.layout].expected_counts

    def shortfalls(self) -> list[str]:
        """One sentence per expected count that the copy does not reach."""
        return [
            f"{key}: found {self.counts.get(key, 0)} of the {expected} the publisher reports"
            for key, expected in self.expected_counts.items()
            if self.counts.get(key, 0) < expected
        ]

    def relative(self, path: Path) -> str:
        """``path`` relative to the user's root, or else to one of ``other_roots``, as shown in
        reports and registries (so a registry stays valid for a copy in another place)."""
        for folder in (self.root, *self.other_roots):
            if path.is_relative_to(folder):
                return path.relative_to(folder).as_posix()
        return str(path)

    def data_files(self) -> list[Path]:
        """Every existing file the dataset is read from: tables, then each record's files."""
        files = list(self.tables)
        for record in self.records:
            files.extend(record_files(record))
        return files


@dataclass(frozen=True)
class DatasetLoader:
    """How radxai reads one dataset layout family: ``name`` (its manifest in ``data_manifests/``)
    and ``survey(root, split_seed=0, **options) -> Survey``, which finds the records, the
    missing and the unreadable files without decoding an image. Each loader module defines one
    as ``LOADER``; `radxai.data.real` lists them."""

    name: str
    survey: Callable[..., Survey]

    @property
    def manifest(self) -> Manifest:
        """The dataset's manifest (source, licence, layouts, labels)."""
        return load_manifest(self.name)

    def records(
        self, root: str | Path, split_seed: int = 0, allow_incomplete: bool = False, **options: Any
    ) -> list[Any]:
        """The records of the copy at ``root`` with splits assigned (see
        `radxai.data.real.load_dataset`); DatasetLayoutError for an incomplete copy unless
        ``allow_incomplete``, and for a copy without records."""
        survey = self.survey(Path(root), split_seed=split_seed, **options)
        if not allow_incomplete:
            problems = [f"missing {item.relative_path} (expected by {item.expected_by})" for item in survey.missing]
            problems += [f"unreadable {item.relative_path}: {item.problem}" for item in survey.unreadable]
            problems += [f"too few items: {shortfall}" for shortfall in survey.shortfalls()]
            if problems:
                raise layout_error(
                    survey.manifest,
                    survey.root,
                    f"incomplete copy ({len(problems)} problems; `radxai data verify {self.name} --root "
                    f"{survey.root}` lists them all; pass allow_incomplete=True to load what is "
                    f"there):\n{listed(problems)}",
                )
        if not survey.records:
            raise layout_error(survey.manifest, survey.root, "no images or volumes found")
        return survey.records


def record_files(record: Any) -> list[Path]:
    """The files a CTStudy / CXRImage record reads: its image and any mask files."""
    files = [record.path]
    for name in ("mask_path", "organ_path", "confounder_path"):
        path = getattr(record, name, None)
        if path is not None:
            files.append(path)
    files.extend(getattr(record, "mask_paths", {}).values())
    return files


def leaves_folder(relative: str) -> bool:
    """True for a path from a table that would leave the folder it is read against: absolute
    (``/x``, ``C:\\x``, ``\\\\server``) or climbing with ``..`` (either separator)."""
    posix = PurePosixPath(relative.replace("\\", "/"))
    return posix.is_absolute() or bool(PureWindowsPath(relative).drive) or ".." in posix.parts


def is_plain_file_name(name: str) -> bool:
    """True for a name that is one path component: no separator, not ``.`` or ``..``."""
    return name not in (".", "..") and "/" not in name and "\\" not in name


def layout_error(manifest: Manifest, location: Path | str, problem: str) -> DatasetLayoutError:
    """A ``DatasetLayoutError`` naming the file or folder, the problem, the dataset's manifest
    and every layout the manifest accepts."""
    layouts = "\n".join("    " + line for line in manifest.describe_layouts().splitlines())
    return DatasetLayoutError(
        f"{location}: {problem}\n"
        f"  dataset: {manifest.title}\n"
        f"  manifest: {manifest.path}\n"
        f"  expected layout:\n{layouts}"
    )


def listed(items: Sequence[str]) -> str:
    """Up to ``MESSAGE_LIST_LIMIT`` items, one per indented line, and how many were left out."""
    shown = [f"    {item}" for item in items[:MESSAGE_LIST_LIMIT]]
    if len(items) > MESSAGE_LIST_LIMIT:
        shown.append(f"    ... and {len(items) - MESSAGE_LIST_LIMIT} more")
    return "\n".join(shown)


@dataclass(frozen=True)
class TableRow:
    """One CSV row with the line it starts on (1 = the header line)."""

    line: int
    values: dict[str, str]


def read_table(manifest: Manifest, path: Path, required_columns: Iterable[str]) -> list[TableRow]:
    """The rows of a CSV label table, each with its line number.

    Raises a layout error naming the manifest if the file is missing, not UTF-8 text, or lacks
    any of ``required_columns`` (the message lists the columns found).
    """
    if not path.is_file():
        raise layout_error(manifest, path, "label table not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = list(reader.fieldnames or [])
            missing = [column for column in required_columns if column not in columns]
            if missing:
                raise layout_error(
                    manifest,
                    path,
                    f"lacks the columns {missing}; its columns are {columns[:20]}"
                    + (" ..." if len(columns) > 20 else ""),
                )
            rows = []
            line = reader.line_num
            for values in reader:
                rows.append(TableRow(line + 1, {key: (value or "").strip() for key, value in values.items() if key}))
                line = reader.line_num
            return rows
    except (UnicodeDecodeError, csv.Error) as error:
        raise layout_error(manifest, path, f"not a readable CSV table: {error}") from error


def table_columns(manifest: Manifest, path: Path) -> list[str]:
    """The header of a CSV table; a layout error naming the manifest if it has none."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise layout_error(manifest, path, f"not a readable CSV table: {error}") from error
    if not header:
        raise layout_error(manifest, path, "empty table (no header line)")
    return [column.strip() for column in header]


def parse_number(manifest: Manifest, table: Path, row: TableRow, column: str) -> float:
    """The finite number in ``row[column]``; a layout error naming table, line and column."""
    text = row.values.get(column, "")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise layout_error(
            manifest, f"{table} line {row.line}", f"column {column!r} holds {text!r}, not a finite number"
        )
    return value


def parse_binary(manifest: Manifest, table: Path, row: TableRow, column: str) -> bool:
    """A 0/1 flag in ``row[column]`` (``1.0`` and ``0.0`` accepted)."""
    value = parse_number(manifest, table, row, column)
    if value not in (0.0, 1.0):
        raise layout_error(
            manifest, f"{table} line {row.line}", f"column {column!r} holds {row.values[column]!r}, expected 0 or 1"
        )
    return value == 1.0


def grouped_stratified_split(
    strata: Sequence[Hashable], groups: Sequence[Hashable], fractions: Mapping[str, float] | None = None, seed: int = 0
) -> list[str]:
    """Split names per item such that all items of a group (e.g. a patient) share a split.

    Each group is stratified by the stratum of its first item, then the groups are split with
    ``datasets.stratified_split`` (default 60/20/20 train/val/test). Returns one split name
    per item, in item order.
    """
    if len(strata) != len(groups):
        raise ValueError(f"need one group per item, got {len(strata)} strata and {len(groups)} groups")
    group_order: list[Hashable] = []
    group_stratum: dict[Hashable, Hashable] = {}
    for stratum, group in zip(strata, groups):
        if group not in group_stratum:
            group_stratum[group] = stratum
            group_order.append(group)
    group_splits = stratified_split([group_stratum[group] for group in group_order], fractions, seed)
    split_of = dict(zip(group_order, group_splits))
    return [split_of[group] for group in groups]


def with_manifest(problem: str, manifest_path: Path | None) -> str:
    """A read error's message with the manifest it belongs to appended (if known)."""
    if manifest_path is None:
        return problem
    return f"{problem} (dataset manifest {manifest_path}; `radxai data verify` checks every file)"


def synthetic_side_table(manifest: Manifest, base: Path, file_name: str, key: str) -> dict[str, dict[str, str]] | None:
    """The rows of a synthetic copy's side table (``base/file_name``, e.g. ``synthetic_studies.csv``)
    keyed by their ``key`` column, or None when there is none (a real copy).

    The side table marks a copy written by radxai's synthetic writers: it holds what real data
    lacks (the split the writer drew, confounders, involvement), and the copy's
    ``SHA256SUMS.txt`` is checked before anything is read (`radxai.data.checksums.check_sums`
    raises ``DatasetIntegrityError`` naming a changed or missing file). Raises
    ``DatasetLayoutError`` for a table without the ``key`` or ``split`` column.
    """
    path = base / file_name
    if not path.is_file():
        return None
    checksums.check_sums(base)
    rows = read_table(manifest, path, [key, "split"])
    return {row.values[key]: row.values for row in rows}


def synthetic_split(manifest: Manifest, side_table: Mapping[str, Mapping[str, str]], item_id: str, table: Path) -> str:
    """The split the synthetic writer gave ``item_id``; DatasetLayoutError naming the side
    ``table`` if it has no row (or an empty split) for it."""
    row = side_table.get(item_id)
    if row is None or row.get("split", "") == "":
        raise layout_error(manifest, table, f"has no split for {item_id}, which the copy holds")
    return row["split"]
