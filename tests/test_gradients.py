"""Tests of the gradient methods (radxai.explain.gradients) and SmoothGrad."""

import numpy as np
import pytest
import torch
from torch import nn

from radxai.explain import explain


class Smooth(nn.Module):
    """conv -> softplus -> conv -> tanh -> mean -> Linear: smooth, so IG converges fast."""

    cam_layer = "conv2"

    def __init__(self, spatial_dims: int = 2, channels: int = 2) -> None:
        super().__init__()
        torch.manual_seed(0)
        convolution = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
        self.conv1 = convolution(channels, 4, 3, padding=1)
        self.conv2 = convolution(4, 3, 3, padding=1)
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        hidden = torch.tanh(self.conv2(nn.functional.softplus(self.conv1(x))))
        return self.head(hidden.mean(dim=tuple(range(2, x.ndim))))


class WithRelu(nn.Module):
    """conv -> ReLU -> conv (cam layer) -> ReLU -> mean -> Linear, with nn.ReLU modules."""

    cam_layer = "conv2"

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.activation1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 3, 3, padding=1)
        self.activation2 = nn.ReLU()
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        features = self.activation2(self.conv2(self.activation1(self.conv1(x))))
        return self.head(features.mean(dim=(2, 3)))


def random_input(*shape: int, seed: int = 3) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def input_gradient(model: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    x = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(model.eval()(x)[:, target].sum(), x)
    return gradient.numpy()


@pytest.mark.parametrize(
    ("baseline", "spatial"),
    [("zero", (8, 8)), ("mean", (8, 8)), (0.5, (4, 6, 6)), ("array", (8, 8))],
)
def test_integrated_gradients_completeness(baseline, spatial):
    model = Smooth(len(spatial))
    x = random_input(2, 2, *spatial)
    if baseline == "array":
        baseline = random_input(2, *spatial, seed=9).numpy()  # (C, *spatial), broadcast over N
    result = explain(model, x, "integrated_gradients", target=1, steps=64, baseline=baseline)
    if isinstance(baseline, str):
        reference = torch.zeros_like(x) if baseline == "zero" else x.mean(dim=(2, 3), keepdim=True).expand_as(x)
    else:
        reference = torch.as_tensor(baseline, dtype=torch.float32).expand_as(x)
    with torch.no_grad():
        difference = (model(x)[:, 1] - model(reference)[:, 1]).numpy()
    totals = result.raw.reshape(2, -1).sum(axis=1)
    np.testing.assert_allclose(totals, difference, rtol=0.01)
    assert result.model_evaluations == 2 * (64 + 1)
    assert result.raw.shape == (2, *spatial)


def test_integrated_gradients_batching_does_not_change_the_result():
    model, x = Smooth(), random_input(3, 2, 8, 8)
    small = explain(model, x, "integrated_gradients", target=[0, 1, 0], steps=8, batch_size=5)
    large = explain(model, x, "integrated_gradients", target=[0, 1, 0], steps=8, batch_size=64)
    np.testing.assert_allclose(small.raw, large.raw, rtol=1e-5, atol=1e-7)


def test_integrated_gradients_rejects_a_baseline_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"baseline of shape \(3,\) does not broadcast"):
        explain(Smooth(), random_input(1, 2, 8, 8), "integrated_gradients", baseline=np.zeros(3))


def test_saliency_is_the_largest_absolute_gradient_over_channels():
    model, x = Smooth(), random_input(2, 2, 8, 8)
    gradient = input_gradient(model, x, 0)
    result = explain(model, x, "saliency", target=0)
    np.testing.assert_allclose(np.abs(result.raw), np.abs(gradient).max(axis=1), rtol=1e-5)
    magnitude = np.abs(gradient).max(axis=1)
    low = magnitude.reshape(2, -1).min(axis=1)[:, None, None]
    high = magnitude.reshape(2, -1).max(axis=1)[:, None, None]
    np.testing.assert_allclose(result.heatmaps, (magnitude - low) / (high - low), atol=1e-5)
    assert result.layer is None


def test_gradient_x_input_sums_over_channels():
    model, x = Smooth(), random_input(2, 2, 8, 8)
    expected = (x.numpy() * input_gradient(model, x, 1)).sum(axis=1)
    np.testing.assert_allclose(explain(model, x, "gradient_x_input", target=1).raw, expected, rtol=1e-5, atol=1e-7)


def test_guided_backprop_and_deconvnet_differ_from_the_plain_gradient():
    model, x = WithRelu(), random_input(1, 2, 8, 8)
    plain = explain(model, x, "saliency", target=0)
    guided = explain(model, x, "guided_backprop", target=0)
    deconv = explain(model, x, "deconvnet", target=0)
    assert guided.heatmaps.shape == deconv.heatmaps.shape == (1, 8, 8)
    assert not np.allclose(guided.raw, plain.raw)
    assert not np.allclose(deconv.raw, guided.raw)
    np.testing.assert_allclose(guided.scores, plain.scores)


def test_guided_gradcam_is_guided_backprop_times_the_gradcam_map():
    model, x = WithRelu(), random_input(2, 2, 8, 8)
    combined = explain(model, x, "guided_gradcam", target=[1, 0])
    guided = explain(model, x, "guided_backprop", target=[1, 0])
    gradcam = explain(model, x, "gradcam", target=[1, 0])
    np.testing.assert_allclose(combined.raw, guided.raw * gradcam.heatmaps, rtol=1e-5, atol=1e-7)
    assert combined.layer == "conv2"
    assert combined.model_evaluations == 4


@pytest.mark.parametrize("method", ["saliency", "gradient_x_input", "integrated_gradients"])
def test_gradient_methods_take_no_layer(method):
    with pytest.raises(ValueError, match=f"{method} attributes the input and takes no layer"):
        explain(Smooth(), random_input(1, 2, 8, 8), method, layer="conv2")


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "guided_backprop"])
def test_gradient_maps_are_in_the_unit_interval_in_3d(method):
    model = (
        Smooth(3)
        if method != "guided_backprop"
        else nn.Sequential(
            nn.Conv3d(1, 2, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
            nn.Linear(2, 2),
        )
    )
    channels = 2 if method != "guided_backprop" else 1
    options = {"steps": 8} if method == "integrated_gradients" else {}
    result = explain(model, random_input(2, channels, 4, 6, 6), method, target=0, **options)
    assert result.heatmaps.shape == (2, 4, 6, 6)
    assert result.heatmaps.min() == 0.0 and result.heatmaps.max() == 1.0


# --------------------------------------------------------------------------- SmoothGrad


@pytest.mark.parametrize("inner", ["saliency", "gradcam"])
def test_smoothgrad_is_reproducible_with_a_seed(inner):
    model, x = WithRelu(), random_input(2, 2, 8, 8)
    options = {"inner": inner, "noise_level": 0.2, "samples": 6, "seed": 3}
    first = explain(model, x, "smoothgrad", target=[0, 1], **options)
    again = explain(model, x, "smoothgrad", target=[0, 1], **options)
    other = explain(model, x, "smoothgrad", target=[0, 1], **{**options, "seed": 4})
    np.testing.assert_array_equal(first.heatmaps, again.heatmaps)
    assert not np.array_equal(first.heatmaps, other.heatmaps)
    # N to resolve the targets on the clean input, then one evaluation per copy.
    assert first.model_evaluations == 2 + 2 * 6


@pytest.mark.parametrize("inner", ["saliency", "gradcam", "integrated_gradients"])
def test_smoothgrad_at_noise_level_zero_is_the_inner_method(inner):
    model, x = WithRelu(), random_input(2, 2, 8, 8)
    inner_options = {"steps": 4} if inner == "integrated_gradients" else {}
    smooth = explain(
        model,
        x,
        "smoothgrad",
        target=None,
        inner=inner,
        noise_level=0.0,
        samples=3,
        batch_size=4,
        inner_options=inner_options,
    )
    plain = explain(model, x, inner, target=None, **inner_options)
    np.testing.assert_allclose(smooth.heatmaps, plain.heatmaps, atol=1e-5)
    np.testing.assert_allclose(smooth.raw, plain.raw, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(smooth.scores, plain.scores, rtol=1e-5)
    assert smooth.target == plain.target
    assert smooth.layer == plain.layer


def test_smoothgrad_averages_noisy_copies_of_each_sample_separately():
    model, x = WithRelu(), random_input(2, 2, 8, 8)
    pair = explain(model, x, "smoothgrad", target=[0, 1], inner="gradcam", samples=4, seed=1, batch_size=3)
    assert pair.heatmaps.shape == (2, 8, 8)
    assert pair.raw.shape == (2, 8, 8)
    assert pair.layer == "conv2"


def test_smoothgrad_rejects_wrapping_itself_and_unknown_inner_methods():
    model, x = WithRelu(), random_input(1, 2, 8, 8)
    with pytest.raises(ValueError, match="smoothgrad cannot wrap itself"):
        explain(model, x, "smoothgrad", inner="smoothgrad")
    with pytest.raises(ValueError, match=r"unknown method 'gradcam2'; known methods: .*hirescam"):
        explain(model, x, "smoothgrad", inner="gradcam2")


@pytest.mark.parametrize("method", ["guided_backprop", "deconvnet"])
def test_a_model_with_in_place_relus_is_named_not_a_traceback(method):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 1)
    )
    x = np.random.default_rng(0).random((1, 1, 8, 8)).astype(np.float32)
    with pytest.raises(ValueError, match=r"in-place ReLU module\(s\) \['1'\].*inplace=False"):
        explain(model, x, method, target=0)
