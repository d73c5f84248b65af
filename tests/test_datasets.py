"""Tests of radxai.data.datasets: synthetic datasets in real layouts, loaders, splits."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radxai.data import datasets, phantoms, real

CT_SHAPE = (16, 32, 32)


@pytest.fixture(scope="module")
def ct_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return datasets.write_synthetic_ct(tmp_path_factory.mktemp("ct"), count=8, seed=1, shape=CT_SHAPE)


@pytest.fixture(scope="module")
def cxr_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return datasets.write_synthetic_cxr(
        tmp_path_factory.mktemp("cxr"), count=10, seed=2, shape=(64, 64), prevalence=0.5
    )


def digest_tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_ct_dataset_uses_the_mosmed_layout_and_reads_back(ct_root: Path) -> None:
    studies = real.load_dataset("mosmeddata", ct_root)
    assert len(studies) == 8
    assert Counter(study.grade for study in studies)[0] == 4  # half normal by default
    for study in studies:
        assert study.path.parent.name == f"CT-{study.grade}"
        assert study.label == int(study.grade > 0)
        volume = study.load()
        assert volume.array.shape == CT_SHAPE and volume.array.dtype == np.int16
        assert set(volume.masks) == {"lesion", "organs"}
        lesion = volume.masks["lesion"] > 0
        lungs = np.isin(volume.masks["organs"], [1, 2])
        assert not np.any(lesion & ~lungs)
        assert (lesion.sum() > 0) == (study.grade > 0)
        np.testing.assert_allclose(volume.affine, datasets.ct_affine(CT_SHAPE, volume.spacing))
    assert {study.split for study in studies} <= set(datasets.SPLITS)


def test_ct_dataset_is_byte_identical_for_the_same_seed(ct_root: Path, tmp_path: Path) -> None:
    again = datasets.write_synthetic_ct(tmp_path / "again", count=8, seed=1, shape=CT_SHAPE)
    assert digest_tree(again) == digest_tree(ct_root)


def test_ct_volume_dataset_gives_model_inputs(ct_root: Path) -> None:
    studies = real.load_dataset("mosmeddata", ct_root)
    dataset = datasets.CTVolumeDataset(studies, shape=(8, 16, 16))
    image, label = dataset[0]
    assert image.shape == (1, 8, 16, 16) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert label == studies[0].label
    assert list(dataset.labels) == [study.label for study in studies]


def test_confounded_ct_dataset_ties_the_marker_to_the_label_in_training_only(tmp_path: Path) -> None:
    root = datasets.write_synthetic_ct(
        tmp_path, count=10, seed=4, shape=CT_SHAPE, confounder="marker", confounder_strength=1.0
    )
    for study in real.load_dataset("mosmeddata", root):
        if study.split == "train":
            assert ("marker" in study.confounders) == bool(study.label)
        masks = study.load().masks
        assert ("confounders" in masks) == ("marker" in study.confounders)
        if "confounders" in masks:
            assert 0 < masks["confounders"].sum() < 200  # a small object, not the whole scan


def test_focal_set_has_small_lesions_and_lesion_free_twins_that_differ_only_near_them(tmp_path: Path) -> None:
    root = datasets.write_synthetic_ct(
        tmp_path,
        count=6,
        seed=2,
        shape=CT_SHAPE,
        grade_shares=(0.5, 0.5, 0, 0, 0),
        involvement_range=(0.01, 0.03),
        lesion_free_twins=True,
    )
    studies = real.load_dataset("mosmeddata", root)
    positives = [study for study in studies if study.label == 1]
    assert len(positives) == 3 and all(study.grade == 1 for study in positives)
    for study in positives:
        assert 0.005 < study.involvement < 0.035
        volume, twin = study.load(), study.load_lesion_free()
        changed = volume.array != twin.array
        lesion = volume.masks["lesion"] > 0
        assert changed[lesion].mean() > 0.9
        # The HU ramp at a lesion's edge reaches beyond its mask (half intensity sits on the
        # edge), but never outside the lungs.
        lungs = np.isin(volume.masks["organs"], [1, 2])
        assert not changed[~lungs].any()
    with pytest.raises(datasets.DatasetLayoutError, match="no lesion-free twin"):
        next(study for study in studies if study.label == 0).load_lesion_free()
    inputs = datasets.CTVolumeDataset(positives, shape=CT_SHAPE)
    assert inputs.lesion_free_input(0).shape == inputs[0][0].shape


def test_an_involvement_range_outside_the_grade_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not fit grade CT-1"):
        datasets.write_synthetic_ct(
            tmp_path, count=4, seed=0, shape=CT_SHAPE, grade_shares=(0.5, 0.5, 0, 0, 0), involvement_range=(0.3, 0.4)
        )
    with pytest.raises(ValueError, match="involvement_range"):
        datasets.write_synthetic_ct(tmp_path, count=4, seed=0, shape=CT_SHAPE, involvement_range=(0.2, 0.1))


def test_confounder_flags_follow_the_label_only_in_train() -> None:
    positive = [True, False] * 200
    splits = ["train"] * 200 + ["test"] * 200
    flags = datasets._confounder_flags(positive, splits, strength=1.0, seed=0)
    assert flags[:200] == positive[:200]
    test_flags = np.array(flags[200:])
    test_positive = np.array(positive[200:])
    # Independent of the label outside training: both groups near one half.
    assert abs(test_flags[test_positive].mean() - 0.5) < 0.15
    assert abs(test_flags[~test_positive].mean() - 0.5) < 0.15


def test_cxr_dataset_uses_the_vindr_layout_and_keeps_readers_apart(cxr_root: Path) -> None:
    with open(cxr_root / "train.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0].keys()) == datasets.VINDR_COLUMNS
    images = real.load_dataset("vindr_cxr", cxr_root)
    assert len(images) == 10
    names = datasets.cxr_class_names()
    assert names[-1] == "No finding" and len(names) == 8
    for image in images:
        assert image.load().shape == (64, 64)
        marked = {annotation.finding for annotation in image.annotations}
        assert image.labels["No finding"] == (not marked)
        assert all(image.labels[finding] for finding in marked)
        for annotation in image.annotations:
            x_min, y_min, x_max, y_max = annotation.box
            assert 0 <= x_min <= x_max <= 64 and 0 <= y_min <= y_max <= 64
            assert annotation.reader_id in {"R1", "R2", "R3"}
    readers = {(image.image_id, annotation.reader_id) for image in images for annotation in image.annotations}
    assert len({reader for _, reader in readers}) == 3
    no_finding_rows = [row for row in rows if row["class_name"] == "No finding"]
    assert all(row["x_min"] == "" for row in no_finding_rows)


def test_cxr_image_dataset_targets(cxr_root: Path) -> None:
    images = real.load_dataset("vindr_cxr", cxr_root)
    dataset = datasets.CXRImageDataset(images, shape=(32, 32))
    image, target = dataset[1]
    assert image.shape == (1, 32, 32)
    assert target.shape == (8,)
    assert dataset.targets.shape == (10, 8)
    np.testing.assert_array_equal(dataset.targets.sum(axis=1) > 0, True)  # every image has a label
    assert dataset.targets[:, -1].any()  # some images have no finding


def test_missing_ct_layout_names_the_expected_layout(tmp_path: Path) -> None:
    with pytest.raises(
        datasets.DatasetLayoutError, match=r"not a MosMedData folder(.|\n)*studies/CT-0/study_0001\.nii\.gz"
    ):
        real.load_dataset("mosmeddata", tmp_path)


def test_missing_vindr_files_are_named(cxr_root: Path, tmp_path: Path) -> None:
    with pytest.raises(datasets.DatasetLayoutError, match="train.csv"):
        real.load_dataset("vindr_cxr", tmp_path)
    (tmp_path / "train.csv").write_text("image_id,class_name\n")
    with pytest.raises(datasets.DatasetLayoutError, match="x_min"):
        real.load_dataset("vindr_cxr", tmp_path)
    (tmp_path / "train.csv").write_text((cxr_root / "train.csv").read_text())
    with pytest.raises(datasets.DatasetLayoutError, match=r"missing train/synthetic_00000\.<dicom\|png\|jpg>"):
        real.load_dataset("vindr_cxr", tmp_path)


def test_bad_dataset_arguments_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="count"):
        datasets.write_synthetic_ct(tmp_path, count=0)
    with pytest.raises(ValueError, match="Heart failure"):
        datasets.write_synthetic_cxr(tmp_path, count=2, confounder="side_marker", confounder_label="Heart failure")


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=60), seed=st.integers(0, 2**16))
def test_stratified_split_is_deterministic_and_keeps_class_shares(keys: list[str], seed: int) -> None:
    splits = datasets.stratified_split(keys, seed=seed)
    assert splits == datasets.stratified_split(keys, seed=seed)
    assert set(splits) <= set(datasets.SPLITS)
    for key in set(keys):
        members = [split for split, k in zip(splits, keys) if k == key]
        for name, fraction in datasets.DEFAULT_SPLIT_FRACTIONS.items():
            assert abs(members.count(name) - fraction * len(members)) < 1.0 + 1e-9


def test_child_seeds_differ_between_items() -> None:
    seeds = {datasets.child_seed(0, index) for index in range(100)}
    assert len(seeds) == 100
    assert datasets.child_seed(5, 3) == datasets.child_seed(5, 3)


def test_class_names_follow_vindr_ids() -> None:
    ids = [phantoms.CXR_FINDINGS[name] for name in datasets.cxr_class_names()[:-1]]
    assert ids == sorted(ids)


def test_draw_findings_keeps_a_share_of_normal_images() -> None:
    rng = np.random.default_rng(0)
    draws = [datasets.draw_findings(rng, normal_share=0.4, prevalence=0.3) for _ in range(2000)]
    normal = sum(not findings for findings in draws) / len(draws)
    assert abs(normal - 0.4) < 0.04
    assert all(set(findings) <= set(phantoms.CXR_FINDINGS) for findings in draws)
    with pytest.raises(ValueError, match="1.5"):
        datasets.draw_findings(rng, normal_share=1.5, prevalence=0.3)


def test_reader_boxes_are_rescaled_to_the_model_grid(cxr_root: Path) -> None:
    image = next(image for image in real.load_dataset("vindr_cxr", cxr_root) if image.annotations)
    names = datasets.cxr_class_names()
    on_grid = image.reader_boxes_on_grid(names, (32, 128))  # stored 64 x 64: rows / 2, columns * 2
    finding = image.annotations[0].finding
    stored = np.array([annotation.box for annotation in image.boxes_of(finding)])
    np.testing.assert_allclose(on_grid[finding], stored * np.array([2.0, 0.5, 2.0, 0.5]))
    assert set(on_grid) == {annotation.finding for annotation in image.annotations}


def test_cxr_image_dataset_names_an_image_without_a_requested_class(cxr_root: Path) -> None:
    images = real.load_dataset("vindr_cxr", cxr_root)
    with pytest.raises(ValueError, match=f"{images[0].image_id}.*no label for classes \\['CHF'\\]"):
        datasets.CXRImageDataset(images[:1], shape=(16, 16), class_names=["CHF"])


def test_synthetic_xrays_are_read_by_the_vindr_loader_as_the_synthetic_layout(cxr_root: Path) -> None:
    assert real.survey_dataset("vindr_cxr", cxr_root).layout == "synthetic"
    with open(cxr_root / "synthetic_images.csv", newline="") as handle:
        side_table = {row["image_id"]: row for row in csv.DictReader(handle)}
    images = real.load_dataset("vindr_cxr", cxr_root)
    assert [image.split for image in images] == [side_table[image.image_id]["split"] for image in images]
    for image in images:
        true_findings = set(side_table[image.image_id]["true_findings"].split(";")) - {phantoms.NO_FINDING[0]}
        assert set(image.mask_paths) == true_findings
        assert all(path.is_file() for path in image.mask_paths.values())


def test_a_synthetic_side_table_without_a_study_is_refused_by_name(tmp_path: Path) -> None:
    from radxai.data import checksums

    root = datasets.write_synthetic_ct(tmp_path, count=2, seed=0, shape=CT_SHAPE)
    table = root / "synthetic_studies.csv"
    table.write_text("\n".join(table.read_text().splitlines()[:-1]) + "\n")
    checksums.write_sums(root)  # a deliberate edit: the sums follow it, the layout check must not
    with pytest.raises(datasets.DatasetLayoutError, match=r"synthetic_studies\.csv: has no split for study_0001"):
        real.load_dataset("mosmeddata", root)
