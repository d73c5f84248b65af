"""Tests of radxai.evaluate.localisation_tables: per-study scores and their summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radxai.evaluate.binarise import Band, Threshold, TopFraction
from radxai.evaluate.localisation_tables import (
    box_iou_per_image,
    organ_iou_per_study,
    overlap_per_study,
    positive_part_scaled_to_peak,
    region_scores_per_study,
    summarise_means,
    summarise_overlap,
)


def _square(shape: tuple[int, ...], start: int, stop: int) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[(slice(start, stop),) * len(shape)] = True
    return mask


# Four studies on 8 x 8 images: three lesions of 4 voxels and one positive without a mask.
MASKS = [_square((8, 8), 1, 3), _square((8, 8), 4, 6), _square((8, 8), 2, 4), np.zeros((8, 8), dtype=bool)]
LABELS = [1, 1, 1, 1]
PREDICTIONS = [1, 1, 0, 1]


def _perfect_and_shifted_maps() -> dict[str, list[np.ndarray]]:
    perfect = [mask.astype(float) for mask in MASKS]
    # "shifted" hits study 0 exactly, study 1 half, study 2 not at all, and is empty above 0.7
    # for study 3.
    shifted = [
        MASKS[0].astype(float),
        np.roll(MASKS[1], 1, axis=1).astype(float),
        _square((8, 8), 6, 8).astype(float),
        np.zeros((8, 8)),
    ]
    return {"perfect": perfect, "shifted": shifted}


def test_overlap_per_study_scores_every_method_scheme_and_study() -> None:
    frame = overlap_per_study(_perfect_and_shifted_maps(), MASKS, [Threshold(0.7), Band(0.3, 0.7)], LABELS, PREDICTIONS)
    assert list(frame.columns) == [
        "method",
        "scheme",
        "study",
        "label",
        "predicted",
        "iou",
        "dice",
        "mse",
        "dice_counting_background",
        "predicted_voxels",
        "reference_voxels",
    ]
    np.testing.assert_allclose(frame["dice_counting_background"], 1 - frame["mse"])
    assert len(frame) == 2 * 2 * 4
    shifted = frame[(frame.method == "shifted") & (frame.scheme == "h > 0.7")].set_index("study")
    np.testing.assert_allclose(shifted["iou"].to_numpy()[:3], [1.0, 2 / 6, 0.0])
    np.testing.assert_allclose(shifted["dice"].to_numpy()[:3], [1.0, 0.5, 0.0])
    assert np.isnan(shifted.loc[3, "iou"])  # both empty
    assert shifted.loc[1, "mse"] == pytest.approx(4 / 64)


def test_summary_separates_true_positives_and_counts_empty_masks() -> None:
    frame = overlap_per_study(_perfect_and_shifted_maps(), MASKS, [Threshold(0.7), Band(0.3, 0.7)], LABELS, PREDICTIONS)
    table = summarise_overlap(frame, resamples=200)
    assert table.index.names == ["method", "scheme"]
    assert list(table.index) == [
        ("perfect", "h > 0.7"),
        ("perfect", "0.3 < h <= 0.7"),
        ("shifted", "h > 0.7"),
        ("shifted", "0.3 < h <= 0.7"),
    ]
    shifted = table.loc[("shifted", "h > 0.7")]
    assert shifted["iou_all_positives"] == pytest.approx((1 + 2 / 6 + 0) / 3)
    assert shifted["iou_true_positives"] == pytest.approx((1 + 2 / 6) / 2)  # study 2 missed
    assert shifted["dice_true_positives"] == pytest.approx(0.75)
    assert shifted["studies_all_positives"] == 3 and shifted["studies_true_positives"] == 2
    assert shifted["empty_reference_all_positives"] == 1
    assert shifted["empty_reference_true_positives"] == 1
    assert shifted["empty_prediction_all_positives"] == 0
    assert shifted["iou_all_positives_ci_low"] <= shifted["iou_all_positives"] <= shifted["iou_all_positives_ci_high"]
    # A 0/1 map has nothing in the band: every scored study's prediction is empty, IoU 0.
    band = table.loc[("perfect", "0.3 < h <= 0.7")]
    assert band["iou_all_positives"] == 0.0 and band["empty_prediction_all_positives"] == 3
    assert table.loc[("perfect", "h > 0.7"), "dice_all_positives_ci_low"] == 1.0


def test_summary_is_reproducible_and_handles_no_positives() -> None:
    heatmaps = _perfect_and_shifted_maps()
    frame = overlap_per_study(heatmaps, MASKS, [TopFraction(0.1)], LABELS, PREDICTIONS)
    pd.testing.assert_frame_equal(summarise_overlap(frame, seed=3), summarise_overlap(frame, seed=3))
    negatives = overlap_per_study(heatmaps, MASKS, [TopFraction(0.1)], [0, 0, 0, 0], PREDICTIONS)
    table = summarise_overlap(negatives, resamples=10)
    assert table["iou_all_positives"].isna().all()
    assert (table["studies_true_positives"] == 0).all()


def test_overlap_bad_input() -> None:
    heatmaps = _perfect_and_shifted_maps()
    with pytest.raises(ValueError, match="method 'perfect' has 3 heatmaps but there are 4"):
        overlap_per_study({"perfect": heatmaps["perfect"][:3]}, MASKS, [Threshold(0.5)], LABELS, PREDICTIONS)
    with pytest.raises(ValueError, match=r"labels must be 0/1.*\[2\]"):
        overlap_per_study(heatmaps, MASKS, [Threshold(0.5)], [1, 2, 1, 1], PREDICTIONS)
    with pytest.raises(ValueError, match=r"predictions must have one entry per study"):
        overlap_per_study(heatmaps, MASKS, [Threshold(0.5)], LABELS, [1, 1])
    with pytest.raises(ValueError, match=r"heatmap shape \(4, 4\) differs from mask 0 shape"):
        overlap_per_study({"small": [np.ones((4, 4))] * 4}, MASKS, [Threshold(0.5)], LABELS, PREDICTIONS)
    with pytest.raises(ValueError, match=r"no column\(s\) \['label'"):
        summarise_overlap(pd.DataFrame({"method": [], "scheme": []}))
    with pytest.raises(TypeError, match="non-empty mapping"):
        overlap_per_study({}, MASKS, [Threshold(0.5)], LABELS, PREDICTIONS)


def test_masks_can_be_resampled_onto_coarse_maps_in_3d() -> None:
    mask = _square((8, 8, 8), 0, 4)
    coarse = _square((2, 2, 2), 0, 1).astype(float)
    frame = overlap_per_study({"coarse": [coarse]}, [mask], [Threshold(0.5)], [1], [1], resample="nearest")
    assert frame.loc[0, "iou"] == 1.0 and frame.loc[0, "reference_voxels"] == 1


# --------------------------------------------------------------------------------------------
# Summaries of any per-item table
# --------------------------------------------------------------------------------------------


def test_summarise_means_counts_undefined_values_and_brackets_the_mean() -> None:
    frame = pd.DataFrame({"method": ["a"] * 5 + ["b"] * 2, "score": [0.1, 0.2, 0.3, np.nan, 0.4, 0.5, 0.5]})
    table = summarise_means(frame, ["method"], ["score"], resamples=500, seed=1)
    assert list(table.columns) == ["score", "score_ci_low", "score_ci_high", "score_count", "score_undefined"]
    assert table.loc["a", "score"] == pytest.approx(0.25)
    assert table.loc["a", "score_count"] == 4 and table.loc["a", "score_undefined"] == 1
    assert 0.1 <= table.loc["a", "score_ci_low"] < 0.25 < table.loc["a", "score_ci_high"] <= 0.4
    assert table.loc["b", "score_ci_low"] == table.loc["b", "score_ci_high"] == 0.5
    scores = pd.DataFrame({"method": "c", "score": np.random.default_rng(0).random(30)})
    seeded = summarise_means(scores, ["method"], ["score"], seed=2)
    pd.testing.assert_frame_equal(seeded, summarise_means(scores, ["method"], ["score"], seed=2))
    assert not seeded.equals(summarise_means(scores, ["method"], ["score"], seed=3))
    empty = summarise_means(frame.iloc[:0], ["method"], ["score"])
    assert empty.empty and "score_ci_low" in empty.columns
    with pytest.raises(ValueError, match="resamples"):
        summarise_means(frame, ["method"], ["score"], resamples=0)
    with pytest.raises(ValueError, match=r"no column\(s\) \['missing'\]"):
        summarise_means(frame, ["method"], ["missing"])


# --------------------------------------------------------------------------------------------
# X-ray boxes, region scores, OrganIoU
# --------------------------------------------------------------------------------------------


def test_box_iou_per_image_matches_top_fraction_boxes_to_readers() -> None:
    shape = (20, 20)
    aorta = np.zeros(shape)
    aorta[2:6, 4:9] = 1.0  # 20 pixels = 5% of the image
    noise = np.random.default_rng(0).uniform(0, 0.5, shape)
    heatmaps = {"gradcam": [np.stack([aorta + 0.1 * noise, noise]), np.stack([noise, noise])]}
    readers = [
        {"Aortic enlargement": [(4, 2, 9, 6), (4, 2, 9, 8)]},
        {"Aortic enlargement": [(0, 0, 5, 5)], "Cardiomegaly": []},
    ]
    frame = box_iou_per_image(heatmaps, readers, ["Aortic enlargement", "Cardiomegaly"], [0.05, 0.2])
    assert list(frame.columns) == [
        "method",
        "class",
        "top_fraction",
        "image",
        "box_iou",
        "box_iou_as_published",
        "predicted_boxes",
        "reader_boxes",
    ]
    first = frame[(frame.image == 0) & (frame.top_fraction == 0.05)].iloc[0]
    assert first["box_iou"] == pytest.approx((1.0 + 20 / 30) / 2)
    # The work's union adds the areas: 20 / 40 and 20 / 50, averaged over both reader boxes.
    assert first["box_iou_as_published"] == pytest.approx((20 / 40 + 20 / 50) / 2)
    assert first["predicted_boxes"] == 1 and first["reader_boxes"] == 2
    assert set(frame["class"]) == {"Aortic enlargement"}  # no reader box for Cardiomegaly
    evaluated = np.array([[True, False], [False, True]])
    scored = box_iou_per_image(heatmaps, readers, ["Aortic enlargement", "Cardiomegaly"], [0.05], evaluated=evaluated)
    assert list(scored["image"]) == [0, 1]
    assert np.isnan(scored.iloc[1]["box_iou"])  # evaluated but nobody drew a box
    table = summarise_means(scored, ["method", "class", "top_fraction"], ["box_iou"])
    assert table.loc[("gradcam", "Cardiomegaly", 0.05), "box_iou_undefined"] == 1
    with pytest.raises(ValueError, match=r"heatmaps must be \(K, H, W\) with K = 2"):
        box_iou_per_image({"gradcam": [noise, noise]}, readers, ["Aortic enlargement", "Cardiomegaly"], [0.05])


def test_region_scores_per_study() -> None:
    masks = [_square((6, 6, 6), 0, 2), _square((6, 6, 6), 3, 6), np.zeros((6, 6, 6), bool)]
    peak_inside = np.where(masks[0], 1.0, 0.1)
    peak_outside = np.where(masks[1], 0.1, 1.0)
    frame = region_scores_per_study({"m": [peak_inside, peak_outside, peak_inside]}, masks)
    assert list(frame["pointing_hit"])[:2] == [1.0, 0.0]
    assert frame.loc[0, "pixel_roc_auc"] == 1.0 and frame.loc[1, "pixel_roc_auc"] == 0.0
    assert frame.loc[0, "mass_accuracy"] == pytest.approx(8 / (8 + 0.1 * 208))
    assert frame.loc[2, ["pointing_hit", "mass_accuracy", "pixel_roc_auc"]].isna().all()
    table = summarise_means(frame, ["method"], ["pointing_hit", "mass_accuracy", "pixel_roc_auc"])
    assert table.loc["m", "pointing_hit"] == 0.5
    assert table.loc["m", "pointing_hit_undefined"] == 1


def test_organ_iou_per_study_gives_one_row_per_threshold() -> None:
    allowed = [_square((4, 4), 0, 2)]
    heatmap = np.array([[0.9, 0.8, 0.0, 0.0], [0.7, 0.6, 0.0, 0.0], [0.0, 0.0, 0.65, 0.0], [0.0, 0.0, 0.0, 0.0]])
    frame = organ_iou_per_study({"hirescam": [heatmap]}, allowed, [0.5, 0.62, 0.95])
    assert list(frame["threshold"]) == [0.5, 0.62, 0.95]
    np.testing.assert_allclose(frame["organ_iou"].to_numpy()[:2], [4 / 5, 3 / 4])
    assert np.isnan(frame["organ_iou"].iloc[2])


def test_maps_are_scaled_to_their_own_positive_peak_and_all_negative_maps_stay_zero() -> None:
    heatmaps = np.array([[[2.0, -1.0], [1.0, 0.5]], [[-3.0, -1.0], [-2.0, -0.5]]])
    scaled = positive_part_scaled_to_peak(heatmaps)
    np.testing.assert_allclose(scaled[0], [[1.0, 0.0], [0.5, 0.25]])
    np.testing.assert_array_equal(scaled[1], 0.0)
    with pytest.raises(ValueError, match=r"\(N, \*spatial\)"):
        positive_part_scaled_to_peak(np.ones(3))
