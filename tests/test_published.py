"""The reproduced works' published numbers (lib/radxai/published/*.yaml) are well-formed data."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

FILES = sorted(path for path in resources.files("radxai.published").iterdir() if path.name.endswith(".yaml"))
WORKS = {"000", "001", "002", "003"}


def load(path) -> dict:
    return yaml.safe_load(path.read_text())


def test_there_is_one_file_per_reproduced_work() -> None:
    assert {load(path)["work"] for path in FILES} == WORKS


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_every_entry_names_its_source_metric_and_a_number(path) -> None:
    content = load(path)
    ids = [entry["id"] for entry in content["entries"]]
    assert len(ids) == len(set(ids)), "entry ids repeat"
    for entry in content["entries"]:
        for key in ("reference", "metric", "metric_definition", "setting", "unit", "source_line"):
            assert entry.get(key), f"{entry['id']}: no {key}"
        has_value = isinstance(entry.get("value"), (int, float))
        has_range = isinstance(entry.get("value_low"), (int, float)) and isinstance(entry.get("value_high"), (int, float))
        # A work may state a result in words only (e.g. "all of them"); then no number is invented.
        assert has_value or has_range or entry.get("value") is None, entry["id"]
        if entry.get("ci_low") is not None:
            assert entry["ci_low"] <= entry["ci_high"], entry["id"]


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_every_claim_cites_entries_of_its_work(path) -> None:
    content = load(path)
    ids = {entry["id"] for entry in content["entries"]}
    for claim in content.get("claims", []):
        cited = [key for key, value in claim.items() if key.endswith("entries") or key == "entry_ids"]
        assert claim.get("text") and cited, claim
        for key in cited:
            assert set(claim[key]) <= ids, (claim["id"], set(claim[key]) - ids)
