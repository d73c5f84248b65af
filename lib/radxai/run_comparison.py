"""Which measurements of a run moved against a reference run: the regression check after a change.

A measurement *moved* when its value differs from the reference's by more than a relative
tolerance and, where the reference gives a confidence interval, also lies outside that interval.
Deterministic quantities (no interval: a count, a share of voxels, a mean without bootstrap) are
held to the relative tolerance alone. A measurement of the reference that the run lacks is
*missing*, and counts against the run too: a number that disappears is a regression.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from radxai.report import MEASUREMENT_KEY, read_measurements

__all__ = ["DEFAULT_RELATIVE_TOLERANCE", "ProfileMismatchError", "RunComparison", "compare_runs"]

# Same seed, same machine gives the same numbers; this absorbs last-digit noise of float
# reductions whose order depends on the thread count.
DEFAULT_RELATIVE_TOLERANCE = 1e-3


class ProfileMismatchError(ValueError):
    """Two runs of different profiles, compared without ``allow_different_profiles``."""


@dataclass(frozen=True)
class RunComparison:
    """The outcome of :func:`compare_runs`.

    Attributes:
        moved: one row per moved measurement: the key columns, reference value and CI, run
            value, and ``rule`` (which tolerance it broke).
        missing: key columns of the reference's measurements the run does not have.
        added: key columns of the run's measurements the reference does not have (not a failure).
        compared: how many measurements both runs have.
        run_profile, reference_profile: the profiles of the two runs.
    """

    moved: pd.DataFrame
    missing: pd.DataFrame
    added: pd.DataFrame
    compared: int
    run_profile: str
    reference_profile: str

    @property
    def passed(self) -> bool:
        """True when nothing moved and nothing is missing."""
        return self.moved.empty and self.missing.empty

    def summary(self) -> str:
        """A few lines for a terminal: counts, then every moved or missing measurement."""
        lines = [
            f"{self.compared} measurements compared ({self.run_profile} run against a "
            f"{self.reference_profile} reference): {len(self.moved)} moved, "
            f"{len(self.missing)} missing, {len(self.added)} new."
        ]
        for row in self.moved.itertuples(index=False):
            lines.append(
                f"  moved: {row.experiment} / {row.metric} / {row.setting}: "
                f"{row.reference_value:.6g} -> {row.value:.6g} ({row.rule})"
            )
        for row in self.missing.itertuples(index=False):
            lines.append(f"  missing: {row.experiment} / {row.metric} / {row.setting}")
        lines.append("PASSED: no measurement moved." if self.passed else "FAILED: measurements moved or are missing.")
        return "\n".join(lines)


def compare_runs(
    run_dir: str | os.PathLike[str],
    reference_dir: str | os.PathLike[str],
    *,
    relative_tolerance: float = DEFAULT_RELATIVE_TOLERANCE,
    allow_different_profiles: bool = False,
) -> RunComparison:
    """Compare the measurements of ``run_dir`` with those of ``reference_dir``.

    Args:
        run_dir: a run directory (its ``tables/measurements.csv``, whose rows name the profile).
        reference_dir: the reference, in the same layout (e.g. ``results/default``).
        relative_tolerance: |value - reference| <= tolerance * max(|reference|, 1e-12) counts
            as unchanged; a positive number.
        allow_different_profiles: compare runs of different profiles anyway (their numbers
            differ by design, so this is refused unless asked).

    Returns:
        A :class:`RunComparison`.

    Raises:
        FileNotFoundError: either directory has no measurements table (the message names it).
        ProfileMismatchError: the profiles differ and ``allow_different_profiles`` is False.
        ValueError: a tolerance that is not a positive number.
    """
    if not (
        isinstance(relative_tolerance, (int, float)) and relative_tolerance > 0 and math.isfinite(relative_tolerance)
    ):
        raise ValueError(f"relative_tolerance must be a positive number; got {relative_tolerance!r}")
    run, reference = _measurements(Path(run_dir)), _measurements(Path(reference_dir))
    run_profile, reference_profile = _profile(run), _profile(reference)
    if run_profile != reference_profile and not allow_different_profiles:
        raise ProfileMismatchError(
            f"{run_dir} is a {run_profile!r} run and {reference_dir} a {reference_profile!r} run; "
            "their numbers differ by design. Compare runs of one profile, or allow different profiles."
        )
    key = list(MEASUREMENT_KEY)
    joined = reference.merge(run, on=key, how="outer", suffixes=("_reference", ""), indicator=True)
    both = joined[joined["_merge"] == "both"]
    rules = [_rule(row, relative_tolerance) for row in both.to_dict("records")]
    moved = both.assign(rule=rules)[[rule is not None for rule in rules]]
    moved = moved.rename(
        columns={
            "value_reference": "reference_value",
            "ci_low_reference": "reference_ci_low",
            "ci_high_reference": "reference_ci_high",
        }
    )
    return RunComparison(
        moved=moved[key + ["reference_value", "reference_ci_low", "reference_ci_high", "value", "rule"]].reset_index(
            drop=True
        ),
        missing=joined[joined["_merge"] == "left_only"][key].reset_index(drop=True),
        added=joined[joined["_merge"] == "right_only"][key].reset_index(drop=True),
        compared=len(both),
        run_profile=run_profile,
        reference_profile=reference_profile,
    )


def _measurements(directory: Path) -> pd.DataFrame:
    if not (directory / "tables" / "measurements.csv").is_file():
        raise FileNotFoundError(
            f"{directory} has no tables/measurements.csv: not a finished run or reference directory"
        )
    return read_measurements(directory)


def _profile(measurements: pd.DataFrame) -> str:
    # record_measurements wrote each row's profile from the run's run.json.
    profiles = sorted(set(measurements["profile"].dropna()))
    return "; ".join(profiles) if profiles else "unknown"


def _rule(row: dict, relative_tolerance: float) -> str | None:
    value, reference = row["value"], row["value_reference"]
    if abs(value - reference) <= relative_tolerance * max(abs(reference), 1e-12):
        return None
    low, high = row["ci_low_reference"], row["ci_high_reference"]
    if pd.notna(low) and pd.notna(high):
        if low <= value <= high:
            return None
        return f"outside the reference's CI {low:.6g} to {high:.6g}"
    return f"changed by more than {relative_tolerance:g} (relative), reference has no CI"
