"""Tests of radxai.data.gaze: simulated reader fixations and gaze heatmaps."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from radxai.data import datasets, gaze, phantoms, real


def test_one_fixation_is_a_gaussian_peaking_at_its_pixel() -> None:
    heatmap = gaze.gaze_heatmap(np.array([[10.5, 6.5, 0.3]]), (16, 20), sigma=2.0)
    assert heatmap.shape == (16, 20) and heatmap.dtype == np.float32
    assert np.unravel_index(heatmap.argmax(), heatmap.shape) == (6, 10) and heatmap.max() == 1.0
    # Pixel centres are at (c + 1/2, r + 1/2): three columns right of the peak is 3 pixels away.
    assert heatmap[6, 13] == pytest.approx(math.exp(-9 / 8), rel=1e-5)
    assert heatmap[8, 10] == pytest.approx(math.exp(-4 / 8), rel=1e-5)


def test_fixations_weigh_by_duration() -> None:
    heatmap = gaze.gaze_heatmap(np.array([[5.5, 5.5, 1.0], [25.5, 5.5, 0.5]]), (12, 32), sigma=1.5)
    assert heatmap[5, 5] == pytest.approx(1.0)
    assert heatmap[5, 25] == pytest.approx(0.5, rel=1e-4)


def test_no_fixation_or_no_time_gives_zeros() -> None:
    assert not gaze.gaze_heatmap(np.zeros((0, 3)), (4, 5), sigma=1.0).any()
    assert not gaze.gaze_heatmap(np.array([[2.0, 2.0, 0.0]]), (4, 5), sigma=1.0).any()


@pytest.mark.parametrize(
    "fixations, message",
    [
        (np.zeros((3, 2)), r"\(K, 3\) with columns x_pixel, y_pixel, duration_seconds; got shape \(3, 2\)"),
        (np.array([[1.0, np.nan, 0.2]]), "NaN or infinite"),
        (np.array([[1.0, 1.0, -0.2]]), "durations must be >= 0"),
    ],
)
def test_bad_fixations_are_named(fixations: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gaze.gaze_heatmap(fixations, (8, 8), sigma=1.0)


def test_bad_shape_or_sigma_is_named() -> None:
    fixations = np.array([[1.0, 1.0, 0.2]])
    with pytest.raises(ValueError, match="sigma must be a positive number"):
        gaze.gaze_heatmap(fixations, (8, 8), sigma=0.0)
    with pytest.raises(ValueError, match=r"shape must be \(H, W\)"):
        gaze.gaze_heatmap(fixations, (8, 8, 8), sigma=1.0)


@pytest.fixture(scope="module")
def nodule() -> phantoms.CXRPhantom:
    return phantoms.cxr_phantom(3, shape=(64, 64), findings=["Nodule/Mass"])


def test_fixations_and_heatmaps_are_deterministic_for_a_seed(nodule: phantoms.CXRPhantom) -> None:
    first = gaze.simulate_fixations(nodule.image.shape, nodule.finding_masks, seed=7)
    second = gaze.simulate_fixations(nodule.image.shape, nodule.finding_masks, seed=7)
    other = gaze.simulate_fixations(nodule.image.shape, nodule.finding_masks, seed=8)
    np.testing.assert_array_equal(first, second)
    assert first.shape == other.shape == (24 + 5, 3) and not np.array_equal(first, other)
    np.testing.assert_array_equal(gaze.gaze_heatmap(first, (64, 64), 3.0), gaze.gaze_heatmap(second, (64, 64), 3.0))


def test_reader_dwells_on_the_finding(nodule: phantoms.CXRPhantom) -> None:
    mask = nodule.finding_masks["Nodule/Mass"]
    fixations = gaze.simulate_fixations(mask.shape, nodule.finding_masks, seed=0)
    columns, rows = fixations[:, 0].astype(int), fixations[:, 1].astype(int)
    assert (fixations[:, 0] >= 0).all() and (fixations[:, 0] < 64).all()
    assert (fixations[:, 1] >= 0).all() and (fixations[:, 1] < 64).all()
    on_finding = mask[rows, columns]
    assert on_finding.sum() >= 5
    time_share = fixations[on_finding, 2].sum() / fixations[:, 2].sum()
    assert time_share > 5 * mask.mean()
    # A normal image is only scanned; adding the finding leaves the scan where it was.
    scan_only = gaze.simulate_fixations(mask.shape, {}, seed=0)
    assert len(scan_only) == 24
    np.testing.assert_array_equal(scan_only, fixations[~on_finding])


def test_masks_of_another_shape_and_bad_counts_are_rejected(nodule: phantoms.CXRPhantom) -> None:
    with pytest.raises(ValueError, match=r"'Nodule/Mass' has shape \(64, 64\); the image is \(32, 32\)"):
        gaze.simulate_fixations((32, 32), nodule.finding_masks, seed=0)
    with pytest.raises(ValueError, match="scan_fixations must be an integer >= 0"):
        gaze.simulate_fixations((64, 64), {}, seed=0, scan_fixations=-1)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        gaze.simulate_fixations((64, 64), {}, seed=-1)


def test_rescaling_keeps_image_edges_and_durations() -> None:
    fixations = np.array([[0.0, 0.0, 0.2], [64.0, 32.0, 0.4], [16.0, 8.0, 0.1]])
    rescaled = gaze.rescale_fixations(fixations, (32, 64), (16, 16))
    np.testing.assert_allclose(rescaled, [[0.0, 0.0, 0.2], [16.0, 16.0, 0.4], [4.0, 4.0, 0.1]])


def test_simulated_heatmaps_of_a_synthetic_dataset(tmp_path: Path) -> None:
    root = datasets.write_synthetic_cxr(tmp_path, count=3, seed=0, shape=(64, 64), prevalence=0.5, normal_share=0.3)
    images = real.load_dataset("vindr_cxr", root)
    heatmaps = gaze.simulated_gaze_heatmaps(images, (32, 32), sigma=2.0, seed=1)
    assert heatmaps.shape == (3, 32, 32) and heatmaps.dtype == np.float32
    assert np.allclose(heatmaps.reshape(3, -1).max(axis=1), 1.0)
    np.testing.assert_array_equal(heatmaps, gaze.simulated_gaze_heatmaps(images, (32, 32), sigma=2.0, seed=1))
    with_findings = next(index for index, image in enumerate(images) if image.mask_paths)
    masks = {name: datasets.io.read_image(path) > 0.5 for name, path in images[with_findings].mask_paths.items()}
    expected = gaze.gaze_heatmap(
        gaze.rescale_fixations(
            gaze.simulate_fixations((64, 64), masks, datasets.child_seed(1, with_findings)), (64, 64), (32, 32)
        ),
        (32, 32),
        2.0,
    )
    np.testing.assert_array_equal(heatmaps[with_findings], expected)
