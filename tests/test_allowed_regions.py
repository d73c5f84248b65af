"""Tests of radxai.guided.allowed_regions: per-class organ regions, their grid and augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from radxai.data import datasets, preprocess, real
from radxai.data.phantoms import ORGAN_LABELS
from radxai.evaluate.binarise import resample_mask
from radxai.guided import allowed_regions

RIGHT, LEFT, MEDIASTINUM = (ORGAN_LABELS[name] for name in ("right_lung", "left_lung", "mediastinum"))


def organ_volume() -> np.ndarray:
    """(2, 4, 6): right lung in columns 0-1, mediastinum 2-3, left lung 4-5; row 0 is outside."""
    organs = np.zeros((2, 4, 6), dtype=np.uint8)
    organs[:, 1:, 0:2], organs[:, 1:, 2:4], organs[:, 1:, 4:6] = RIGHT, MEDIASTINUM, LEFT
    return organs


def test_present_class_is_allowed_its_organs_and_absent_class_nothing() -> None:
    organs = organ_volume()
    regions = allowed_regions.allowed_regions(
        organs, [1, 0, 1], [("right_lung", "left_lung"), ("mediastinum",), ("mediastinum",)]
    )
    assert regions.shape == (3, 2, 4, 6) and regions.dtype == bool
    np.testing.assert_array_equal(regions[0], (organs == RIGHT) | (organs == LEFT))
    assert not regions[1].any()
    np.testing.assert_array_equal(regions[2], organs == MEDIASTINUM)


def test_bad_class_descriptions_are_named() -> None:
    organs = organ_volume()
    with pytest.raises(ValueError, match=r"unknown organs \['liver'\].*right_lung, left_lung, mediastinum"):
        allowed_regions.allowed_regions(organs, [1], [("liver",)])
    with pytest.raises(ValueError, match="2 class_organs entries"):
        allowed_regions.allowed_regions(organs, [1], [("right_lung",), ("left_lung",)])
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        allowed_regions.allowed_regions(organs, [0.5], [("right_lung",)])
    with pytest.raises(ValueError, match=r"\(D, H, W\)"):
        allowed_regions.allowed_regions(organs[0], [1], [("right_lung",)])


def test_downsampling_takes_the_element_under_each_cell_centre() -> None:
    masks = torch.zeros(1, 1, 4, 8, 8, dtype=torch.bool)
    masks[0, 0, 1, 3, 5] = True  # under the centre of cell (0, 1, 2): floor((i + 1/2) * 2) = 1, 3, 5
    masks[0, 0, 0, 0, 0] = True  # between centres: dropped
    grid = allowed_regions.downsample_to_grid(masks, (2, 4, 4))
    assert grid.shape == (1, 1, 2, 4, 4) and grid.dtype == torch.bool
    assert grid.sum() == 1 and grid[0, 0, 0, 1, 2]
    assert torch.equal(allowed_regions.downsample_to_grid(masks, (4, 8, 8)), masks)
    with pytest.raises(ValueError, match="do not match a grid"):
        allowed_regions.downsample_to_grid(masks, (2, 4))


def test_downsampling_agrees_with_the_evaluations_mask_resampling() -> None:
    # Torch's float scale factors put some centres that fall on an element edge on the element
    # before it (e.g. 26 -> 11); training and OrganIoU evaluation must pick the same elements.
    source = torch.Generator().manual_seed(5)
    for size, cells in [(26, 11), (28, 23), (32, 4), (64, 8), (7, 3), (9, 9)]:
        masks = torch.rand(1, 1, size, 5, generator=source) > 0.5
        ours = allowed_regions.downsample_to_grid(masks, (cells, 5))[0, 0].numpy()
        np.testing.assert_array_equal(ours, resample_mask(masks[0, 0].numpy(), (cells, 5)))


def test_double_precision_inputs_are_augmented() -> None:
    masks = torch.zeros(2, 1, 8, 8, dtype=torch.bool)
    masks[..., 2:5, 2:6] = True
    augment = allowed_regions.JointAugmentation(flip_axes=(-1,), max_degrees=20.0)
    inputs, augmented = augment(masks.double(), masks, torch.Generator().manual_seed(0))
    assert inputs.dtype == torch.float64 and augmented.dtype == torch.bool and augmented.any()


def test_flips_move_inputs_and_masks_together() -> None:
    masks = torch.zeros(3, 1, 2, 4, 6, dtype=torch.bool)
    masks[..., :2] = True  # the right lung, at low column indices
    inputs = masks.float() * 0.7
    flip = allowed_regions.JointAugmentation(flip_axes=(-1,), max_degrees=0.0, flip_probability=1.0)
    flipped_inputs, flipped_masks = flip(inputs, masks, torch.Generator().manual_seed(0))
    assert flipped_masks.dtype == torch.bool
    assert flipped_masks[..., 4:].all() and not flipped_masks[..., :4].any()
    torch.testing.assert_close(flipped_inputs, flipped_masks.float() * 0.7)


def test_rotations_move_inputs_and_masks_together_and_repeat_for_a_seed() -> None:
    masks = torch.zeros(4, 2, 3, 16, 16, dtype=torch.bool)
    masks[:, 0, :, 2:9, 3:7] = True
    masks[:, 1, :, 8:14, 9:15] = True
    inputs = masks[:, :1].float()
    augment = allowed_regions.JointAugmentation(flip_axes=(0, -1), max_degrees=30.0)
    first = augment(inputs, masks, torch.Generator().manual_seed(3))
    second = augment(inputs, masks, torch.Generator().manual_seed(3))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    rotated_inputs, rotated_masks = first
    assert rotated_masks.dtype == torch.bool and not torch.equal(rotated_masks, masks)
    # The nearest-neighbour mask and the bilinear image of the same region agree but at edges.
    agreement = (rotated_masks[:, :1] == (rotated_inputs > 0.5)).float().mean()
    assert agreement > 0.97
    floating = augment(inputs, masks.float(), torch.Generator().manual_seed(3))[1]
    assert floating.dtype == torch.float32 and ((floating > 0) & (floating < 1)).any()


def test_bad_augmentation_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="flip_probability"):
        allowed_regions.JointAugmentation(flip_probability=1.5)
    with pytest.raises(ValueError, match="max_degrees"):
        allowed_regions.JointAugmentation(max_degrees=-5.0)
    augment = allowed_regions.JointAugmentation(flip_axes=(3,))
    with pytest.raises(ValueError, match="flip axis 3 is not a spatial axis of 3D inputs"):
        augment(torch.zeros(1, 1, 2, 4, 4), torch.zeros(1, 1, 2, 4, 4), torch.Generator())
    with pytest.raises(ValueError, match="must share N and the spatial shape"):
        augment(torch.zeros(1, 1, 2, 4, 4), torch.zeros(1, 1, 2, 4, 5), torch.Generator())


@pytest.fixture(scope="module")
def ct_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return datasets.write_synthetic_ct(
        tmp_path_factory.mktemp("ct"),
        count=2,
        seed=0,
        shape=(16, 32, 32),
        grade_shares=(0.5, 0.5, 0, 0, 0),
        split_fractions={"train": 1.0},
    )


def test_dataset_gives_volumes_labels_and_lung_regions(ct_folder: Path) -> None:
    studies = real.load_dataset("mosmeddata", ct_folder)
    volumes = datasets.CTVolumeDataset(studies, shape=(8, 16, 16))
    dataset = allowed_regions.AllowedRegionDataset(volumes)
    assert len(dataset) == 2
    for index, study in enumerate(studies):
        image, labels, allowed = dataset[index]
        assert image.shape == (1, 8, 16, 16) and labels.shape == (1,) and allowed.shape == (1, 8, 16, 16)
        organs = preprocess.resize(study.load().masks["organs"], (8, 16, 16), order=0)
        lungs = (organs == RIGHT) | (organs == LEFT)
        if study.label:
            assert lungs.any()
            np.testing.assert_array_equal(allowed[0], lungs)
        else:
            assert not allowed.any()


def test_dataset_without_organ_masks_is_rejected(ct_folder: Path) -> None:
    studies = [
        datasets.CTStudy(study.study_id, study.grade, study.path, study.split)
        for study in real.load_dataset("mosmeddata", ct_folder)
    ]
    with pytest.raises(ValueError, match="study_0000 has no organ mask"):
        allowed_regions.AllowedRegionDataset(datasets.CTVolumeDataset(studies, shape=(8, 16, 16)))
