"""The report's tables as plain rows of text, shared by the HTML, LaTeX, Markdown and PDF layouts."""

from __future__ import annotations

import pandas as pd

from radxai.reporting.content import format_interval, format_number

__all__ = ["claims_rows", "measurements_rows", "not_compared_rows", "notebooks_rows", "side_by_side_rows"]

SIDE_BY_SIDE_HEADER = (
    "Reference",
    "Setting (published)",
    "Metric",
    "Published",
    "Published 95% CI",
    "Published n",
    "Measured",
    "Measured 95% CI",
    "Measured n",
    "Measured, the work's definition",
    "Measured setting",
)
CLAIMS_HEADER = (
    "Claim",
    "Check",
    "Verdict in this run",
    "Evidence (value, 95% CI, n)",
    "Holds in the work's own numbers",
)
MEASUREMENTS_HEADER = ("Experiment", "Metric", "Setting", "Value", "95% CI", "n")
NOT_COMPARED_HEADER = ("Experiment of the work", "Published numbers", "Tables and figures")
NOTEBOOKS_HEADER = ("Notebook", "Status", "Minutes")


def side_by_side_rows(table: pd.DataFrame) -> list[tuple[str, ...]]:
    """Rows of ``reproduction.side_by_side`` as text, in ``SIDE_BY_SIDE_HEADER`` order."""
    return [
        (
            row.reference,
            row.setting,
            row.metric,
            format_number(row.published),
            format_interval(row.published_ci_low, row.published_ci_high),
            format_number(row.published_n),
            format_number(row.measured),
            format_interval(row.measured_ci_low, row.measured_ci_high),
            format_number(row.measured_n),
            format_number(row.measured_as_published),
            row.measured_setting if row.status == "measured" else f"{row.measured_setting} (not measured)",
        )
        for row in table.itertuples(index=False)
    ]


def claims_rows(table: pd.DataFrame) -> list[tuple[str, ...]]:
    """Rows of ``reproduction.claim_verdicts`` as text, in ``CLAIMS_HEADER`` order."""
    holds = {True: "yes", False: "no"}
    return [
        (
            row.text,
            f"{row.subject} {row.check} {row.compared_with}",
            row.verdict,
            row.evidence,
            holds.get(row.holds_in_published_numbers, "not stated"),
        )
        for row in table.itertuples(index=False)
    ]


def measurements_rows(table: pd.DataFrame) -> list[tuple[str, ...]]:
    """Rows of a measurements table as text, in ``MEASUREMENTS_HEADER`` order."""
    return [
        (
            row.experiment,
            row.metric,
            row.setting,
            format_number(row.value),
            format_interval(row.ci_low, row.ci_high),
            format_number(row.n),
        )
        for row in table.itertuples(index=False)
    ]


def not_compared_rows(table: pd.DataFrame) -> list[tuple[str, ...]]:
    """Rows of ``reproduction.unmeasured_entries`` as text, in ``NOT_COMPARED_HEADER`` order."""
    return [
        (row.experiment.replace("_", " "), str(row.entries), row.references) for row in table.itertuples(index=False)
    ]


def notebooks_rows(table: pd.DataFrame) -> list[tuple[str, ...]]:
    """Rows of the notebooks' status table as text, in ``NOTEBOOKS_HEADER`` order."""
    return [(row.notebook, row.status, format_number(row.minutes)) for row in table.itertuples(index=False)]
