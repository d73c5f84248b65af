"""Tests of occlusion (radxai.explain.perturbation.occlusion)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from radxai.explain import explain
from radxai.explain.perturbation import occlusion_windows


class RegionModel(nn.Module):
    """Two logits from the mean of the input over one fixed region. Records batch sizes."""

    def __init__(self, region: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("region", torch.from_numpy(region.astype(np.float32)))
        self.output = nn.Linear(1, 2)
        with torch.no_grad():
            self.output.weight.copy_(torch.tensor([[-1.0], [2.0]]))
            self.output.bias.copy_(torch.tensor([0.5, -0.25]))
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(x))
        total = (x * self.region).flatten(1).sum(dim=1, keepdim=True)
        return self.output(total / self.region.sum())


def tiny_cnn(dims: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    pool = nn.AdaptiveAvgPool2d if dims == 2 else nn.AdaptiveAvgPool3d
    return nn.Sequential(conv(1, 3, 3, padding=1), nn.ReLU(), pool(2), nn.Flatten(), nn.Linear(3 * 2**dims, 2)).eval()


def images(n: int, spatial: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, *spatial)).astype(np.float32)


# --------------------------------------------------------------------------- windows


def test_windows_start_every_stride_and_the_last_one_reaches_the_border():
    windows = occlusion_windows((10, 4), patch_size=(4, 4), stride=(3, 3))
    starts = sorted({window[0].start for window in windows})
    assert starts == [0, 3, 6]
    assert all(window[1] == slice(0, 4) for window in windows)
    ragged = occlusion_windows((11,), patch_size=4, stride=3)
    assert [window[0].start for window in ragged] == [0, 3, 6, 7]


@given(
    st.lists(st.integers(1, 12), min_size=2, max_size=3),
    st.integers(1, 5),
    st.integers(1, 5),
)
def test_windows_cover_every_voxel_with_patches_of_the_asked_size(spatial, patch, stride):
    spatial = tuple(max(size, patch) for size in spatial)
    stride = min(stride, patch)
    coverage = np.zeros(spatial, dtype=int)
    for window in occlusion_windows(spatial, patch, stride):
        assert all(part.stop - part.start == patch for part in window)
        coverage[window] += 1
    assert coverage.min() >= 1


@pytest.mark.parametrize(
    "patch, stride, message",
    [
        (9, 2, r"patch_size \(9, 9\) is larger than the image \(8, 8\)"),
        (0, 2, "patch_size must be a positive int or 2 positive ints"),
        ((2, 2, 2), 2, "patch_size must be a positive int or 2 positive ints"),
        (2, 1.5, "stride must be a positive int or 2 positive ints"),
        (True, 2, "patch_size must be a positive int"),
        (2, 3, r"stride \(3, 3\) is larger than patch_size \(2, 2\).*never be occluded"),
    ],
)
def test_bad_windows_are_named(patch, stride, message):
    with pytest.raises(ValueError, match=message):
        occlusion_windows((8, 8), patch, stride)


# --------------------------------------------------------------------------- maps


@pytest.mark.parametrize("spatial", [(16, 16), (8, 12, 12)])
def test_a_model_that_sees_one_region_gets_its_maximum_there(spatial):
    region = np.zeros(spatial, dtype=bool)
    region[tuple(slice(size // 2, size // 2 + 4) for size in spatial)] = True
    model = RegionModel(region)
    x = images(2, spatial, seed=1) + 0.5
    result = explain(model, x, "occlusion", target=1, patch_size=4, stride=2, baseline="zero")
    assert result.heatmaps.shape == (2, *spatial) and result.raw.shape == (2, *spatial)
    for sample in range(2):
        peak = np.unravel_index(np.argmax(result.heatmaps[sample]), spatial)
        assert region[peak]
        assert result.heatmaps[sample].max() == 1.0
        # Far from the region no window touches it: no drop.
        far = tuple(slice(0, 2) for _ in spatial)
        np.testing.assert_allclose(result.raw[sample][far], 0.0, atol=1e-6)
    assert result.layer is None and result.target == [1, 1]


def test_each_voxel_gets_the_mean_drop_of_the_windows_covering_it():
    spatial = (5, 7)
    model = tiny_cnn(2, seed=2)
    x = 3 * images(1, spatial, seed=2)
    result = explain(
        model,
        x,
        "occlusion",
        target=0,
        patch_size=(2, 3),
        stride=(1, 2),
        baseline="constant",
        constant=-1.0,
    )
    with torch.no_grad():
        f_x = model(torch.from_numpy(x))[0, 0].item()
    drops_sum, covering = np.zeros(spatial), np.zeros(spatial)
    for top in range(4):
        for left in (0, 2, 4):  # stride 2 on 7 columns with patch 3 reaches column 6
            occluded = x.copy()
            occluded[0, 0, top : top + 2, left : left + 3] = -1.0
            with torch.no_grad():
                drop = f_x - model(torch.from_numpy(occluded))[0, 0].item()
            drops_sum[top : top + 2, left : left + 3] += drop
            covering[top : top + 2, left : left + 3] += 1
    np.testing.assert_allclose(result.raw[0], drops_sum / covering, atol=1e-5)
    positive = np.maximum(result.raw[0], 0)
    expected_maps = (positive - positive.min()) / (positive.max() - positive.min())
    np.testing.assert_allclose(result.heatmaps[0], expected_maps, atol=1e-6)
    assert result.scores[0] == pytest.approx(f_x, abs=1e-6)


def test_probability_output_measures_drops_in_probability():
    region = np.zeros((8, 8), dtype=bool)
    region[:4] = True
    model = RegionModel(region)
    x = images(1, (8, 8)) + 1
    logit = explain(model, x, "occlusion", target=1, patch_size=4, stride=4, baseline="zero")
    probability = explain(
        model,
        x,
        "occlusion",
        target=1,
        patch_size=4,
        stride=4,
        baseline="zero",
        output="probability",
    )
    assert probability.raw.max() < 1.0 < logit.raw.max()
    np.testing.assert_array_equal(logit.raw > 1e-6, probability.raw > 1e-6)


def test_model_calls_are_batched_and_every_sample_is_counted():
    model = RegionModel(np.ones((4, 8, 8), dtype=bool))
    windows = len(occlusion_windows((4, 8, 8), 2, 2))  # 2 * 4 * 4 = 32
    x = images(2, (4, 8, 8))
    result = explain(model, x, "occlusion", patch_size=2, stride=2, batch_size=12)
    assert result.model_evaluations == 2 + 2 * windows == sum(model.batches)
    assert max(model.batches) == 12


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"baseline": "median"}, ValueError, "unknown baseline 'median'; baselines: zero"),
        ({"patch_size": 9}, ValueError, "larger than the image"),
        ({"output": "odds"}, ValueError, "unknown output 'odds'"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive int"),
        ({"baseline": "blur", "blur_kernel": 4}, ValueError, "odd integer >= 3; got 4"),
    ],
)
def test_bad_options_are_named_before_any_model_call(options, error, message):
    model = RegionModel(np.ones((8, 8), dtype=bool))
    with pytest.raises(error, match=message):
        explain(model, images(1, (8, 8)), "occlusion", **{"patch_size": 4, "stride": 2, **options})
    assert model.batches == []


def test_a_layer_is_refused():
    with pytest.raises(ValueError, match="occlusion perturbs the input and takes no layer"):
        explain(tiny_cnn(2), images(1, (8, 8)), "occlusion", layer="0", patch_size=4, stride=2)
