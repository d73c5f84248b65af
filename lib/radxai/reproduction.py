"""The works' published numbers beside a run's measurements, and which published claims reproduce.

:func:`side_by_side` joins each published entry that radxai measures (the ``comparisons`` of
``radxai.published``) with the run's ``tables/measurements.csv``; :func:`claim_verdicts` checks
each checkable claim on the run. Both keep a row for what the run did not measure, so a report
says what is missing instead of leaving it out.

Verdicts of a claim (``VERDICTS``):

- "reproduced": the measurements go the claimed way and their 95% intervals do not overlap;
- "same direction, not shown": the point estimates go the claimed way, the intervals overlap
  (or are undefined at n < 2): this run cannot tell;
- "equal estimates, not shown": the point estimates tie (e.g. two accuracies of 1 at n = 1);
- "opposite direction, not shown": a point estimate goes the other way, the intervals overlap;
- "contradicted": the intervals do not overlap and go the other way;
- "not measured": a measurement the check needs is not in the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from radxai.narrative import Estimate
from radxai.published import ClaimCheck, MeasurementKey, PublishedWork

__all__ = ["SIDE_BY_SIDE_COLUMNS", "VERDICTS", "claim_verdicts", "side_by_side", "unmeasured_entries"]

VERDICTS = (
    "reproduced",
    "same direction, not shown",
    "equal estimates, not shown",
    "opposite direction, not shown",
    "contradicted",
    "not measured",
)
SIDE_BY_SIDE_COLUMNS = (
    "work",
    "reference",
    "entry",
    "setting",
    "metric",
    "published",
    "published_ci_low",
    "published_ci_high",
    "published_n",
    "measured",
    "measured_ci_low",
    "measured_ci_high",
    "measured_n",
    "measured_as_published",
    "measured_setting",
    "status",
)


def side_by_side(
    measurements: pd.DataFrame, works: Mapping[str, PublishedWork] | Iterable[PublishedWork]
) -> pd.DataFrame:
    """One row per compared published entry: the published number next to the run's.

    Args:
        measurements: a run's measurements table (``report.read_measurements``).
        works: the published works (``radxai.published.load_published()``).

    Returns:
        A DataFrame with ``SIDE_BY_SIDE_COLUMNS``, in the works' file order. Published values
        and CIs are converted into the measurement's unit (``published_scale``); ``status`` is
        "measured" or "not measured in this run" (then the measured columns are NaN).
        ``measured_as_published`` is the run's value under the work's own definition of the
        metric where the comparison names one, else NaN.

    Raises:
        ValueError: the measurements table gives one key twice.
    """
    lookup = _lookup(measurements)
    rows = []
    for work in _works(works):
        for comparison in work.entry_comparisons:
            entry, scale = comparison.entry, comparison.published_scale
            measured = lookup.get(comparison.measured)
            as_published = lookup.get(comparison.as_published) if comparison.as_published else None
            rows.append(
                {
                    "work": work.work,
                    "reference": entry["reference"],
                    "entry": entry["id"],
                    "setting": entry["setting"],
                    "metric": comparison.measured.metric,
                    "published": _scaled(entry.get("value"), scale),
                    "published_ci_low": _scaled(entry.get("ci_low"), scale),
                    "published_ci_high": _scaled(entry.get("ci_high"), scale),
                    "published_n": entry.get("n"),
                    "measured": _field(measured, "value"),
                    "measured_ci_low": _field(measured, "ci_low"),
                    "measured_ci_high": _field(measured, "ci_high"),
                    "measured_n": _field(measured, "n"),
                    "measured_as_published": _field(as_published, "value"),
                    "measured_setting": comparison.measured.setting,
                    "status": "measured" if measured is not None else "not measured in this run",
                }
            )
    return pd.DataFrame(rows, columns=list(SIDE_BY_SIDE_COLUMNS))


def claim_verdicts(
    measurements: pd.DataFrame, works: Mapping[str, PublishedWork] | Iterable[PublishedWork]
) -> pd.DataFrame:
    """Whether each checkable published claim holds in the run.

    Args:
        measurements: a run's measurements table.
        works: the published works.

    Returns:
        A DataFrame with columns work, claim, text, check, subject, compared_with, verdict (one
        of ``VERDICTS``), evidence (the numbers the verdict rests on, with CIs and n) and
        holds_in_published_numbers (whether the work's own numbers bear the claim out).

    Raises:
        ValueError: the measurements table gives one key twice.
    """
    lookup = _lookup(measurements)
    rows = []
    for work in _works(works):
        for check in work.claim_checks:
            verdict, evidence = _verdict(check, lookup)
            rows.append(
                {
                    "work": work.work,
                    "claim": check.claim["id"],
                    "text": check.claim["text"],
                    "check": check.check,
                    "subject": check.subject.setting,
                    "compared_with": "; ".join(other.setting for other in check.others),
                    "verdict": verdict,
                    "evidence": evidence,
                    "holds_in_published_numbers": check.claim.get("holds_in_numbers"),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "work",
            "claim",
            "text",
            "check",
            "subject",
            "compared_with",
            "verdict",
            "evidence",
            "holds_in_published_numbers",
        ],
    )


def unmeasured_entries(works: Mapping[str, PublishedWork] | Iterable[PublishedWork]) -> pd.DataFrame:
    """Published entries no comparison answers, counted per work and experiment.

    Returns:
        A DataFrame with columns work, experiment, entries (how many), references (the tables
        and figures they come from): what a report lists as not reproduced by radxai.
    """
    rows = []
    for work in _works(works):
        compared = {comparison.entry["id"] for comparison in work.entry_comparisons}
        by_experiment: dict[str, list[Mapping[str, Any]]] = {}
        for entry in work.entries:
            if entry["id"] not in compared:
                by_experiment.setdefault(entry.get("experiment", "unnamed"), []).append(entry)
        for experiment, entries in by_experiment.items():
            references = sorted({entry["reference"].split(" (")[0] for entry in entries})
            rows.append(
                {
                    "work": work.work,
                    "experiment": experiment,
                    "entries": len(entries),
                    "references": "; ".join(references),
                }
            )
    return pd.DataFrame(rows, columns=["work", "experiment", "entries", "references"])


def _works(works: Mapping[str, PublishedWork] | Iterable[PublishedWork]) -> list[PublishedWork]:
    return list(works.values()) if isinstance(works, Mapping) else list(works)


def _lookup(measurements: pd.DataFrame) -> dict[MeasurementKey, Mapping[str, Any]]:
    lookup: dict[MeasurementKey, Mapping[str, Any]] = {}
    for row in measurements.to_dict("records"):
        key = MeasurementKey(row["experiment"], row["metric"], row["setting"])
        if key in lookup:
            raise ValueError(
                f"the measurements table gives {key} twice (works "
                f"{lookup[key]['work']} and {row['work']}); a comparison would be ambiguous"
            )
        lookup[key] = row
    return lookup


def _scaled(value: Any, scale: float) -> float:
    return float("nan") if value is None else float(value) * scale


def _field(row: Mapping[str, Any] | None, name: str) -> float:
    if row is None or row.get(name) is None or pd.isna(row.get(name)):
        return float("nan")
    return float(row[name])


def _estimate(row: Mapping[str, Any]) -> Estimate:
    n = row.get("n")
    count = 0 if n is None or pd.isna(n) else int(n)
    low, high = _field(row, "ci_low"), _field(row, "ci_high")
    return Estimate(float(row["value"]), low, high, count)


def _describe(key: MeasurementKey, estimate: Estimate) -> str:
    if not estimate.interval_defined:
        return f"{key.setting} {estimate.value:.3g} (n = {estimate.n}, no interval)"
    return f"{key.setting} {estimate.value:.3g} ({estimate.ci_low:.3g} to {estimate.ci_high:.3g}, n = {estimate.n})"


def _verdict(check: ClaimCheck, lookup: Mapping[MeasurementKey, Mapping[str, Any]]) -> tuple[str, str]:
    keys = (check.subject, *check.others)
    missing = [str(key) for key in keys if key not in lookup]
    if missing:
        return "not measured", "missing: " + "; ".join(missing)
    estimates = [_estimate(lookup[key]) for key in keys]
    evidence = "; ".join(_describe(key, estimate) for key, estimate in zip(keys, estimates))
    # "below"/"lowest" are "above"/"highest" of the negated values: the claim's side is up.
    sign = 1.0 if check.check in ("above", "highest") else -1.0
    oriented = [
        (sign * estimate.value, *sorted((sign * estimate.ci_low, sign * estimate.ci_high))) for estimate in estimates
    ]
    (subject_value, subject_low, subject_high), others = oriented[0], oriented[1:]
    if all(subject_value > value for value, _, _ in others):
        unsettled = "same direction, not shown"
    elif any(subject_value < value for value, _, _ in others):
        unsettled = "opposite direction, not shown"
    else:
        unsettled = "equal estimates, not shown"
    if not all(estimate.interval_defined for estimate in estimates):
        return unsettled, evidence
    if all(subject_low > high for _, _, high in others):
        return "reproduced", evidence
    if any(subject_high < low for _, low, _ in others):
        return "contradicted", evidence
    return unsettled, evidence
