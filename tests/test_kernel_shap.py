"""Tests of Kernel SHAP on segments (radxai.explain.perturbation.kernel_shap)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from radxai.explain import explain
from radxai.explain.baselines import baseline
from radxai.explain.perturbation import kernel_shap_values, minimum_kernel_shap_samples
from radxai.explain.segments import paint_segments


def grid_segments(spatial: tuple[int, ...], block: int) -> np.ndarray:
    """Labels of cubes (squares) of `block` voxels per axis, numbered in C order."""
    blocks = [np.arange(size) // block for size in spatial]
    per_axis = [size // block for size in spatial]
    grids = np.meshgrid(*blocks, indexing="ij")
    return np.ravel_multi_index(grids, per_axis).astype(np.int64)


class RegionModel(nn.Module):
    """Two logits from the sum of the input over one fixed region: nothing else matters.
    Records the size of every batch it is called with."""

    def __init__(self, region: np.ndarray, weights: tuple[float, float] = (-1.0, 2.0)) -> None:
        super().__init__()
        self.register_buffer("region", torch.from_numpy(region.astype(np.float32)))
        self.output = nn.Linear(1, 2)
        with torch.no_grad():
            self.output.weight.copy_(torch.tensor(weights)[:, None])
            self.output.bias.copy_(torch.tensor([0.5, -0.25]))
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(x))
        total = (x * self.region).flatten(1).sum(dim=1, keepdim=True)
        return self.output(total / self.region.sum())


class LinearModel(nn.Module):
    """logits = W x + b over the flattened input: an additive game over any segments."""

    def __init__(self, spatial: tuple[int, ...], classes: int = 3, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.linear = nn.Linear(math.prod(spatial), classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


def tiny_cnn(dims: int, outputs: int = 2, seed: int = 0) -> nn.Module:
    """A small non-linear CNN (conv, ReLU, average pool, linear) in 2D or 3D."""
    torch.manual_seed(seed)
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    pool = nn.AdaptiveAvgPool2d if dims == 2 else nn.AdaptiveAvgPool3d
    return nn.Sequential(
        conv(1, 4, 3, padding=1), nn.ReLU(), pool(2), nn.Flatten(), nn.Linear(4 * 2**dims, outputs)
    ).eval()


def images(n: int, spatial: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, *spatial)).astype(np.float32)


def model_values(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).double().numpy()


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("spatial, block", [((8, 8), 2), ((4, 8, 8), 4)])
@pytest.mark.parametrize("output", ["logit", "probability"])
def test_values_sum_to_the_output_minus_the_output_with_every_segment_off(spatial, block, output):
    """Efficiency, checked against the model run here on x and on the baseline."""
    model = tiny_cnn(len(spatial), outputs=3)
    x = images(2, spatial)
    segments = grid_segments(spatial, block)
    result = kernel_shap_values(model, x, segments, samples=40, output=output, baseline="zero")
    f_x, f_off = model_values(model, x), model_values(model, np.zeros_like(x))
    if output == "probability":
        f_x, f_off = (torch.softmax(torch.from_numpy(v), 1).numpy() for v in (f_x, f_off))
    assert result.values.shape == (2, 3, segments.max() + 1)
    np.testing.assert_allclose(result.scores, f_x, atol=1e-5)
    np.testing.assert_allclose(result.base_values, f_off, atol=1e-5)
    np.testing.assert_allclose(result.values.sum(axis=2), f_x - f_off, atol=1e-5)
    assert np.abs(result.values).max() > 1e-3


def test_an_additive_model_gets_exactly_its_per_segment_contributions():
    spatial = (6, 6)
    model = LinearModel(spatial)
    x = images(1, spatial)
    segments = grid_segments(spatial, 2)  # 9 segments, 2^9 - 2 = 510 coalitions
    result = kernel_shap_values(model, x, segments, samples=60, baseline="mean")
    weights = model.linear.weight.detach().double().numpy().reshape(3, *spatial)
    difference = (x - baseline(x, "mean"))[0, 0]
    expected = np.array([[(weights[k] * difference)[segments == s].sum() for s in range(9)] for k in range(3)])
    np.testing.assert_allclose(result.values[0], expected, atol=1e-5)


def test_with_every_coalition_evaluated_the_values_are_the_exact_shapley_values():
    spatial = (4, 4)
    model = tiny_cnn(2, outputs=2, seed=3)
    x = 3 * images(1, spatial, seed=3)
    segments = grid_segments(spatial, 2)  # 4 segments: 14 coalitions besides empty and full
    result = kernel_shap_values(model, x, segments, samples=14, baseline="zero")

    def value(coalition: tuple[int, ...]) -> np.ndarray:
        on = np.isin(segments, coalition)
        return model_values(model, np.where(on, x, 0.0).astype(np.float32))[0]

    players = range(4)
    shapley = np.zeros((2, 4))
    for player in players:
        others = [p for p in players if p != player]
        for size in range(4):
            weight = math.factorial(size) * math.factorial(3 - size) / math.factorial(4)
            for coalition in itertools.combinations(others, size):
                gain = value((*coalition, player)) - value(coalition)
                shapley[:, player] += weight * gain
    np.testing.assert_allclose(result.values[0], shapley, atol=1e-5)
    capped = kernel_shap_values(model, x, segments, samples=1000, baseline="zero")
    np.testing.assert_allclose(capped.values, result.values, atol=1e-9)
    assert capped.model_evaluations == result.model_evaluations == 14 + 2


def test_one_segment_takes_the_whole_difference():
    model = tiny_cnn(2)
    x = images(1, (8, 8))
    result = kernel_shap_values(model, x, np.zeros((8, 8), dtype=int), baseline="zero")
    f_x, f_off = model_values(model, x), model_values(model, np.zeros_like(x))
    np.testing.assert_allclose(result.values[:, :, 0], f_x - f_off, atol=1e-6)
    assert result.model_evaluations == 2  # the background and x; no coalition is needed


# --------------------------------------------------------------------------- explain()


@pytest.mark.parametrize("spatial, block", [((12, 12), 4), ((8, 8, 8), 4)])
def test_a_model_that_sees_one_segment_gets_its_maximum_there(spatial, block):
    segments = grid_segments(spatial, block)
    chosen = int(segments.max()) // 2
    region = segments == chosen
    model = RegionModel(region)
    x = images(2, spatial, seed=1) + 0.5
    result = explain(model, x, "kernel_shap", target=1, segments=segments, samples=50, baseline="zero")
    assert result.heatmaps.shape == (2, *spatial) and result.raw.shape == (2, *spatial)
    for sample in range(2):
        assert np.all(result.heatmaps[sample][region] == 1.0)
        assert np.all(result.heatmaps[sample][~region] == 0.0)
        np.testing.assert_allclose(result.raw[sample][~region], 0.0, atol=1e-6)
        assert result.raw[sample][region].min() > 0.1
    assert result.layer is None and result.target == [1, 1]
    np.testing.assert_allclose(result.scores, model_values(model, x)[:, 1], atol=1e-6)


def test_the_raw_map_paints_the_target_class_values_of_every_sample():
    model = tiny_cnn(2, outputs=3)
    x = images(2, (8, 8))
    segments = grid_segments((8, 8), 4)
    every_class = kernel_shap_values(model, x, segments, samples=6)
    result = explain(model, x, "kernel_shap", target=[2, 0], segments=segments, samples=6)
    expected = paint_segments(every_class.values[[0, 1], [2, 0]], every_class.segments)
    np.testing.assert_allclose(result.raw, expected, atol=1e-6)
    np.testing.assert_allclose(every_class.class_attributions(2)[0], expected[0], atol=1e-6)


def test_a_single_logit_model_has_two_classes_of_opposite_values():
    model = tiny_cnn(2, outputs=1)
    x = images(1, (8, 8))
    segments = grid_segments((8, 8), 4)
    for output in ("logit", "probability"):
        result = kernel_shap_values(model, x, segments, samples=6, output=output)
        assert result.values.shape == (1, 2, 4)
        np.testing.assert_allclose(result.values[:, 0], -result.values[:, 1], atol=1e-6)


def test_samples_with_fewer_segments_are_padded_with_nan():
    model = tiny_cnn(2, outputs=2)
    x = images(2, (8, 8))
    segments = np.stack([grid_segments((8, 8), 4), np.repeat([0, 1], 32).reshape(8, 8)])
    result = kernel_shap_values(model, x, segments, samples=20)
    assert result.values.shape == (2, 2, 4)
    np.testing.assert_array_equal(result.segment_counts, [4, 2])
    assert np.all(np.isnan(result.values[1, :, 2:])) and not np.any(np.isnan(result.values[0]))
    np.testing.assert_allclose(np.nansum(result.values, axis=2), result.scores - result.base_values, atol=1e-6)
    assert not np.any(np.isnan(result.class_attributions(1)))


def test_slic_segments_are_computed_when_none_are_given():
    x = images(1, (24, 24))
    result = kernel_shap_values(tiny_cnn(2), x, n_segments=9, compactness=1.0, samples=64)
    count = int(result.segment_counts[0])
    assert 4 <= count <= 16
    assert result.segments.shape == (1, 24, 24)
    assert not np.any(np.isnan(result.values[0, :, :count]))


def test_a_callable_target_is_explained_as_it_is():
    model = tiny_cnn(2, outputs=3)
    x = images(1, (8, 8))
    segments = grid_segments((8, 8), 4)

    def difference(logits: torch.Tensor) -> torch.Tensor:
        return logits[:, 0] - logits[:, 2]

    result = explain(model, x, "kernel_shap", target=difference, segments=segments, samples=6)
    every_class = kernel_shap_values(model, x, segments, samples=6)
    expected = every_class.values[0, 0] - every_class.values[0, 2]
    painted = paint_segments(expected[None], segments[None])
    np.testing.assert_allclose(result.raw, painted, atol=1e-5)
    assert result.target == "difference"
    with pytest.raises(ValueError, match="callable target .* output='logit'"):
        explain(model, x, "kernel_shap", target=difference, segments=segments, output="sigmoid")


# --------------------------------------------------------------------------- seeds and cost


def test_the_same_seed_gives_the_same_map_and_other_seeds_differ():
    model = tiny_cnn(2, seed=4)
    x = images(1, (16, 16), seed=4)
    segments = grid_segments((16, 16), 4)  # 16 segments, sampled (not enumerated)
    options = {"segments": segments, "samples": 40, "target": 1}
    first = explain(model, x, "kernel_shap", seed=5, **options)
    again = explain(model, x, "kernel_shap", seed=5, **options)
    other = explain(model, x, "kernel_shap", seed=6, **options)
    np.testing.assert_array_equal(first.raw, again.raw)
    assert not np.allclose(first.raw, other.raw)


def test_a_sample_gets_the_same_values_alone_or_in_a_batch():
    model = tiny_cnn(2, seed=4)
    x = images(2, (16, 16), seed=4)
    segments = grid_segments((16, 16), 4)
    together = kernel_shap_values(model, x, segments, samples=40)
    alone = kernel_shap_values(model, x[1:], segments, samples=40)
    np.testing.assert_allclose(together.values[1], alone.values[0], atol=1e-12)


def test_the_callers_random_state_is_untouched():
    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)
    kernel_shap_values(tiny_cnn(2), images(1, (16, 16)), grid_segments((16, 16), 4), samples=40)
    np.testing.assert_array_equal(np.random.random(3), expected)


def test_model_calls_are_batched_and_every_sample_is_counted():
    segments = grid_segments((8, 8), 2)  # 16 segments
    model = RegionModel(segments == 5)
    x = images(2, (8, 8))
    result = explain(model, x, "kernel_shap", segments=segments, samples=70, batch_size=16)
    # Per sample: 70 coalitions, f(all off) and f(x); plus x to resolve the target.
    assert result.model_evaluations == 2 * (70 + 2) + 2 == sum(model.batches)
    assert max(model.batches) == 16
    assert len(model.batches) < 20


def test_the_batch_size_does_not_change_the_values():
    model = tiny_cnn(2)
    x = images(1, (8, 8))
    segments = grid_segments((8, 8), 2)
    small = kernel_shap_values(model, x, segments, samples=40, batch_size=3)
    large = kernel_shap_values(model, x, segments, samples=40, batch_size=64)
    # float32 convolutions may sum in another order for another batch size (about 1e-8 here),
    # far below the values themselves (about 1e-3); a batching bug moves them by their own size.
    np.testing.assert_allclose(small.values, large.values, rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- bad input


def test_the_minimum_sample_count_is_two_per_segment_beyond_the_first():
    assert [minimum_kernel_shap_samples(s) for s in (1, 2, 3, 50)] == [0, 2, 4, 98]


def test_fewer_samples_than_kernel_shap_needs_is_refused_before_any_model_call():
    segments = grid_segments((8, 8), 2)  # 16 segments: at least 30 samples
    model = RegionModel(segments == 0)
    expected = r"samples >= 2 \* \(S - 1\) = 30 for S = 16.*got samples=29"
    with pytest.raises(ValueError, match=expected):
        explain(model, images(1, (8, 8)), "kernel_shap", segments=segments, samples=29)
    assert model.batches == []
    # At the floor itself a draw can still leave the regression singular (refused after the
    # fit, see below); half as many again determine it.
    result = explain(model, images(1, (8, 8)), "kernel_shap", segments=segments, samples=45)
    assert result.model_evaluations == 1 + 45 + 2


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"segments": np.zeros((8, 9), dtype=int)}, ValueError, r"spatial shape \(8, 8\)"),
        ({"segments": np.zeros((3, 8, 8), dtype=int)}, ValueError, r"\(1, 8, 8\)"),
        ({"baseline": "median"}, ValueError, "unknown baseline 'median'; baselines: zero"),
        ({"output": "odds"}, ValueError, "unknown output 'odds'; outputs: logit"),
        ({"samples": 0}, ValueError, "samples must be a positive int or None"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive int"),
        ({"seed": -1}, ValueError, r"seed must be an int in \[0, 2\*\*32\)"),
        ({"n_segments": 0}, ValueError, "n_segments must be a positive int"),
        ({"colour": 1}, TypeError, "unknown option.*colour"),
    ],
)
def test_bad_options_are_named_before_any_model_call(options, error, message):
    model = RegionModel(np.ones((8, 8), dtype=bool))
    with pytest.raises(error, match=message):
        explain(model, images(1, (8, 8)), "kernel_shap", **options)
    assert model.batches == []


def test_a_layer_is_refused():
    with pytest.raises(ValueError, match="kernel_shap perturbs the input and takes no layer"):
        explain(tiny_cnn(2), images(1, (8, 8)), "kernel_shap", layer="0")


# --------------------------------------------------------------------------- Keras


def test_a_keras_model_gets_the_values_of_its_torch_twin():
    from radxai.models.keras_backend import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    features = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    logits = keras.layers.Dense(2, bias_initializer="random_normal", name="output")(pooled)
    keras_model = keras.Model(inputs, logits)
    twin = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(3, 2),
    ).eval()
    with torch.no_grad():
        for name, module, axes in (("conv", twin[0], (3, 2, 0, 1)), ("output", twin[4], (1, 0))):
            kernel, bias = keras_model.get_layer(name).get_weights()
            module.weight.copy_(torch.from_numpy(kernel.transpose(axes)))
            module.bias.copy_(torch.from_numpy(bias))
    x = 4 * images(2, (8, 8), seed=2)
    segments = grid_segments((8, 8), 4)

    from_keras = kernel_shap_values(keras_model, x, segments, samples=8, output="probability")
    from_torch = kernel_shap_values(twin, x, segments, samples=8, output="probability")
    np.testing.assert_allclose(from_keras.values, from_torch.values, atol=1e-5)
    assert np.abs(from_torch.values).max() > 1e-3
    assert from_keras.model_evaluations == from_torch.model_evaluations == 2 * (8 + 2)

    explained = explain(keras_model, x, "kernel_shap", target=1, segments=segments, samples=8)
    twin_logits = kernel_shap_values(twin, x, segments, samples=8)
    assert explained.heatmaps.shape == (2, 8, 8) and explained.heatmaps.max() == 1.0
    np.testing.assert_allclose(explained.raw, twin_logits.class_attributions(1), atol=1e-5)


def test_near_the_minimum_samples_values_are_exact_or_refused():
    # A linear model makes the game additive, so any regression that determines the values
    # gives the exact Shapley values; one that does not must raise, never return guesses
    # (seed 2 draws a design singular in exact arithmetic that np.linalg.solve accepts).
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2)).eval()
    x = np.random.default_rng(0).normal(size=(1, 1, 8, 8)).astype(np.float32)
    count = 10
    segments = (np.arange(64) % count).reshape(8, 8)
    weights = model[1].weight.detach().numpy()
    centred = x.ravel() - x.mean()  # the "mean" baseline
    exact = np.stack([[(weights[k] * centred)[segments.ravel() == s].sum() for s in range(count)] for k in range(2)])
    refused = 0
    for seed in range(8):
        try:
            result = kernel_shap_values(
                model, x, segments, samples=2 * (count - 1), seed=seed, baseline="mean", output="logit"
            )
        except ValueError as error:
            assert "singular" in str(error)
            refused += 1
            continue
        np.testing.assert_allclose(result.values[0], exact, atol=1e-4)
    assert refused >= 1
