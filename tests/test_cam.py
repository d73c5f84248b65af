"""Tests of the CAM family (radxai.explain.cam) against the definitions and the HiResCAM proof."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from radxai.explain import explain
from radxai.models import build

GENERATOR_SEED = 7


def random_input(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(GENERATOR_SEED))


class PooledLinear(nn.Module):
    """Convs -> ``features.conv2`` (the cam layer) -> global average pooling -> Linear(F, K).

    The CAM architecture of the HiResCAM proof, in 2D or 3D.
    """

    cam_layer = "features.conv2"

    def __init__(self, spatial_dims: int = 2, outputs: int = 3, features: int = 5) -> None:
        super().__init__()
        torch.manual_seed(0)
        convolution = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
        self.features = nn.Sequential(
            OrderedDict(
                conv1=convolution(1, 4, 3, padding=1),
                activation=nn.ReLU(),
                conv2=convolution(4, features, 3, padding=1),
            )
        )
        self.classifier = nn.Linear(features, outputs)

    def forward(self, x):
        spatial_axes = tuple(range(2, x.ndim))
        return self.classifier(self.features(x).mean(dim=spatial_axes))


def bodycam() -> nn.Module:
    torch.manual_seed(0)
    return build("bodycam", width=0.125, blocks_per_stage=(1, 1), num_classes=3)


POOLED_MODELS = {
    "2d": (lambda: PooledLinear(2), (3, 1, 8, 8)),
    "3d": (lambda: PooledLinear(3), (3, 1, 6, 8, 8)),
    "bodycam": (bodycam, (3, 1, 3, 16, 16)),
}


@pytest.mark.parametrize("case", POOLED_MODELS)
def test_gradcam_equals_hirescam_before_pooling_and_one_linear_layer(case):
    make, shape = POOLED_MODELS[case]
    model, x = make(), random_input(*shape)
    targets = [0, 2, 1]
    gradcam = explain(model, x, "gradcam", target=targets)
    hirescam = explain(model, x, "hirescam", target=targets)
    assert gradcam.layer == hirescam.layer == model.cam_layer
    scale = np.abs(hirescam.raw).max()
    np.testing.assert_allclose(gradcam.raw, hirescam.raw, atol=1e-5 * scale)
    np.testing.assert_allclose(gradcam.heatmaps, hirescam.heatmaps, atol=1e-4)


@pytest.mark.parametrize("case", POOLED_MODELS)
@pytest.mark.parametrize("target", [0, 1, 2])
def test_hirescam_map_sums_to_the_score_minus_the_bias(case, target):
    make, shape = POOLED_MODELS[case]
    model, x = make(), random_input(*shape)
    result = explain(model, x, "hirescam", target=target)
    bias = model.classifier.bias[target].item()
    logits = model.eval()(x)[:, target].detach().numpy()
    np.testing.assert_allclose(result.scores, logits, rtol=1e-5)
    per_sample = result.raw.reshape(len(x), -1).sum(axis=1)
    np.testing.assert_allclose(per_sample, logits - bias, rtol=1e-4, atol=1e-5)


class SingleFeature(nn.Module):
    """One feature map A at two positions, score = weights . A + bias.

    ``features`` is an identity 1x1 convolution, so A equals the input (1, 1, 1, 2).
    """

    cam_layer = "features"

    def __init__(self, weights: list[float], bias: float = 0.0) -> None:
        super().__init__()
        self.features = nn.Conv2d(1, 1, kernel_size=1, bias=False)
        self.score = nn.Linear(2, 1)
        with torch.no_grad():
            self.features.weight.fill_(1.0)
            self.score.weight.copy_(torch.tensor([weights]))
            self.score.bias.fill_(bias)

    def forward(self, x):
        return self.score(self.features(x).flatten(1))


def activations(values: list[float]) -> torch.Tensor:
    return torch.tensor(values).reshape(1, 1, 1, 2)


def test_gradcam_highlights_a_position_that_lowers_the_score():
    # HiResCAM paper: weights [3, -1], activations [1, 2]. Contributions are [3, -2]; Grad-CAM
    # averages the gradient to 1 and draws [1, 2], peaking where the contribution is negative.
    model, x = SingleFeature([3.0, -1.0]), activations([1.0, 2.0])
    gradcam = explain(model, x, "gradcam", target=1)
    hirescam = explain(model, x, "hirescam", target=1)
    np.testing.assert_allclose(gradcam.raw, [[[1.0, 2.0]]])
    np.testing.assert_allclose(hirescam.raw, [[[3.0, -2.0]]])
    assert gradcam.heatmaps[0, 0].argmax() == 1
    assert hirescam.heatmaps[0, 0].argmax() == 0 and hirescam.heatmaps[0, 0, 1] == 0.0


def test_gradcam_highlights_a_position_the_score_ignores():
    # Weights [1, 0], activations [1, 5]: position 1 does not enter the score at all.
    model, x = SingleFeature([1.0, 0.0]), activations([1.0, 5.0])
    gradcam = explain(model, x, "gradcam", target=1)
    hirescam = explain(model, x, "hirescam", target=1)
    np.testing.assert_allclose(gradcam.raw, [[[0.5, 2.5]]])
    assert gradcam.heatmaps[0, 0, 1] == 1.0
    np.testing.assert_allclose(hirescam.raw, [[[1.0, 0.0]]])
    assert hirescam.heatmaps[0, 0, 1] == 0.0


def test_layercam_keeps_positive_gradients_per_position():
    model, x = SingleFeature([3.0, -1.0]), activations([1.0, 2.0])
    np.testing.assert_allclose(explain(model, x, "layercam", target=1).raw, [[[3.0, 0.0]]])


def test_gradcam_plus_plus_closed_form():
    # alpha = G^2 / (2 G^2 + sum A G^3): sum A G^3 = 1 * 27 + 2 * (-1) = 25, so
    # alpha = [9 / 43, 1 / 27] and w = 9 / 43 * ReLU(3) + 1 / 27 * ReLU(-1) = 27 / 43.
    model, x = SingleFeature([3.0, -1.0]), activations([1.0, 2.0])
    result = explain(model, x, "gradcam++", target=1)
    np.testing.assert_allclose(result.raw, [[[27 / 43, 54 / 43]]], rtol=1e-6)


def test_scorecam_weights_are_the_increase_of_the_score():
    # The only mask is A min-max normalised, [0, 1]; the masked input [0, 2] scores
    # 3 * 0 - 1 * 2 + 5 = 3 and the zero baseline 5, so w = -2 and raw = -2 * A.
    model, x = SingleFeature([3.0, -1.0], bias=5.0), activations([1.0, 2.0])
    result = explain(model, x, "scorecam", target=1)
    np.testing.assert_allclose(result.raw, [[[-2.0, -4.0]]])
    np.testing.assert_array_equal(result.heatmaps, 0.0)


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_scorecam_counts_its_model_evaluations(batch_size):
    model, x = PooledLinear(2, features=5), random_input(2, 1, 8, 8)
    result = explain(model, x, "scorecam", target=[0, 1], batch_size=batch_size)
    # N for the capture, N * F masked inputs, N zero baselines.
    assert result.model_evaluations == 2 * (5 + 2)
    single = explain(model, x[1:], "scorecam", target=1)
    np.testing.assert_allclose(result.raw[1], single.raw[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["gradcam", "hirescam", "gradcam++", "layercam", "scorecam"])
@pytest.mark.parametrize("shape", [(3, 1, 8, 8), (3, 1, 6, 8, 8)])
def test_batch_with_per_sample_targets_matches_single_samples(method, shape):
    model = PooledLinear(len(shape) - 2, outputs=3)
    x = random_input(*shape)
    targets = [2, 0, 1]
    batch = explain(model, x, method, target=targets)
    assert batch.heatmaps.shape == (3, *shape[2:])
    assert batch.raw.shape == (3, *shape[2:])  # padded convs keep the grid
    assert batch.heatmaps.dtype == np.float32
    assert batch.model_evaluations == (3 if method != "scorecam" else 3 * (5 + 2))
    for index, target in enumerate(targets):
        single = explain(model, x[index : index + 1], method, target=target)
        np.testing.assert_allclose(batch.heatmaps[index], single.heatmaps[0], atol=1e-5)
        np.testing.assert_allclose(batch.raw[index], single.raw[0], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(batch.scores[index], single.scores[0], rtol=1e-5)


@pytest.mark.parametrize("method", ["gradcam", "hirescam", "gradcam++", "layercam", "scorecam"])
def test_cam_maps_lie_in_the_unit_interval(method):
    result = explain(PooledLinear(3), random_input(2, 1, 4, 6, 6), method, target=1)
    assert result.heatmaps.min() >= 0.0 and result.heatmaps.max() <= 1.0
    assert not np.isnan(result.heatmaps).any()


def test_multi_label_outputs_have_one_map_per_class():
    torch.manual_seed(0)
    model = build("cnn2d", width=0.0625, num_outputs=4)
    x = random_input(1, 1, 32, 32)
    raws = [explain(model, x, "hirescam", target=k).raw[0] for k in range(4)]
    assert all(raw.shape == (4, 4) for raw in raws)
    assert not np.allclose(raws[0], raws[1])


MODELS = {
    "cnn3d": ({"width": 0.05, "padding": "same"}, (1, 1, 16, 16, 16), (1, 2, 2, 2)),
    "cnn2d": ({"width": 0.0625, "num_outputs": 3}, (2, 1, 32, 32), (2, 4, 4)),
    "axialnet": (
        {"slice_size": (16, 16), "width": 0.125, "blocks_per_stage": (1, 1), "num_classes": 2},
        (2, 1, 3, 16, 16),
        (2, 3, 2, 2),
    ),
    "bodycam": (
        {"width": 0.125, "blocks_per_stage": (1, 1), "num_classes": 2},
        (2, 1, 3, 16, 16),
        (2, 3, 2, 2),
    ),
    "unet_classifier": ({"width": 0.0625, "depth": 2}, (2, 1, 8, 8), (2, 2, 2)),
}


@pytest.mark.parametrize("name", MODELS)
def test_default_layer_is_the_models_cam_layer(name):
    arguments, input_shape, raw_shape = MODELS[name]
    torch.manual_seed(0)
    model = build(name, **arguments)
    result = explain(model, random_input(*input_shape), "hirescam", target=0)
    assert result.layer == model.cam_layer
    assert result.heatmaps.shape == (input_shape[0], *input_shape[2:])
    assert result.raw.shape == raw_shape
    assert result.model_evaluations == input_shape[0]


def test_axialnet_hirescam_is_each_positions_share_of_the_score():
    # Section 3.4: for AxialNet the HiResCAM map at Z sums to s_m - b_m as well.
    arguments, input_shape, _ = MODELS["axialnet"]
    torch.manual_seed(0)
    model = build("axialnet", **arguments)
    x = random_input(*input_shape)
    result = explain(model, x, "hirescam", target=1)
    logits = model.eval()(x)[:, 1].detach().numpy()
    bias = model.classifier.bias[1].item()
    np.testing.assert_allclose(result.raw.reshape(2, -1).sum(axis=1), logits - bias, rtol=1e-4, atol=1e-5)


def test_explicit_layer_is_used():
    torch.manual_seed(0)
    model = build("cnn2d", width=0.0625, num_outputs=3)
    result = explain(model, random_input(1, 1, 32, 32), "gradcam", target=0, layer="block3")
    assert result.layer == "block3"
    assert result.raw.shape == (1, 4, 4)


class NoCamLayer(nn.Module):
    """A model without ``cam_layer``: the last spatial output is ``features.2`` (a ReLU)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 4, 3), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.pool(self.features(x)).flatten(1))


def test_default_layer_without_cam_layer_is_the_last_spatial_output():
    model = NoCamLayer()
    first = explain(model, random_input(2, 1, 8, 8), "gradcam", target=0)
    # The Sequential finishes after its last ReLU (same tensor); the 1x1 pooling is no map.
    assert first.layer == "features"
    assert first.raw.shape == (2, 6, 6)
    assert first.model_evaluations == 1 + 2  # one dry run of one sample, then the batch
    again = explain(model, random_input(2, 1, 8, 8), "gradcam", target=0)
    assert again.layer == "features" and again.model_evaluations == 2  # remembered


def test_a_remembered_default_layer_that_the_model_lost_is_found_again():
    model = NoCamLayer()
    assert explain(model, random_input(1, 1, 8, 8), "gradcam", target=0).layer == "features"
    model.trunk = model.features  # the same block under a new name: "features" no longer exists
    del model.features
    model.forward = lambda x: model.head(model.pool(model.trunk(x)).flatten(1))
    assert explain(model, random_input(1, 1, 8, 8), "gradcam", target=0).layer == "trunk"


def test_unknown_layer_lists_the_spatial_layers():
    torch.manual_seed(0)
    model = build("cnn2d", width=0.0625)
    with pytest.raises(ValueError, match=r"unknown layer 'block9'.*block4\.activation3"):
        explain(model, random_input(1, 1, 32, 32), "gradcam", layer="block9")


def test_a_layer_without_a_spatial_output_is_rejected():
    torch.manual_seed(0)
    model = build("cnn2d", width=0.0625)
    with pytest.raises(ValueError, match=r"layer 'classifier.dense1' outputs shape \(1, 64\).*block4"):
        explain(model, random_input(1, 1, 32, 32), "gradcam", layer="classifier.dense1")


def test_axialnet_per_slice_layers_are_not_maps_of_the_volume():
    arguments, input_shape, _ = MODELS["axialnet"]
    torch.manual_seed(0)
    model = build("axialnet", **arguments)
    with pytest.raises(ValueError, match=r"backbone.stage1.*spatial output: .*slice_features"):
        explain(model, random_input(*input_shape), "gradcam", layer="backbone.stage1")


def test_a_layer_off_the_scores_path_is_rejected():
    torch.manual_seed(0)
    model = build("unet_classifier", width=0.0625, depth=2)
    with pytest.raises(ValueError, match="do not depend on layer 'mask_head'"):
        explain(model, random_input(1, 1, 8, 8), "gradcam", target=0, layer="mask_head")
