"""Tests of radxai.evaluate.localisation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from radxai.evaluate import localisation


def test_mass_accuracy_on_a_hand_example() -> None:
    heatmap = np.array([[1.0, 3.0], [0.0, 4.0]])
    mask = np.array([[False, True], [False, True]])
    assert localisation.mass_accuracy(heatmap, mask) == pytest.approx(7 / 8)
    assert np.isnan(localisation.mass_accuracy(np.zeros((2, 2)), mask))


def test_mass_accuracy_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(3, 3\)"):
        localisation.mass_accuracy(np.ones((2, 2)), np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="non-negative"):
        localisation.mass_accuracy(-np.ones((2, 2)), np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="2 heatmaps but 1 masks"):
        localisation.batch_mass_accuracy(np.ones((2, 3, 3)), [np.ones((3, 3), bool)])


@settings(max_examples=50, deadline=None)
@given(heatmap=arrays(np.float64, (4, 5, 6), elements=st.floats(0, 10)), mask=arrays(bool, (4, 5, 6)))
def test_mass_inside_and_outside_add_up_to_one(heatmap: np.ndarray, mask: np.ndarray) -> None:
    inside = localisation.mass_accuracy(heatmap, mask)
    outside = localisation.mass_accuracy(heatmap, ~mask)
    if heatmap.sum() > 0:
        assert inside + outside == pytest.approx(1.0)
        assert 0.0 <= inside <= 1.0
    else:
        assert np.isnan(inside) and np.isnan(outside)


def test_batch_gives_one_value_per_map() -> None:
    heatmaps = np.stack([np.eye(3), np.ones((3, 3))])
    masks = [np.eye(3, dtype=bool), np.eye(3, dtype=bool)]
    np.testing.assert_allclose(localisation.batch_mass_accuracy(heatmaps, masks), [1.0, 1 / 3])


def test_mass_accuracy_can_resample_the_mask_and_refuses_label_maps() -> None:
    heatmap = np.array([[1.0, 0.0], [0.0, 3.0]])
    fine_mask = np.zeros((4, 4), dtype=bool)
    fine_mask[2:, 2:] = True
    assert localisation.mass_accuracy(heatmap, fine_mask, resample="nearest") == pytest.approx(0.75)
    with pytest.raises(ValueError, match=r"found values \[2\]"):
        localisation.mass_accuracy(heatmap, np.array([[0, 1], [2, 1]]))


# --------------------------------------------------------------------------------------------
# IoU, Dice, MSE
# --------------------------------------------------------------------------------------------


def test_overlaps_on_a_hand_example() -> None:
    prediction = np.array([[1, 1, 0], [0, 0, 0]], dtype=bool)
    reference = np.array([[0, 1, 1], [0, 0, 0]], dtype=bool)
    assert localisation.iou(prediction, reference) == pytest.approx(1 / 3)
    assert localisation.dice(prediction, reference) == pytest.approx(2 / 4)
    assert localisation.mask_mse(prediction, reference) == pytest.approx(2 / 6)


def test_empty_masks_follow_the_documented_policy() -> None:
    empty = np.zeros((3, 3, 3), dtype=bool)
    some = empty.copy()
    some[1, 1, 1] = True
    assert np.isnan(localisation.iou(empty, empty))
    assert np.isnan(localisation.dice(empty, empty))
    assert localisation.mask_mse(empty, empty) == 0.0
    assert localisation.iou(empty, some) == 0.0
    assert localisation.dice(some, empty) == 0.0


def test_overlap_errors_name_the_problem() -> None:
    with pytest.raises(
        ValueError,
        match=r"prediction shape \(2, 2\) differs from reference "
        r"shape \(2, 3\)",
    ):
        localisation.iou(np.ones((2, 2), bool), np.ones((2, 3), bool))
    with pytest.raises(ValueError, match=r"reference must be binary.*\[0.5\]"):
        localisation.dice(np.ones((2, 2), bool), np.full((2, 2), 0.5))


mask_shapes = st.sampled_from([(5, 6), (3, 4, 5)])


@settings(max_examples=80, deadline=None)
@given(data=st.data(), shape=mask_shapes)
def test_iou_and_dice_properties(data: st.DataObject, shape: tuple[int, ...]) -> None:
    first = data.draw(arrays(bool, shape), label="first")
    second = data.draw(arrays(bool, shape), label="second")
    overlap, coefficient = localisation.iou(first, second), localisation.dice(first, second)
    if not (first.any() or second.any()):
        assert np.isnan(overlap) and np.isnan(coefficient)
        return
    assert 0.0 <= overlap <= 1.0 and 0.0 <= coefficient <= 1.0
    assert coefficient == pytest.approx(2 * overlap / (1 + overlap))
    assert overlap == localisation.iou(second, first)
    assert coefficient == localisation.dice(second, first)
    assert localisation.iou(first | second, first | second) == 1.0
    assert localisation.dice(first & ~second, second) == 0.0
    assert localisation.mask_mse(first, second) == pytest.approx(np.mean(first != second))


# --------------------------------------------------------------------------------------------
# Pointing game
# --------------------------------------------------------------------------------------------


def _peak_map(shape: tuple[int, ...], peak: tuple[int, ...]) -> np.ndarray:
    heatmap = np.zeros(shape)
    heatmap[peak] = 1.0
    return heatmap


def test_pointing_game_hits_and_misses() -> None:
    mask = np.zeros((10, 10), dtype=bool)
    mask[2:5, 2:5] = True
    assert localisation.pointing_game(_peak_map((10, 10), (3, 3)), mask)
    assert not localisation.pointing_game(_peak_map((10, 10), (3, 7)), mask)
    # (3, 7) is 3 pixels right of the mask's last column 4.
    assert not localisation.pointing_game(_peak_map((10, 10), (3, 7)), mask, tolerance_pixels=2.9)
    assert localisation.pointing_game(_peak_map((10, 10), (3, 7)), mask, tolerance_pixels=3)


def test_pointing_game_in_3d_with_a_coarse_map() -> None:
    mask = np.zeros((8, 8, 8), dtype=bool)
    mask[4:, 4:, 4:] = True
    coarse = _peak_map((2, 2, 2), (1, 1, 1))
    assert localisation.pointing_game(coarse, mask, resample="nearest")
    assert not localisation.pointing_game(_peak_map((2, 2, 2), (0, 1, 1)), mask, resample="nearest")


def test_pointing_game_ties_must_all_lie_in_the_mask() -> None:
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, :2] = True
    heatmap = np.zeros((4, 4))
    heatmap[0, 0] = heatmap[0, 1] = 1.0
    assert localisation.pointing_game(heatmap, mask)
    heatmap[3, 3] = 1.0
    assert not localisation.pointing_game(heatmap, mask)
    assert not localisation.pointing_game(np.ones((4, 4)), mask)
    assert localisation.pointing_game(np.ones((4, 4)), np.ones((4, 4), dtype=bool))


def test_pointing_game_bad_input() -> None:
    with pytest.raises(ValueError, match="non-empty mask"):
        localisation.pointing_game(np.ones((3, 3)), np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="tolerance_pixels"):
        localisation.pointing_game(np.ones((3, 3)), np.ones((3, 3), bool), tolerance_pixels=-1)
    with pytest.raises(ValueError, match=r"\(3, 3\) differs from mask shape \(4, 4\)"):
        localisation.pointing_game(np.ones((3, 3)), np.ones((4, 4), bool))


# --------------------------------------------------------------------------------------------
# Pixel ROC-AUC
# --------------------------------------------------------------------------------------------


def test_pixel_roc_auc_on_constructed_maps() -> None:
    mask = np.zeros((6, 6), dtype=bool)
    mask[1:3, 1:3] = True
    ramp = np.arange(36, dtype=float).reshape(6, 6)
    assert localisation.pixel_roc_auc(np.where(mask, 2.0, 1.0), mask) == 1.0
    assert localisation.pixel_roc_auc(np.where(mask, 0.0, 1.0), mask) == 0.0
    assert localisation.pixel_roc_auc(np.ones((6, 6)), mask) == 0.5
    assert np.isnan(localisation.pixel_roc_auc(ramp, np.zeros((6, 6), bool)))
    # Mask values 7, 8, 13, 14 against the other 32: count the pairs each one wins.
    others = ramp[~mask]
    wins = sum((others < value).sum() for value in ramp[mask])
    assert localisation.pixel_roc_auc(ramp, mask) == pytest.approx(wins / (4 * 32))


# --------------------------------------------------------------------------------------------
# OrganIoU
# --------------------------------------------------------------------------------------------


def test_organ_iou_counts_allowed_and_forbidden_voxels_above_the_threshold() -> None:
    heatmap = np.array([[0.9, 0.8, 0.1], [0.6, 0.5, 0.2]])
    allowed = np.array([[1, 0, 0], [1, 1, 0]])
    # Above 0.5: (0,0) allowed, (0,1) forbidden, (1,0) allowed; 0.5 itself is not above.
    assert localisation.organ_iou(heatmap, allowed, 0.5) == pytest.approx(2 / 3)
    assert localisation.organ_iou(heatmap, allowed, 0.85) == 1.0
    assert localisation.organ_iou(heatmap, 1 - allowed, 0.85) == 0.0
    assert np.isnan(localisation.organ_iou(heatmap, allowed, 0.95))


def test_organ_iou_at_the_layer_resolution() -> None:
    # A 2 x 4 x 4 layer map against a 4 x 8 x 8 organ mask, downsampled by nearest neighbour.
    organ = np.zeros((4, 8, 8), dtype=bool)
    organ[:, :, :4] = True  # the right half of the columns
    layer_map = np.zeros((2, 4, 4))
    layer_map[:, :, 0] = 1.0  # 8 cells in the organ
    layer_map[0, 0, 3] = 1.0  # 1 cell outside
    assert localisation.organ_iou(layer_map, organ, 0.5, resample="nearest") == pytest.approx(8 / 9)
    with pytest.raises(ValueError, match="allowed_mask shape"):
        localisation.organ_iou(layer_map, organ, 0.5)
