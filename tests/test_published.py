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
        has_range = all(isinstance(entry.get(bound), (int, float)) for bound in ("value_low", "value_high"))
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


# ----------------------------------------------------------------------------- load_published

from radxai.published import PublishedDataError, load_published  # noqa: E402

MINIMAL = {
    "work": "000",
    "citation": "A work",
    "dataset": "synthetic",
    "entries": [
        {
            "id": "a",
            "reference": "Table 1",
            "metric": "accuracy",
            "metric_definition": "share",
            "setting": "all",
            "unit": "fraction",
            "value": 0.5,
            "source_line": "0.5",
        }
    ],
}


def write(folder, name: str, content) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(content if isinstance(content, str) else yaml.safe_dump(content))


def test_the_shipped_files_load_with_their_comparisons() -> None:
    works = load_published()
    assert set(works) == WORKS
    assert sum(len(work.entry_comparisons) for work in works.values()) > 0
    assert sum(len(work.claim_checks) for work in works.values()) > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda content: content["entries"][0].pop("metric"), "entry 'a' has no metric"),
        (
            lambda content: content["entries"][0].update(value="high"),
            "entry 'a' has a value or bound that is not a number",
        ),
        (lambda content: content["entries"][0].update(ci_low=0.4), "entry 'a' gives one CI bound only"),
        (lambda content: content["entries"].append(dict(content["entries"][0])), "entry id 'a' repeats"),
        (
            lambda content: content.update(claims=[{"id": "c", "text": "t", "entries": ["b"]}]),
            r"claim 'c'.*unknown: \['b'\]",
        ),
        (lambda content: content.update(comparisons={"entries": [{"entry": "b"}]}), "a comparison names entry 'b'"),
        (
            lambda content: content.update(comparisons={"entries": [{"entry": "a", "measured": {"metric": "x"}}]}),
            "comparison of entry 'a' needs a measurement key",
        ),
        (
            lambda content: content.update(
                claims=[{"id": "c", "text": "t", "entries": ["a"]}],
                comparisons={"claims": [{"claim": "c", "check": "sideways"}]},
            ),
            "check of claim 'c': check must be one of",
        ),
    ],
)
def test_a_malformed_file_is_named_with_its_entry(tmp_path, change, message) -> None:
    content = yaml.safe_load(yaml.safe_dump(MINIMAL))
    change(content)
    write(tmp_path, "broken.yaml", content)
    with pytest.raises(PublishedDataError, match=f"broken.yaml: {message}"):
        load_published(tmp_path)


def test_not_yaml_and_two_files_for_one_work_are_named(tmp_path) -> None:
    write(tmp_path, "a.yaml", MINIMAL)
    write(tmp_path, "b.yaml", MINIMAL)
    with pytest.raises(PublishedDataError, match="b.yaml: work 000 is also given by a.yaml"):
        load_published(tmp_path)
    write(tmp_path / "other", "c.yaml", "entries: [unclosed")
    with pytest.raises(PublishedDataError, match="c.yaml: not valid YAML"):
        load_published(tmp_path / "other")
