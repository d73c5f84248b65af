"""Tests of LIME on segments (radxai.explain.perturbation.lime_segments)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from lime import lime_image
from torch import nn

from radxai.explain import explain
from radxai.explain.baselines import baseline
from radxai.explain.perturbation import lime_values


def grid_segments(spatial: tuple[int, ...], block: int) -> np.ndarray:
    """Labels of cubes (squares) of `block` voxels per axis, numbered in C order."""
    blocks = [np.arange(size) // block for size in spatial]
    per_axis = [size // block for size in spatial]
    return np.ravel_multi_index(np.meshgrid(*blocks, indexing="ij"), per_axis).astype(np.int64)


class RegionModel(nn.Module):
    """Two logits from the mean of the input (all channels) over one fixed region. Records
    the size of every batch it is called with."""

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


class LinearModel(nn.Module):
    """logits = W x + b over the flattened input."""

    def __init__(self, spatial: tuple[int, ...], seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.linear = nn.Linear(math.prod(spatial), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


def images(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *shape)).astype(np.float32)


@pytest.mark.parametrize(
    "shape, block",
    [
        ((1, 12, 12), 4),  # 2D grayscale: lime's LimeImageExplainer, via RGB
        ((3, 12, 12), 4),  # 2D RGB: LimeImageExplainer
        ((2, 12, 12), 4),  # 2D with two channels: LimeBase
        ((1, 8, 8, 8), 4),  # 3D: LimeBase
    ],
)
def test_a_model_that_sees_one_segment_gets_its_maximum_there(shape, block):
    spatial = shape[1:]
    segments = grid_segments(spatial, block)
    region = segments == int(segments.max()) // 2
    model = RegionModel(region)
    x = images(2, shape, seed=1) + 0.5
    result = explain(model, x, "lime", target=1, segments=segments, samples=200, baseline="zero")
    assert result.heatmaps.shape == (2, *spatial)
    for sample in range(2):
        assert np.all(result.heatmaps[sample][region] == 1.0)
        others = result.raw[sample][~region]
        assert np.abs(others).max() < 0.05 * result.raw[sample][region].min()
    assert result.target == [1, 1] and result.layer is None


def test_the_batched_image_explainer_gives_exactly_what_lime_gives():
    """Our composition in batches draws and scores the same images as lime's own loop."""
    spatial = (12, 12)
    segments = grid_segments(spatial, 3)
    model = LinearModel(spatial)
    x = images(1, (1, *spatial), seed=2)
    hidden = baseline(x, "blur", blur_kernel=5)[0, 0]
    ours = lime_values(model, x, segments, samples=64, baseline="blur", blur_kernel=5, seed=9, batch_size=7)

    def classifier(rgb_images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(rgb_images[..., :1].transpose(0, 3, 1, 2))).numpy()

    explainer = lime_image.LimeImageExplainer(feature_selection="none", random_state=9)
    theirs = explainer.explain_instance(
        x[0, 0],
        classifier,
        labels=(0, 1),
        hide_color=np.repeat(hidden[..., None], 3, axis=-1),
        top_labels=None,
        num_features=16,
        num_samples=64,
        segmentation_fn=lambda _: segments,
        random_seed=9,
    )
    for label in (0, 1):
        expected = np.zeros(16)
        for segment, weight in theirs.local_exp[label]:
            expected[segment] = weight
        np.testing.assert_allclose(ours.values[0, label], expected, atol=1e-5)
        assert ours.base_values[0, label] == pytest.approx(theirs.intercept[label], abs=1e-5)
    assert np.abs(ours.values).max() > 1e-2


def test_2d_images_and_volumes_follow_the_same_sampling():
    """A 2D image through LimeImageExplainer and the same image as a one-slice volume
    through LimeBase get the same coefficients."""
    spatial = (8, 8)
    segments = grid_segments(spatial, 2)
    model = LinearModel(spatial, seed=3)
    x = images(1, (1, *spatial), seed=3)
    flat = lime_values(model, x, segments, samples=80, seed=4)
    volume = lime_values(model, x[:, :, None], segments[None], samples=80, seed=4)
    np.testing.assert_allclose(flat.values, volume.values, atol=1e-6)
    np.testing.assert_allclose(flat.base_values, volume.base_values, atol=1e-6)
    np.testing.assert_allclose(flat.scores, volume.scores, atol=1e-6)


def test_on_a_linear_model_the_coefficients_follow_the_contributions():
    spatial = (8, 8)
    segments = grid_segments(spatial, 2)
    model = LinearModel(spatial, seed=5)
    x = 4 * images(1, (1, *spatial), seed=5)
    result = lime_values(model, x, segments, samples=600, baseline="zero")
    weights = model.linear.weight.detach().double().numpy()[1].reshape(spatial)
    contributions = np.array([(weights * x[0, 0])[segments == s].sum() for s in range(16)])
    assert np.corrcoef(result.values[0, 1], contributions)[0, 1] > 0.99
    with torch.no_grad():
        f_x = model(torch.from_numpy(x)).double().numpy()
    np.testing.assert_allclose(result.scores, f_x, atol=1e-5)


def test_the_same_seed_gives_the_same_map_and_other_seeds_differ():
    segments = grid_segments((12, 12), 3)
    model = LinearModel((12, 12), seed=6)
    x = images(1, (1, 12, 12), seed=6)
    options = {"segments": segments, "samples": 50, "target": 0}
    first = explain(model, x, "lime", seed=1, **options)
    again = explain(model, x, "lime", seed=1, **options)
    other = explain(model, x, "lime", seed=2, **options)
    np.testing.assert_array_equal(first.raw, again.raw)
    np.testing.assert_array_equal(first.heatmaps, again.heatmaps)
    assert not np.allclose(first.raw, other.raw)


def test_a_sample_gets_the_same_values_alone_or_in_a_batch():
    segments = grid_segments((8, 8), 2)
    model = LinearModel((8, 8), seed=7)
    x = images(2, (1, 8, 8), seed=7)
    together = lime_values(model, x, segments, samples=40)
    alone = lime_values(model, x[1:], segments, samples=40)
    np.testing.assert_allclose(together.values[1], alone.values[0], atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 4, 8, 8)])
def test_model_calls_are_batched_and_every_sample_is_counted(shape):
    segments = grid_segments(shape[1:], 4)
    model = RegionModel(segments == 0)
    x = images(2, shape)
    result = explain(model, x, "lime", segments=segments, samples=45, batch_size=10)
    assert result.model_evaluations == 2 * 45 + 2 == sum(model.batches)
    assert max(model.batches) == 10


def test_every_class_is_explained_with_its_intercept():
    segments = grid_segments((8, 8), 4)
    model = RegionModel(segments == 1)
    x = images(1, (1, 8, 8)) + 1
    result = lime_values(model, x, segments, samples=100, baseline="zero", output="probability")
    assert result.values.shape == (1, 2, 4) and result.method == "lime"
    # Two softmax classes: what raises one lowers the other.
    np.testing.assert_allclose(result.values[0, 0], -result.values[0, 1], atol=1e-6)
    np.testing.assert_allclose(result.scores.sum(axis=1), 1.0, atol=1e-6)
    assert result.values[0, 1, 1] > 0.01 and result.output == "probability"


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"samples": 1}, ValueError, "samples must be an int >= 2"),
        ({"kernel_width": 0.0}, ValueError, "kernel_width must be a positive number"),
        ({"segments": np.zeros((8, 7), dtype=int)}, ValueError, r"spatial shape \(8, 8\)"),
        ({"baseline": "noise"}, ValueError, "unknown baseline 'noise'"),
        ({"seed": 2**32}, ValueError, "seed must be an int"),
    ],
)
def test_bad_options_are_named_before_any_model_call(options, error, message):
    model = RegionModel(np.ones((8, 8), dtype=bool))
    with pytest.raises(error, match=message):
        explain(model, images(1, (1, 8, 8)), "lime", **options)
    assert model.batches == []


def test_a_layer_is_refused():
    model = RegionModel(np.ones((8, 8), dtype=bool))
    with pytest.raises(ValueError, match="lime perturbs the input and takes no layer"):
        explain(model, images(1, (1, 8, 8)), "lime", layer="output")
