"""Tests of radxai.data.summary on hand-built study and image records."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from radxai.data import summary
from radxai.data.datasets import CTStudy, CXRImage, ReaderAnnotation, cxr_class_names


def study(grade: int, split: str) -> CTStudy:
    return CTStudy(f"study_{grade}{split}", grade, Path("unused.nii.gz"), split)


def image(image_id: str, split: str, annotations: list[ReaderAnnotation]) -> CXRImage:
    marked = {annotation.finding for annotation in annotations}
    labels = {name: name in marked for name in cxr_class_names()}
    labels["No finding"] = not marked
    return CXRImage(image_id, Path("unused.png"), split, labels, tuple(annotations))


def test_ct_grade_table_counts_per_grade_and_split() -> None:
    table = summary.ct_grade_table([study(0, "train"), study(0, "test"), study(2, "train")])
    assert table.loc["CT-0", "train"] == 1 and table.loc["CT-0", "test"] == 1
    assert table.loc["CT-2", "train"] == 1
    assert table.loc["total", "total"] == 3
    assert list(table.columns) == ["train", "test", "total"]


def test_reader_agreement_counts_unanimous_findings() -> None:
    box = (1.0, 1.0, 5.0, 5.0)
    images = [
        image("a", "train", [ReaderAnnotation(r, "Cardiomegaly", box) for r in ("R1", "R2", "R3")]),
        image("b", "train", [ReaderAnnotation("R1", "Cardiomegaly", box), ReaderAnnotation("R2", "Nodule/Mass", box)]),
        image("c", "test", []),
    ]
    table = summary.reader_agreement_table(images)
    assert table.loc["Cardiomegaly", "marked_by_any_reader"] == 2
    assert table.loc["Cardiomegaly", "marked_by_all_readers"] == 1
    assert table.loc["Cardiomegaly", "unanimous_share"] == 0.5
    assert table.loc["Cardiomegaly", "boxes_per_positive_image"] == 2.0
    assert np.isnan(table.loc["Pleural effusion", "unanimous_share"])
    labels = summary.cxr_label_table(images)
    assert labels.loc["No finding", "test"] == 1
    assert labels.loc["Cardiomegaly", "prevalence"] == 2 / 3


def test_confounder_table_shows_the_training_shortcut() -> None:
    table = summary.confounder_table(
        labels=[1, 1, 0, 0, 1, 0],
        splits=["train"] * 4 + ["test"] * 2,
        has_confounder=[True, True, False, False, True, True],
    )
    assert table.loc["train", 1] == 1.0 and table.loc["train", 0] == 0.0
    assert table.loc["test", 0] == 1.0
    assert list(table.index) == ["train", "test"]
