"""Tables that describe a dataset: class and severity balance, reader agreement, confounders."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from radxai.data.datasets import SPLITS, CTStudy, CXRImage, cxr_class_names


def ct_grade_table(studies: Sequence[CTStudy]) -> pd.DataFrame:
    """Counts of studies per MosMed grade (rows CT-0..CT-4) and split (columns), with totals."""
    frame = pd.DataFrame(
        {"grade": [f"CT-{study.grade}" for study in studies], "split": [study.split for study in studies]}
    )
    table = pd.crosstab(frame["grade"], frame["split"], margins=True, margins_name="total")
    columns = [split for split in SPLITS if split in table.columns] + ["total"]
    return table[columns]


def cxr_label_table(images: Sequence[CXRImage]) -> pd.DataFrame:
    """Per class: positive images per split and the prevalence over all images."""
    rows = []
    for name in cxr_class_names():
        row = {"class": name}
        for split in SPLITS:
            row[split] = sum(image.labels[name] for image in images if image.split == split)
        row["prevalence"] = sum(image.labels[name] for image in images) / max(len(images), 1)
        rows.append(row)
    return pd.DataFrame(rows).set_index("class")


def reader_agreement_table(images: Sequence[CXRImage]) -> pd.DataFrame:
    """How often the readers agree that a finding is present.

    Per finding: images marked by at least one reader, by all readers, the share of positive
    images that every reader marked (``unanimous_share``), and the mean number of boxes per
    positive image. Readers are those that appear anywhere in ``images``.
    """
    readers = sorted({annotation.reader_id for image in images for annotation in image.annotations})
    rows = []
    for name in cxr_class_names()[:-1]:
        marked_by = [{annotation.reader_id for annotation in image.boxes_of(name)} for image in images]
        positive = [readers_of for readers_of in marked_by if readers_of]
        unanimous = sum(len(readers_of) == len(readers) for readers_of in positive)
        boxes = sum(len(image.boxes_of(name)) for image in images)
        rows.append(
            {
                "finding": name,
                "marked_by_any_reader": len(positive),
                "marked_by_all_readers": unanimous,
                "unanimous_share": unanimous / len(positive) if positive else float("nan"),
                "boxes_per_positive_image": boxes / len(positive) if positive else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("finding")


def confounder_table(labels: Sequence[int], splits: Sequence[str], has_confounder: Sequence[bool]) -> pd.DataFrame:
    """Share of items carrying the confounder, per split (rows) and label (columns 0 and 1).

    A confounder tied to the label in training shows as ~strength vs ~1 - strength in the train
    row and ~0.5 vs ~0.5 elsewhere.
    """
    frame = pd.DataFrame(
        {"split": list(splits), "label": list(labels), "confounder": [bool(flag) for flag in has_confounder]}
    )
    table = frame.pivot_table(index="split", columns="label", values="confounder", aggfunc="mean")
    return table.reindex([split for split in SPLITS if split in table.index])
