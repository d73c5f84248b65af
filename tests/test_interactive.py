"""Tests of radxai.viz.interactive: what each state draws, the live scores, and bad input."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from radxai.evaluate import boxes as box_metrics  # noqa: E402
from radxai.evaluate import localisation  # noqa: E402
from radxai.evaluate.binarise import Threshold, TopFraction, binarise  # noqa: E402
from radxai.slicing import take_slice  # noqa: E402
from radxai.viz import interactive  # noqa: E402


@pytest.fixture
def scan():
    rng = np.random.default_rng(0)
    volume = rng.uniform(-1000, 400, size=(6, 8, 10)).astype(np.float32)
    heatmaps = {"HiResCAM": rng.uniform(0, 1, size=(6, 8, 10)), "Grad-CAM": rng.uniform(0, 1, size=(6, 8, 10))}
    lesion = np.zeros((6, 8, 10), bool)
    lesion[2:4, 3:6, 4:7] = True
    return volume, heatmaps, {"lesion": lesion}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("plane, index", [("axial", 3), ("coronal", 5), ("sagittal", 9)])
def test_the_state_draws_its_slice_of_the_volume_and_of_its_method(scan, plane, index) -> None:
    volume, heatmaps, masks = scan
    figure, axes = plt.subplots()
    state = interactive.VolumeViewState(method="Grad-CAM", plane=plane, slice_index=index, opacity=0.3)
    interactive.draw_volume_view(axes, volume, heatmaps, state, masks=masks)
    grey, heat = axes.images
    np.testing.assert_array_equal(grey.get_array(), take_slice(volume, plane, index))
    np.testing.assert_allclose(heat.get_array(), take_slice(heatmaps["Grad-CAM"], plane, index))
    assert heat.get_alpha() == 0.3
    assert grey.get_clim() == interactive.WINDOWS_HU["lung"]


def test_contours_appear_only_on_slices_that_hold_the_mask_and_only_when_asked(scan) -> None:
    volume, heatmaps, masks = scan
    contour_count = []
    for slice_index, contours in [(2, True), (0, True), (2, False)]:
        figure, axes = plt.subplots()
        state = interactive.VolumeViewState(method="HiResCAM", slice_index=slice_index, contours=contours)
        interactive.draw_volume_view(axes, volume, heatmaps, state, masks=masks)
        contour_count.append(len(axes.collections))
    assert contour_count[0] > 0 and contour_count[1] == 0 and contour_count[2] == 0


def test_the_readout_gives_hu_and_map_value_at_the_voxel(scan) -> None:
    volume, heatmaps, masks = scan
    state = interactive.VolumeViewState(method="HiResCAM", plane="coronal", slice_index=5, voxel=(1, 7))
    values = interactive.readout(volume, heatmaps, state)
    assert values["voxel"] == (1, 5, 7)
    assert values["HU"] == pytest.approx(volume[1, 5, 7])
    assert values["heatmap"] == pytest.approx(heatmaps["HiResCAM"][1, 5, 7])


def test_without_a_slice_the_view_opens_at_the_mask(scan) -> None:
    volume, heatmaps, masks = scan
    position = interactive.resolve_position(volume.shape, interactive.VolumeViewState(method="HiResCAM"), masks)
    assert 2 <= position[0] < 4


def test_a_slice_outside_the_volume_is_refused(scan) -> None:
    volume, heatmaps, _ = scan
    with pytest.raises(ValueError, match="axial slice 6 is outside the volume's 0..5"):
        interactive.readout(volume, heatmaps, interactive.VolumeViewState(method="HiResCAM", slice_index=6))


def test_a_map_of_another_grid_is_resampled_with_a_message_and_another_dimension_refused(scan) -> None:
    volume, heatmaps, _ = scan
    with pytest.warns(UserWarning, match=r"the coarse map of shape \(3, 4, 5\) is resampled to the image's"):
        prepared = interactive.prepare_explanations(volume.shape, {"coarse": np.ones((3, 4, 5))})
    assert prepared["coarse"].shape == volume.shape
    with pytest.raises(ValueError, match=r"the flat map has shape \(8, 10\) but the image has shape \(6, 8, 10\)"):
        interactive.prepare_explanations(volume.shape, {"flat": np.ones((8, 10))})
    with pytest.raises(ValueError, match="no explanations"):
        interactive.prepare_explanations(volume.shape, {})


def test_a_method_missing_for_this_volume_is_said_not_drawn(scan) -> None:
    volume, heatmaps, masks = scan
    figure, axes = plt.subplots()
    drawn = interactive.draw_volume_view(
        axes, volume, {**heatmaps, "LIME": None}, interactive.VolumeViewState(method="LIME", slice_index=2), masks=masks
    )
    assert drawn["artist"] is None and drawn["heatmap"] is None
    assert len(axes.images) == 1
    assert "no map for this volume" in axes.get_title()


@pytest.mark.parametrize("mode, value", [("threshold", 0.6), ("top fraction", 0.1)])
def test_live_scores_equal_the_library_metrics(scan, mode, value) -> None:
    _, heatmaps, masks = scan
    state = interactive.ThresholdState(value=value, mode=mode, slice_index=2)
    scheme = Threshold(value) if mode == "threshold" else TopFraction(value)
    predicted = binarise(heatmaps["HiResCAM"], scheme)
    figure, axes = plt.subplots(1, 2)
    scores = interactive.draw_threshold_view(axes, heatmaps["HiResCAM"], masks["lesion"], state)
    assert scores["Dice"] == pytest.approx(localisation.dice(predicted, masks["lesion"]))
    assert scores["IoU"] == pytest.approx(localisation.iou(predicted, masks["lesion"]))
    assert f"Dice {scores['Dice']:.3f}" in axes[0].get_title()
    marked = {line.get_xdata()[0] for line in axes[1].lines}
    assert set(interactive.COVID_WORK_THRESHOLDS) <= marked


def test_an_empty_mask_draws_no_contour_and_an_undefined_dice_not_zero() -> None:
    heatmap = np.zeros((8, 8))
    figure, axes = plt.subplots(1, 2)
    scores = interactive.draw_threshold_view(axes, heatmap, np.zeros((8, 8), bool), interactive.ThresholdState(0.5))
    assert math.isnan(scores["Dice"]) and math.isnan(scores["IoU"])
    assert "Dice undefined" in axes[0].get_title()
    assert not axes[0].collections


def test_the_radiograph_view_boxes_the_top_fraction_and_scores_it_against_the_readers() -> None:
    image = np.zeros((32, 32))
    heatmap = np.zeros((32, 32))
    heatmap[4:10, 6:14] = 1.0
    readers = np.array([[6, 4, 14, 10], [5, 3, 12, 9]], dtype=float)
    figure, axes = plt.subplots()
    drawn = interactive.draw_radiograph_view(
        axes,
        image,
        {"Nodule/Mass": heatmap, "Effusion": None},
        interactive.RadiographState("Nodule/Mass", top_fraction=0.05),
        boxes={"Nodule/Mass": readers},
    )
    expected = box_metrics.boxes_from_heatmap(heatmap, 0.05)
    np.testing.assert_array_equal(drawn["predicted_boxes"], expected)
    assert drawn["box_iou"] == pytest.approx(box_metrics.reader_box_iou(expected, readers))
    assert len(axes.patches) == len(readers) + len(expected)


def test_the_explorer_redraws_on_a_change_and_offers_a_static_image_to_a_notebook_without_widgets(scan) -> None:
    volume, heatmaps, masks = scan
    explorer = interactive.explore(volume, heatmaps, masks, spacing=(2.0, 1.0, 1.0))
    widget = explorer.widget
    before = explorer._image.value
    explorer.set_state(method="Grad-CAM", slice_index=4)
    assert explorer._image.value != before
    values = interactive.readout(volume, heatmaps, explorer.state)
    assert explorer._status.value == (
        f"axial slice 4 · Grad-CAM · voxel (4, 4, 5): {values['HU']:.0f} HU, map {values['heatmap']:.3f}"
    )
    explorer.set_state(plane="sagittal")
    assert explorer.state.slice_index is None  # a new plane opens at its own centre
    assert explorer._slice.max == volume.shape[2] - 1
    bundle = explorer._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "image/png", "text/plain"} <= set(bundle)
    assert bundle["text/plain"].startswith("volume explorer: (6, 8, 10) voxels, methods HiResCAM, Grad-CAM")
    assert widget is explorer.widget


def test_the_threshold_explorer_refuses_a_mask_of_another_shape(scan) -> None:
    _, heatmaps, _ = scan
    with pytest.raises(ValueError, match=r"the mask has shape \(6, 8\) but the map has shape \(6, 8, 10\)"):
        interactive.threshold_explorer(heatmaps["HiResCAM"], np.zeros((6, 8), bool))


def test_the_status_lines_give_the_live_scores(scan) -> None:
    _, heatmaps, masks = scan
    threshold = interactive.threshold_explorer(heatmaps["HiResCAM"], masks["lesion"], value=0.6)
    predicted = binarise(heatmaps["HiResCAM"], Threshold(0.6))
    assert threshold.status() == (
        f"h > 0.6: IoU {localisation.iou(predicted, masks['lesion']):.3f}, "
        f"Dice {localisation.dice(predicted, masks['lesion']):.3f}"
    )
    radiograph = interactive.radiograph_explorer(np.zeros((8, 8)), {"Effusion": None})
    assert radiograph.status() == "Effusion: no map"


def test_an_unknown_plane_is_named() -> None:
    from radxai.viz.explorer_views import plane_shape

    assert plane_shape((4, 5, 6), "coronal") == (5, 4, 6)
    with pytest.raises(ValueError, match="unknown plane 'oblique'; choose one of axial, coronal, sagittal"):
        plane_shape((4, 5, 6), "oblique")
