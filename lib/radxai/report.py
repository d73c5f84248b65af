"""Figures (PNG + PDF) and tables (CSV + LaTeX) written into a run directory, byte-reproducibly.

Same figure or table, same bytes: PDF creation dates are left out, and files are written to a
temporary name first and then moved into place, so an interrupted write never damages an
earlier output.

Every headline number of a run also goes into one tidy table, ``tables/measurements.csv``
(:func:`record_measurements`, :func:`read_measurements`): one row per (experiment, work,
reference, metric, setting), so runs and profiles can be compared number by number.
"""

from __future__ import annotations

import csv
import json
import math
import numbers
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_FORMATS = ("png", "pdf")

# Figure name -> caption, read by the run's report (radxai.reporting).
CAPTIONS_FILE = "captions.json"
MEASUREMENTS_FILE = "measurements.csv"
MEASUREMENT_COLUMNS = (
    "experiment",
    "work",
    "reference",
    "metric",
    "setting",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "seeds",
    "profile",
)
# A row's identity: recording the same key again replaces the row.
MEASUREMENT_KEY = ("experiment", "work", "reference", "metric", "setting")
# Six significant digits: enough for any headline number, and last-bit noise between machines
# does not change the file's bytes.
MEASUREMENT_FLOAT_FORMAT = "%.6g"
# The profile recorded when the run directory has no run.json saying otherwise: a notebook
# executed by hand with the defaults of its parameters cell.
DEFAULT_PROFILE = "notebook defaults"

# The same name as radxai.pipeline.RUN_RECORD, spelled out because pipeline may use this module
# and never the reverse.
_RUN_RECORD = "run.json"
# Columns a measurement may give; seeds and profile are per call, not per row.
_MEASUREMENT_FIELDS = MEASUREMENT_KEY + ("value", "ci_low", "ci_high", "n")
_REQUIRED_FIELDS = ("metric", "setting", "value")
_EXPERIMENT_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_WORK_NAME = re.compile(r"\d{3}|radxai")


def _replace_atomically(write, path: Path) -> Path:
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def save_figure(
    figure: Figure, run_dir: str | os.PathLike[str], name: str, dpi: int = 110, caption: str | None = None
) -> list[Path]:
    """Save ``figure`` as ``run_dir/figures/<name>.png`` and ``.pdf``; return both paths.

    ``dpi`` applies to the PNG (the PDF is vector, fonts embedded as TrueType). Metadata that
    changes from run to run (the PDF creation date) is omitted so two runs give identical files.
    ``caption`` (default: the figure's suptitle, else its axes' titles) goes into
    ``figures/captions.json`` for the run's report.
    """
    import matplotlib as mpl

    from radxai.viz.style import PDF_FONTS

    folder = Path(run_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with mpl.rc_context(PDF_FONTS):
        for extension in FIGURE_FORMATS:
            metadata = {"CreationDate": None} if extension == "pdf" else {}
            written.append(
                _replace_atomically(
                    lambda target, ext=extension, meta=metadata: figure.savefig(
                        target, format=ext, dpi=dpi, bbox_inches="tight", metadata=meta
                    ),
                    folder / f"{name}.{extension}",
                )
            )
    caption = caption or _figure_title(figure)
    if caption:
        _record_caption(folder, name, caption)
    return written


def _figure_title(figure: Figure) -> str:
    """The figure's suptitle, else its axes' titles joined: the caption when none is given."""
    suptitle = figure.get_suptitle()
    if suptitle.strip():
        return " ".join(suptitle.split())
    titles = [" ".join(axes.get_title().split()) for axes in figure.axes if axes.get_title().strip()]
    return "; ".join(dict.fromkeys(titles))


def _record_caption(folder: Path, name: str, caption: str) -> None:
    path = folder / CAPTIONS_FILE
    try:
        captions = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        captions = {}
    captions[name] = caption
    _replace_atomically(
        lambda target: Path(target).write_text(
            json.dumps(dict(sorted(captions.items())), indent=1, ensure_ascii=False) + "\n"
        ),
        path,
    )


def save_table(
    table: pd.DataFrame,
    run_dir: str | os.PathLike[str],
    name: str,
    float_format: str = "%.4f",
    caption: str | None = None,
    folder_name: str = "tables",
) -> list[Path]:
    """Save ``table`` as ``run_dir/<folder_name>/<name>.csv`` and ``.tex``; return both paths.

    Floats are written with ``float_format`` so a table is byte-identical across runs that
    produce the same numbers. Wall-clock measurements, which differ between runs, go to
    ``folder_name="timings"`` so that ``tables/`` stays reproducible byte for byte.
    """
    folder = Path(run_dir) / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = _replace_atomically(
        lambda target: table.to_csv(target, float_format=float_format, lineterminator="\n"), folder / f"{name}.csv"
    )
    latex = table.to_latex(float_format=lambda value: float_format % value, caption=caption, label=f"tab:{name}")
    tex_path = _replace_atomically(lambda target: Path(target).write_text(latex), folder / f"{name}.tex")
    return [csv_path, tex_path]


# ----------------------------------------------------------------------------- measurements


def record_measurements(
    run_dir: str | os.PathLike[str],
    measurements: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    experiment: str,
    work: str,
    reference: str,
    seeds: int | Sequence[int] | None = None,
    profile: str | None = None,
) -> Path:
    """Add headline numbers to ``run_dir/tables/measurements.csv``, replacing earlier ones.

    Args:
        run_dir: the run directory.
        measurements: a DataFrame (its columns; the index is ignored) or mappings, one per
            number, with ``metric``, ``setting`` (text, e.g. "OrganIoU", "HiResCAM, lungs") and
            ``value`` (a finite number), optionally ``ci_low`` and ``ci_high`` (both or neither,
            ci_low <= ci_high; a percentile interval need not contain the value) and ``n``
            (items behind the number, a whole number >= 0), and optionally their own
            ``experiment``, ``work`` or ``reference``.
        experiment: snake_case name of the experiment, e.g. "ct_localisation_overlap".
        work: the reproduced work's three-digit number ("000" to "004"), or "radxai" for
            experiments of our own (a positive control).
        reference: where the work reports the number, e.g. "Table 3.7"; "" if nowhere.
        seeds: the training seed or seeds behind the numbers, written as "0" or "0;1;2".
        profile: the run's profile; None reads it from ``run_dir/run.json`` and falls back to
            "notebook defaults" if that file or its "profile" entry is missing.

    Returns:
        The path of the table. Its rows are those of the file before, except any with the key
        (experiment, work, reference, metric, setting) of a new row, plus the new rows, sorted by
        key, with numbers written as ``MEASUREMENT_FLOAT_FORMAT``: the same numbers recorded in
        any order give the same bytes, and re-running a notebook replaces its rows. Rows whose
        key is not recorded again stay.

    Raises:
        ValueError: no measurements; a column missing or unknown; a key repeated; a value that
            is not a finite number; an interval given by one bound only or with its bounds in the
            wrong order; a bad n, seeds, experiment or work; a run.json that is not a JSON
            object; an existing table that is not a measurements table. The file is then left
            as it was.
    """
    if profile is None:
        profile = _profile_of_run(Path(run_dir))
    elif not isinstance(profile, str) or not profile:
        raise ValueError(f"profile must be a non-empty string; got {profile!r}")
    shared = {"seeds": _seeds_text(seeds), "profile": profile}
    defaults = {"experiment": experiment, "work": work, "reference": reference}
    new_rows = []
    for position, given in enumerate(_measurement_mappings(measurements)):
        _check_fields(given, position)
        new_rows.append(_measurement_row({**defaults, **given}) | shared)
    if not new_rows:
        raise ValueError("measurements is empty; record at least one number")
    _check_unique_keys(new_rows, "measurements")

    path = Path(run_dir) / "tables" / MEASUREMENTS_FILE
    new_keys = {_key(row) for row in new_rows}
    rows = [row for row in _read_measurement_rows(path) if _key(row) not in new_keys] + new_rows
    path.parent.mkdir(parents=True, exist_ok=True)
    return _replace_atomically(lambda target: _write_measurement_rows(sorted(rows, key=_key), target), path)


def measurements_from_summary(
    summary: pd.DataFrame, metrics: Mapping[str, str], *, setting_prefix: str = ""
) -> pd.DataFrame:
    """Measurement rows (metric, setting, value, ci_low, ci_high, n) from a table of means with
    bootstrap intervals, as ``radxai.evaluate.localisation_tables.summarise_means`` writes it.

    Args:
        summary: indexed by the grouping (e.g. method, or method and threshold), with the
            columns ``M``, ``M_ci_low``, ``M_ci_high`` and ``M_count`` for each metric M.
        metrics: column name M -> the metric's name in the measurements table (e.g.
            ``{"pointing_hit": "pointing_game_hit_rate"}``).
        setting_prefix: put before every setting, e.g. ``"focal lesions, "``.

    Returns:
        One row per (summary row, metric) whose value is defined; the setting joins the index
        values with ", " (``"gradcam, 0.5"``). Rows without a defined mean (no item) are left
        out, since a measurement must be a number.

    Raises:
        ValueError: a metric's columns missing from ``summary`` (named).
    """
    rows = []
    for column, metric in metrics.items():
        needed = [column, f"{column}_ci_low", f"{column}_ci_high", f"{column}_count"]
        missing = [name for name in needed if name not in summary.columns]
        if missing:
            raise ValueError(f"summary has no column(s) {missing}; expected summarise_means output")
        for key, row in summary.iterrows():
            if pd.isna(row[column]):
                continue
            parts = key if isinstance(key, tuple) else (key,)
            rows.append(
                {
                    "metric": metric,
                    "setting": setting_prefix + ", ".join(str(part) for part in parts),
                    "value": float(row[column]),
                    "ci_low": float(row[f"{column}_ci_low"]),
                    "ci_high": float(row[f"{column}_ci_high"]),
                    "n": int(row[f"{column}_count"]),
                }
            )
    return pd.DataFrame(rows, columns=["metric", "setting", "value", "ci_low", "ci_high", "n"])


def read_measurements(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The run's measurements table: one row per number, columns ``MEASUREMENT_COLUMNS``.

    ``value``, ``ci_low`` and ``ci_high`` are floats (NaN where no interval was given), ``n``
    is a nullable integer (``pd.NA`` where not given), the other columns are text. A run
    without measurements gives an empty table with these columns.

    Raises:
        ValueError: the file exists but is not a measurements table (named in the message).
    """
    rows = _read_measurement_rows(Path(run_dir) / "tables" / MEASUREMENTS_FILE)
    table = pd.DataFrame(rows, columns=list(MEASUREMENT_COLUMNS), dtype=str)
    numeric_columns = {
        name: table[name].where(table[name] != "").astype(float) for name in ("value", "ci_low", "ci_high")
    }
    counts = pd.array([int(text) if text else pd.NA for text in table["n"]], dtype="Int64")
    return table.assign(**numeric_columns, n=counts)


def _measurement_mappings(measurements: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(measurements, pd.DataFrame):
        return measurements.to_dict(orient="records")
    if isinstance(measurements, Mapping):
        # Iterating a single mapping would yield its column names as "measurements".
        raise ValueError(
            "measurements must be a DataFrame or a list of mappings, one per "
            "number; got a single mapping (wrap it in a list)"
        )
    rows = list(measurements)
    for position, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValueError(f"measurement {position} must be a mapping of column to value; got {type(row).__name__}")
    return rows


def _check_fields(given: Mapping[str, Any], position: int) -> None:
    unknown = [name for name in given if name not in _MEASUREMENT_FIELDS]
    if unknown:
        raise ValueError(
            f"measurement {position} has unknown column(s) {unknown}; a measurement "
            f"may have {list(_MEASUREMENT_FIELDS)}"
        )
    missing = [name for name in _REQUIRED_FIELDS if name not in given]
    if missing:
        raise ValueError(f"measurement {position} lacks column(s) {missing}")


def _measurement_row(given: Mapping[str, Any]) -> dict[str, str]:
    """Check one measurement and return its key and number fields as the table's text."""
    key = {name: given[name] for name in MEASUREMENT_KEY}
    for name, field in key.items():
        if not isinstance(field, str):
            raise ValueError(f"{name} must be text; got {field!r}")
    if not _EXPERIMENT_NAME.fullmatch(key["experiment"]):
        raise ValueError(
            f"experiment must be a snake_case name such as 'ct_localisation_overlap'; got {key['experiment']!r}"
        )
    if not _WORK_NAME.fullmatch(key["work"]):
        raise ValueError(f"work must be a three-digit work number such as '003' or 'radxai'; got {key['work']!r}")
    if not key["metric"]:
        raise ValueError("metric must be a non-empty name")
    where = f"metric {key['metric']!r}, setting {key['setting']!r}"
    value = _finite_number(given["value"], f"value of {where}")
    ci_low, ci_high = (
        _optional(given.get(name), _finite_number, f"{name} of {where}") for name in ("ci_low", "ci_high")
    )
    if (ci_low is None) != (ci_high is None):
        raise ValueError(f"{where}: give both ci_low and ci_high or neither")
    # Only the order of the bounds is checked: a percentile bootstrap interval of a small sample
    # (an AUROC with few positives) can leave out its own full-data estimate.
    if ci_low is not None and ci_low > ci_high:
        raise ValueError(f"{where}: ci_low {ci_low} is above ci_high {ci_high}")
    count = _optional(given.get("n"), _count, f"n of {where}")
    return key | {
        "value": _number_text(value),
        "ci_low": _number_text(ci_low),
        "ci_high": _number_text(ci_high),
        "n": "" if count is None else str(count),
    }


def _optional(field: Any, convert, description: str) -> Any:
    """None for an absent field (None, or NaN or pd.NA as a DataFrame gives a missing entry),
    else ``convert(field, description)``."""
    if pd.api.types.is_scalar(field) and pd.isna(field):
        return None
    return convert(field, description)


def _finite_number(field: Any, description: str) -> float:
    if isinstance(field, bool) or not isinstance(field, numbers.Real):
        raise ValueError(f"{description} must be a number; got {field!r}")
    if not math.isfinite(field):
        # A headline number that is NaN or infinite is a bug upstream, not a result to keep.
        raise ValueError(f"{description} is {field}; a measurement must be a finite number")
    return float(field)


def _count(field: Any, description: str) -> int:
    # Integral floats are accepted because a DataFrame column of counts with a gap is float.
    is_whole = (
        isinstance(field, numbers.Real) and not isinstance(field, bool) and math.isfinite(field) and field == int(field)
    )
    if not is_whole or field < 0:
        raise ValueError(f"{description} must be a whole number >= 0; got {field!r}")
    return int(field)


def _number_text(number: float | None) -> str:
    if number is None:
        return ""
    # + 0.0 turns -0.0 into 0.0, so a zero difference is written the same way whatever its sign.
    return MEASUREMENT_FLOAT_FORMAT % (number + 0.0)


def _seeds_text(seeds: int | Sequence[int] | None) -> str:
    if seeds is None:
        return ""
    listed = [seeds] if isinstance(seeds, numbers.Integral) else seeds
    is_sequence = isinstance(listed, Iterable) and not isinstance(listed, str)
    if not is_sequence or not all(isinstance(seed, numbers.Integral) and not isinstance(seed, bool) for seed in listed):
        raise ValueError(f"seeds must be an int or a sequence of ints; got {seeds!r}")
    return ";".join(str(int(seed)) for seed in listed)


def _profile_of_run(run_dir: Path) -> str:
    record_path = run_dir / _RUN_RECORD
    if not record_path.exists():
        return DEFAULT_PROFILE
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{record_path} is not valid JSON ({error}); cannot read the profile from it") from error
    if not isinstance(record, dict):
        raise ValueError(f"{record_path} must hold a JSON object; it holds a {type(record).__name__}")
    profile = record.get("profile", DEFAULT_PROFILE)
    if not isinstance(profile, str) or not profile:
        raise ValueError(f"{record_path}: 'profile' must be a non-empty string; got {profile!r}")
    return profile


def _key(row: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(row[name] for name in MEASUREMENT_KEY)


def _check_unique_keys(rows: Sequence[Mapping[str, str]], source: str) -> None:
    keys = [_key(row) for row in rows]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(
            f"{source} repeat the key(s) {repeated} ({', '.join(MEASUREMENT_KEY)}); each number must appear once"
        )


def _read_measurement_rows(path: Path) -> list[dict[str, str]]:
    """The checked rows of an existing table as text fields; [] if there is no file."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != MEASUREMENT_COLUMNS:
            raise ValueError(
                f"{path} is not a measurements table: its columns are "
                f"{reader.fieldnames}, expected {list(MEASUREMENT_COLUMNS)}"
            )
        rows = list(reader)
    checked = []
    for position, row in enumerate(rows, start=1):
        # DictReader files surplus fields under None and fills missing ones with None.
        if None in row or None in row.values():
            raise ValueError(f"{path} row {position} does not have {len(MEASUREMENT_COLUMNS)} fields")
        try:
            checked.append(_measurement_row(_parsed_fields(row)) | {"seeds": row["seeds"], "profile": row["profile"]})
        except ValueError as error:
            raise ValueError(f"{path} row {position} is not a valid measurement: {error}") from error
    _check_unique_keys(checked, str(path))
    return checked


def _parsed_fields(row: Mapping[str, str]) -> dict[str, Any]:
    """A row of the file with its numbers parsed; empty optional fields left out."""
    fields: dict[str, Any] = {name: row[name] for name in MEASUREMENT_KEY}
    fields["value"] = float(row["value"])
    fields.update({name: float(row[name]) for name in ("ci_low", "ci_high") if row[name]})
    if row["n"]:
        fields["n"] = int(row["n"])
    return fields


def _write_measurement_rows(rows: Iterable[Mapping[str, str]], target: Path) -> None:
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MEASUREMENT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
