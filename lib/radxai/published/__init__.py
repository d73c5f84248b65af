"""The reproduced works' published numbers, as data (one YAML file per work in this folder).

Each file holds ``work`` (three digits), ``citation``, ``dataset``, ``entries`` (one per published
number: id, reference, metric, metric_definition, setting, value or value_low/value_high, unit,
n, ci_low/ci_high, source_line, ...), ``claims`` (statements of the work with the ids of the
entries they rest on) and ``comparisons``: which measurement of a radxai run answers which
entry, and which claims can be checked on a run, and how::

    comparisons:
      entries:
      - entry: table_3_15_accuracy_ct1
        measured: {experiment: ct_accuracy_by_severity, metric: accuracy, setting: 3D CNN, CT-1}
        published_scale: 0.01          # the work gives percent; measurements are fractions
        as_published: {...}            # optional: the same metric under the work's definition
      claims:
      - claim: ct1_is_hardest_grade
        check: lowest                  # above | below | lowest | highest
        subject: {experiment: ..., metric: ..., setting: ...}
        among: [{...}, {...}]          # lowest/highest: the others; above/below: one ``than``

:func:`load_published` reads and checks every file; a malformed file or entry raises
:class:`PublishedDataError` naming the file and the entry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CLAIM_CHECKS",
    "ClaimCheck",
    "EntryComparison",
    "MeasurementKey",
    "PublishedDataError",
    "PublishedWork",
    "load_published",
]

CLAIM_CHECKS = ("above", "below", "lowest", "highest")
_ENTRY_REQUIRED = ("id", "reference", "metric", "metric_definition", "setting", "unit", "source_line")
_KEY_FIELDS = ("experiment", "metric", "setting")


class PublishedDataError(ValueError):
    """A published-numbers file that is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class MeasurementKey:
    """Which row of a run's measurements table: (experiment, metric, setting)."""

    experiment: str
    metric: str
    setting: str

    def __str__(self) -> str:
        return f"{self.experiment} / {self.metric} / {self.setting}"


@dataclass(frozen=True)
class EntryComparison:
    """A published entry and the measurement of a run that answers it.

    Attributes:
        entry: the published entry (its mapping from the YAML file).
        measured: the measurement with the standard definition of the metric.
        published_scale: multiplies the published value (and CI) into the measurement's unit,
            e.g. 0.01 when the work gives percent and radxai records fractions.
        as_published: the same metric under the work's own definition where that differs
            (e.g. a box "IoU" whose union does not subtract the intersection); None otherwise.
    """

    entry: Mapping[str, Any]
    measured: MeasurementKey
    published_scale: float = 1.0
    as_published: MeasurementKey | None = None


@dataclass(frozen=True)
class ClaimCheck:
    """How a claim of the work is checked on a run.

    Attributes:
        claim: the claim (its mapping from the YAML file: id, text, entries, ...).
        check: "above"/"below" (``subject`` against the single key of ``others``) or
            "lowest"/"highest" (``subject`` against every key of ``others``).
        subject: the measurement the claim is about.
        others: the measurements it is compared with.
        higher_is_better: whether a higher value of the metric is the better one.
    """

    claim: Mapping[str, Any]
    check: str
    subject: MeasurementKey
    others: tuple[MeasurementKey, ...]
    higher_is_better: bool = True


@dataclass(frozen=True)
class PublishedWork:
    """One reproduced work's published numbers, claims and comparisons."""

    work: str
    citation: str
    dataset: str
    entries: tuple[Mapping[str, Any], ...]
    claims: tuple[Mapping[str, Any], ...]
    entry_comparisons: tuple[EntryComparison, ...]
    claim_checks: tuple[ClaimCheck, ...]
    source: str

    def entry(self, entry_id: str) -> Mapping[str, Any]:
        """The entry with this id; KeyError naming the work if there is none."""
        for entry in self.entries:
            if entry["id"] == entry_id:
                return entry
        raise KeyError(f"work {self.work} has no published entry {entry_id!r}")


def load_published(folder: str | Path | None = None) -> dict[str, PublishedWork]:
    """Read every ``*.yaml`` of ``folder`` (default: the files shipped with radxai).

    Returns:
        ``{work number: PublishedWork}``, sorted by work number.

    Raises:
        PublishedDataError: a file that is not YAML or misses a key, an entry without a number
            or a required field, repeated ids, a claim or comparison that cites an entry that
            does not exist, an unknown check, two files for one work. The message names the
            file and the entry.
    """
    if folder is None:
        paths = [Path(str(path)) for path in resources.files(__name__).iterdir()]
    else:
        paths = list(Path(folder).iterdir())
    works: dict[str, PublishedWork] = {}
    for path in sorted(path for path in paths if path.name.endswith(".yaml")):
        work = _read_work(path)
        if work.work in works:
            raise PublishedDataError(f"{path.name}: work {work.work} is also given by {works[work.work].source}")
        works[work.work] = work
    return dict(sorted(works.items()))


def _read_work(path: Path) -> PublishedWork:
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PublishedDataError(f"{path.name}: not valid YAML ({error})") from error
    if not isinstance(content, dict):
        raise PublishedDataError(f"{path.name}: expected a mapping at the top level")
    for key in ("work", "citation", "dataset", "entries"):
        if not content.get(key):
            raise PublishedDataError(f"{path.name}: no {key!r}")
    entries = content["entries"]
    if not isinstance(entries, list):
        raise PublishedDataError(f"{path.name}: 'entries' must be a list")
    by_id: dict[str, Mapping[str, Any]] = {}
    for position, entry in enumerate(entries):
        _check_entry(path, position, entry)
        if entry["id"] in by_id:
            raise PublishedDataError(f"{path.name}: entry id {entry['id']!r} repeats")
        by_id[entry["id"]] = entry
    claims = content.get("claims") or []
    claims_by_id = {}
    for claim in claims:
        cited = claim.get("entries") or []
        unknown = sorted(set(cited) - set(by_id))
        if not claim.get("id") or not claim.get("text") or unknown:
            raise PublishedDataError(
                f"{path.name}: claim {claim.get('id')!r} needs an id and a "
                f"text and may cite only this file's entries (unknown: {unknown})"
            )
        claims_by_id[claim["id"]] = claim
    comparisons = content.get("comparisons") or {}
    entry_comparisons = tuple(_entry_comparison(path, item, by_id) for item in comparisons.get("entries") or [])
    claim_checks = tuple(_claim_check(path, item, claims_by_id) for item in comparisons.get("claims") or [])
    return PublishedWork(
        work=str(content["work"]),
        citation=content["citation"],
        dataset=content["dataset"],
        entries=tuple(entries),
        claims=tuple(claims),
        entry_comparisons=entry_comparisons,
        claim_checks=claim_checks,
        source=path.name,
    )


def _check_entry(path: Path, position: int, entry: Any) -> None:
    if not isinstance(entry, dict):
        raise PublishedDataError(f"{path.name}: entry {position} is not a mapping")
    name = entry.get("id", f"number {position}")
    missing = [key for key in _ENTRY_REQUIRED if not entry.get(key)]
    if missing:
        raise PublishedDataError(f"{path.name}: entry {name!r} has no {', '.join(missing)}")
    numbers = [entry.get(key) for key in ("value", "value_low", "value_high", "ci_low", "ci_high")]
    if any(number is not None and not _is_number(number) for number in numbers):
        raise PublishedDataError(f"{path.name}: entry {name!r} has a value or bound that is not a number")
    if (entry.get("ci_low") is None) != (entry.get("ci_high") is None):
        raise PublishedDataError(f"{path.name}: entry {name!r} gives one CI bound only")
    if entry.get("ci_low") is not None and entry["ci_low"] > entry["ci_high"]:
        raise PublishedDataError(f"{path.name}: entry {name!r} has ci_low above ci_high")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _key(path: Path, where: str, given: Any) -> MeasurementKey:
    if not isinstance(given, dict) or any(
        not isinstance(given.get(field), str) or not given[field] for field in _KEY_FIELDS
    ):
        raise PublishedDataError(
            f"{path.name}: {where} needs a measurement key with {', '.join(_KEY_FIELDS)}; got {given!r}"
        )
    return MeasurementKey(*(given[field] for field in _KEY_FIELDS))


def _referenced(path: Path, item: Any, field: str, known: Mapping[str, Any], kind: str) -> str:
    """The id ``item[field]`` after checking that this file has it."""
    name = item.get(field) if isinstance(item, dict) else None
    if name not in known:
        raise PublishedDataError(f"{path.name}: a {kind} names {field} {name!r}, which this file does not have")
    return name


def _entry_comparison(path: Path, item: Any, entries: Mapping[str, Mapping[str, Any]]) -> EntryComparison:
    entry_id = _referenced(path, item, "entry", entries, "comparison")
    where = f"comparison of entry {entry_id!r}"
    entry = entries[entry_id]
    if entry.get("value") is None:
        raise PublishedDataError(f"{path.name}: {where}: the entry has no single value to compare")
    scale = item.get("published_scale", 1.0)
    if not _is_number(scale) or scale <= 0:
        raise PublishedDataError(f"{path.name}: {where}: published_scale must be a positive number")
    measured = _key(path, where, item.get("measured"))
    as_published = item.get("as_published")
    return EntryComparison(
        entry=entry,
        measured=measured,
        published_scale=float(scale),
        as_published=None if as_published is None else _key(path, where, as_published),
    )


def _claim_check(path: Path, item: Any, claims: Mapping[str, Mapping[str, Any]]) -> ClaimCheck:
    claim_id = _referenced(path, item, "claim", claims, "claim check")
    where = f"check of claim {claim_id!r}"
    check = item.get("check")
    if check not in CLAIM_CHECKS:
        raise PublishedDataError(f"{path.name}: {where}: check must be one of {CLAIM_CHECKS}; got {check!r}")
    others_field = "than" if check in ("above", "below") else "among"
    others = item.get(others_field)
    if check in ("above", "below"):
        others = [others]
    if not isinstance(others, list) or not others:
        raise PublishedDataError(f"{path.name}: {where}: {check!r} needs {others_field!r}")
    higher_is_better = item.get("higher_is_better", True)
    if not isinstance(higher_is_better, bool):
        raise PublishedDataError(f"{path.name}: {where}: higher_is_better must be true or false")
    return ClaimCheck(
        claim=claims[claim_id],
        check=check,
        subject=_key(path, where, item.get("subject")),
        others=tuple(_key(path, where, other) for other in others),
        higher_is_better=higher_is_better,
    )
