"""Tests of radxai.data.ct_slices: slicing views, the lungs' extent, the slice dataset."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from radxai.data import ct_slices, datasets, real

CT_SHAPE = (16, 32, 32)


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> list[datasets.CTStudy]:
    root = datasets.write_synthetic_ct(tmp_path_factory.mktemp("ct"), count=6, seed=3, shape=CT_SHAPE)
    return real.load_dataset("mosmeddata", root)


def test_lung_slice_range_finds_the_lungs_and_rejects_no_lungs() -> None:
    organs = np.zeros((5, 6, 7), dtype=np.uint8)
    organs[1:4, 2, 3:5] = 1
    organs[2, 4, 6] = 2
    assert ct_slices.lung_slice_range(organs, "axial") == (1, 3)
    assert ct_slices.lung_slice_range(organs, "coronal") == (2, 4)
    assert ct_slices.lung_slice_range(organs, "sagittal") == (3, 6)
    with pytest.raises(ValueError, match="no lung voxels"):
        ct_slices.lung_slice_range(np.zeros((2, 2, 2)), "axial")


def test_slice_dataset_labels_slices_by_their_lesion(studies: list[datasets.CTStudy]) -> None:
    dataset = ct_slices.CTSliceDataset(
        studies, volume_shape=CT_SHAPE, slice_shape=(24, 20), slices_per_study=4, minimum_lesion_voxels=1
    )
    assert len(dataset) == len(dataset.origins) > 0
    x, y = dataset[0]
    assert x.shape == (1, 24, 20) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    by_id = {study.study_id: study for study in studies}
    for label, (study_id, index) in zip(dataset.labels, dataset.origins):
        lesion = by_id[study_id].load().masks["lesion"]
        assert label == int(np.count_nonzero(lesion[:, index, :]) >= 1)
    normal_ids = {study.study_id for study in studies if study.label == 0}
    assert not any(label for label, (study_id, _) in zip(dataset.labels, dataset.origins) if study_id in normal_ids)
    assert dataset.labels.sum() > 0


def test_slice_dataset_names_a_study_without_masks(studies: list[datasets.CTStudy]) -> None:
    unmasked = dataclasses.replace(studies[0], mask_path=None)
    with pytest.raises(ValueError, match=f"{unmasked.study_id}.*no lesion or organ mask"):
        ct_slices.CTSliceDataset([unmasked], volume_shape=CT_SHAPE)


def test_slice_dataset_rejects_zero_slices(studies: list[datasets.CTStudy]) -> None:
    with pytest.raises(ValueError, match="slices_per_study"):
        ct_slices.CTSliceDataset(studies[:1], volume_shape=CT_SHAPE, slices_per_study=0)
