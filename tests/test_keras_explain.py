"""Tests of radxai.explain.backends.keras: Keras models through the same explain() front door.

The key test puts the same weights into the PyTorch 3D CNN and its Keras twin and asks both
backends for every method: the maps must agree. Tiny models (width 1/16, 16^3 volumes), as
TensorFlow shares two busy cores.
"""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from radxai.explain import explain, methods
from radxai.explain.backends import detect_backend
from radxai.explain.backends.keras import KerasBackend
from radxai.models import build
from radxai.models.keras_backend import import_keras
from radxai.models.keras_cnn3d import (
    KERAS_CAM_LAYER,
    build_keras_cnn3d,
    copy_torch_to_keras,
    to_channels_last,
)

keras = import_keras()  # the file's one TensorFlow import

TOLERANCE = 1e-4
TINY_WIDTH = 0.0625
TWIN_OPTIONS = {
    "integrated_gradients": {"steps": 16},
    "smoothgrad": {"inner": "gradcam", "samples": 4, "seed": 0},
    "kernel_shap": {"n_segments": 8, "samples": 32},
    "lime": {"n_segments": 8, "samples": 32},
    "occlusion": {"patch_size": 8, "stride": 4},
}
PER_SAMPLE_TARGETS = [0, 1]


# --------------------------------------------------------------------------- 3D twins


def randomise(model: nn.Module, seed: int) -> None:
    """Random biases and batch-norm statistics: fresh ones (zero, one) would hide a weight
    that reaches the wrong place."""
    generator = torch.Generator().manual_seed(seed)

    def uniform(tensor: torch.Tensor, low: float, high: float) -> None:
        tensor.copy_(low + (high - low) * torch.rand(tensor.shape, generator=generator))

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm3d):
                uniform(module.weight, 0.5, 1.5)
                uniform(module.bias, -0.5, 0.5)
                uniform(module.running_mean, -0.5, 0.5)
                uniform(module.running_var, 0.5, 2.0)
            elif isinstance(module, (nn.Conv3d, nn.Linear)):
                uniform(module.bias, -0.1, 0.1)


@pytest.fixture(scope="module")
def twins():
    """(torch CNN3D, Keras twin with the same weights, volumes (2, 1, 16, 16, 16))."""
    torch.manual_seed(0)
    torch_model = build("cnn3d", width=TINY_WIDTH, padding="same").eval()
    randomise(torch_model, seed=1)
    keras_model = build_keras_cnn3d(input_shape=(16, 16, 16), width=TINY_WIDTH, padding="same")
    copy_torch_to_keras(torch_model, keras_model)
    # TensorFlow's CPU gradient of MaxPool3D sends the whole gradient to every value within
    # about 1e-5 of a window's maximum, torch's to one of them, so the twins' gradients part
    # wherever a pooling window holds such a near-tie (two almost equal activations, or an
    # all-zero window of dead ReLUs when the gradient passes dead ReLUs, as in DeconvNet).
    # These volumes have none along any method's inputs (Integrated Gradients' path points
    # near zero included); DeconvNet is compared on 2D twins without max pooling below.
    volumes = 4 * np.random.default_rng(0).standard_normal((2, 1, 16, 16, 16))
    return torch_model, keras_model, volumes.astype(np.float32)


TWIN_METHODS = [name for name in methods() if name != "deconvnet"]


def test_every_method_but_deconvnet_is_compared_on_the_twins():
    assert {"gradcam", "hirescam", "gradcam++", "layercam", "saliency"} <= set(TWIN_METHODS)
    assert {"integrated_gradients", "smoothgrad", "guided_backprop"} <= set(TWIN_METHODS)


@pytest.mark.parametrize("method", TWIN_METHODS)
def test_the_same_weights_give_the_same_maps_in_torch_and_keras(twins, method):
    torch_model, keras_model, volumes = twins
    options = TWIN_OPTIONS.get(method, {})
    expected = explain(torch_model, volumes, method, target=PER_SAMPLE_TARGETS, **options)
    result = explain(keras_model, volumes, method, target=PER_SAMPLE_TARGETS, **options)

    assert result.heatmaps.shape == expected.heatmaps.shape == (2, 16, 16, 16)
    assert result.raw.shape == expected.raw.shape
    np.testing.assert_allclose(result.heatmaps, expected.heatmaps, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(result.raw, expected.raw, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(result.scores, expected.scores, rtol=0, atol=TOLERANCE)
    # Nothing agrees trivially: raw values well above the tolerance, maps not all zero.
    assert np.abs(expected.raw).max() > 20 * TOLERANCE and result.heatmaps.max() == 1.0
    assert result.target == expected.target == PER_SAMPLE_TARGETS
    assert result.model_evaluations == expected.model_evaluations
    if expected.layer is None:
        assert result.layer is None
    else:  # the default layers correspond: block4.activation is block4_conv's output
        assert (expected.layer, result.layer) == ("block4.activation", KERAS_CAM_LAYER)


# --------------------------------------------------------------------------- 2D twins


def keras_2d(outputs: int = 3) -> "keras.Model":
    """conv1 -> ReLU layer -> conv2 (ReLU fused, the last conv) -> average pooling -> dense.

    Channels last, (N, 12, 10, 2) -> (N, outputs) logits.
    """
    keras.utils.set_random_seed(0)
    layers = keras.layers
    inputs = keras.Input((12, 10, 2), name="image")
    features = layers.Conv2D(4, 3, padding="same", name="conv1")(inputs)
    features = layers.ReLU(name="relu1")(features)
    features = layers.Conv2D(5, 3, padding="same", activation="relu", name="conv2")(features)
    pooled = layers.GlobalAveragePooling2D(name="pool")(features)
    logits = layers.Dense(outputs, bias_initializer="random_normal", name="output")(pooled)
    return keras.Model(inputs, logits, name="tiny2d")


def torch_twin_of(model: "keras.Model") -> nn.Module:
    """The same network in torch (nn.ReLU modules), with the Keras model's weights."""
    twin = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(2, 4, 3, padding=1),
            relu1=nn.ReLU(),
            conv2=nn.Conv2d(4, 5, 3, padding=1),
            relu2=nn.ReLU(),
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(),
            output=nn.Linear(5, model.get_layer("output").units),
        )
    )
    with torch.no_grad():
        for name, axes in (("conv1", (3, 2, 0, 1)), ("conv2", (3, 2, 0, 1)), ("output", (1, 0))):
            kernel, bias = model.get_layer(name).get_weights()
            twin.get_submodule(name).weight.copy_(torch.from_numpy(kernel.transpose(axes)))
            twin.get_submodule(name).bias.copy_(torch.from_numpy(bias))
    return twin.eval()


def images(n: int = 2) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((n, 2, 12, 10)).astype(np.float32)


@pytest.mark.parametrize("method", ["deconvnet", "guided_backprop", "saliency", "gradcam", "gradcam++"])
def test_2d_models_give_maps_of_the_image_size_equal_to_torch(method):
    model = keras_2d(outputs=3)
    x = images()
    result = explain(model, x, method, target=[0, 2])
    expected = explain(torch_twin_of(model), x, method, target=[0, 2])

    assert result.heatmaps.shape == (2, 12, 10)
    np.testing.assert_allclose(result.heatmaps, expected.heatmaps, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(result.raw, expected.raw, rtol=0, atol=TOLERANCE)
    assert all(sample.max() == 1.0 for sample in result.heatmaps)


def test_hirescam_equals_gradcam_when_average_pooling_and_one_dense_follow():
    model = keras_2d(outputs=3)
    x = images()
    gradcam = explain(model, x, "gradcam", target=[1, 2])
    hirescam = explain(model, x, "hirescam", target=[1, 2])

    assert gradcam.layer == hirescam.layer == "conv2"  # the default: the last spatial layer
    np.testing.assert_allclose(hirescam.raw, gradcam.raw, rtol=0, atol=1e-6)
    np.testing.assert_allclose(hirescam.heatmaps, gradcam.heatmaps, rtol=0, atol=1e-6)
    # Without its ReLU, HiResCAM sums over positions to S - bias (DESIGN, Definitions).
    bias = model.get_layer("output").bias.numpy()[[1, 2]]
    np.testing.assert_allclose(hirescam.raw.sum(axis=(1, 2)), hirescam.scores - bias, rtol=0, atol=1e-5)


def test_a_gradient_through_a_skip_connection_past_the_layer_is_exact():
    # out = dense(mean(a + relu(conv(a)))), a = conv_a(x): a skip passes layer "inner", so
    # dS/d inner = w_target / positions where inner > 0, and 0 elsewhere.
    keras.utils.set_random_seed(0)
    layers = keras.layers
    inputs = keras.Input((6, 6, 1))
    skipped = layers.Conv2D(3, 3, padding="same", name="conv_a")(inputs)
    inner = layers.Conv2D(3, 3, padding="same", name="inner")(skipped)
    added = layers.Add(name="add")([skipped, layers.ReLU(name="relu")(inner)])
    logits = layers.Dense(2, name="output")(layers.GlobalAveragePooling2D()(added))
    model = keras.Model(inputs, logits)
    x = np.random.default_rng(2).standard_normal((2, 1, 6, 6)).astype(np.float32)

    captured = detect_backend(model).layer_capture(x, [1, 0], "inner", gradients=True)

    weights = model.get_layer("output").kernel.numpy()[:, [1, 0]].T  # (N, F)
    expected = weights[:, :, None, None] / 36 * (captured.activations > 0)
    np.testing.assert_allclose(captured.gradients, expected, rtol=1e-5, atol=1e-7)


def test_a_frozen_model_is_explained_too():
    # The tape watches the layer output, not the (here non-trainable) weights.
    model = keras_2d(outputs=3)
    x = images()
    expected = explain(model, x, "gradcam", target=[0, 1])
    model.trainable = False
    frozen = explain(model, x, "gradcam", target=[0, 1])
    np.testing.assert_array_equal(frozen.raw, expected.raw)


# --------------------------------------------------------------------------- layers


def test_an_unknown_layer_is_rejected_with_the_spatial_layers_listed(twins):
    _, keras_model, volumes = twins
    listing = "block1_conv, block1_pool, block1_norm, block2_conv, .*, block4_conv$"
    with pytest.raises(
        ValueError,
        match=rf"unknown layer 'block9' for Functional 'cnn3d'; "
        rf"layers with a spatial output: {listing}",
    ):
        explain(keras_model, volumes, "gradcam", layer="block9")
    with pytest.raises(ValueError, match=r"unknown layer 'volume'"):  # the input is no layer
        explain(keras_model, volumes, "gradcam", layer="volume")


def test_a_layer_without_a_spatial_output_is_rejected(twins):
    _, keras_model, volumes = twins
    with pytest.raises(
        ValueError,
        match=r"layer 'dense' outputs shape \(2, 32\), not a map "
        r"\(N, \*s, F\) with 3 spatial axes.*: block1_conv, ",
    ):
        explain(keras_model, volumes, "gradcam", layer="dense")


def test_the_models_cam_layer_attribute_is_the_default():
    model = keras_2d()
    model.cam_layer = "relu1"
    assert explain(model, images(), "gradcam").layer == "relu1"
    model.cam_layer = "conv9"
    with pytest.raises(
        ValueError,
        match=r"Functional 'tiny2d'.cam_layer = 'conv9' is not a "
        r"layer of the model; layers with a spatial output: conv1, relu1, conv2$",
    ):
        explain(model, images(), "gradcam")


def test_a_layer_run_twice_is_ambiguous():
    keras.utils.set_random_seed(0)
    shared = keras.layers.Conv2D(2, 3, padding="same", name="shared")
    inputs = keras.Input((6, 6, 2))
    features = shared(shared(inputs))
    logits = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(features))
    model = keras.Model(inputs, logits)
    x = np.ones((1, 2, 6, 6), np.float32)
    with pytest.raises(ValueError, match=r"layer 'shared' ran 2 times in one forward pass"):
        explain(model, x, "gradcam", layer="shared")


def test_channels_first_models_and_non_models_are_refused():
    inputs = keras.Input((2, 6, 6))
    features = keras.layers.Conv2D(2, 3, data_format="channels_first", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Flatten()(features))
    with pytest.raises(ValueError, match=r"layer 'conv' of Functional .* is channels_first"):
        explain(model, np.ones((1, 2, 6, 6), np.float32), "saliency")
    with pytest.raises(TypeError, match=r"the Keras backend explains a keras\.Model"):
        KerasBackend(keras.layers.Dense(2))


@pytest.mark.parametrize("shape", [(2, 1, 16, 16), (2, 1, 16, 16, 12)], ids=["4D input", "wrong depth"])
def test_an_input_the_model_does_not_take_is_refused_with_both_shapes(twins, shape):
    _, keras_model, _ = twins
    with pytest.raises(
        ValueError,
        match=r"takes input \(N, 16, 16, 16, 1\) \(channels last\), that is "
        r"\(N, 1, 16, 16, 16\) in radxai's \(N, C, \*spatial\) order; got x of shape",
    ):
        explain(keras_model, np.ones(shape, np.float32), "gradcam")


# --------------------------------------------------------------------------- targets


def test_single_logit_targets_follow_the_torch_rules(twins):
    _, keras_model, volumes = twins
    logits = keras_model(to_channels_last(volumes), training=False).numpy()[:, 0]

    positive = explain(keras_model, volumes, "saliency", target=1)
    negative = explain(keras_model, volumes, "saliency", target=0)
    predicted = explain(keras_model, volumes, "saliency")
    doubled = explain(keras_model, volumes, "saliency", target=lambda output: 2 * output[:, 0])

    np.testing.assert_allclose(positive.scores, logits, rtol=1e-6)
    np.testing.assert_allclose(negative.scores, -logits, rtol=1e-6)
    np.testing.assert_allclose(negative.raw, -positive.raw, rtol=1e-5, atol=1e-9)
    assert predicted.target == [int(logit > 0) for logit in logits]
    np.testing.assert_allclose(doubled.scores, 2 * logits, rtol=1e-6)
    np.testing.assert_allclose(doubled.raw, 2 * positive.raw, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize(
    "outputs, target, message",
    [
        (
            1,
            2,
            r"target 2 is out of range for a model with 1 output\(s\); valid targets: 0 "
            r"\(negative class, logit negated\) and 1",
        ),
        (
            3,
            [0, 3],
            r"target 3 is out of range for a model with 3 output\(s\); valid targets: "
            r"0\.\.2",
        ),
    ],
)
def test_a_target_out_of_range_is_rejected(outputs, target, message):
    with pytest.raises(ValueError, match=message):
        explain(keras_2d(outputs), images(), "gradcam", target=target)


def test_a_callable_target_must_give_one_score_per_sample():
    with pytest.raises(ValueError, match=r"must return a tensor of shape \(2,\).*got \(2, 3\)"):
        explain(keras_2d(), images(), "saliency", target=lambda output: output)


# --------------------------------------------------------------------------- ReLU rules


def test_relu_rules_restore_the_model_also_after_an_error():
    model = keras_2d()
    conv2, relu1 = model.get_layer("conv2"), model.get_layer("relu1")

    def failing(output):
        raise RuntimeError("target failed")

    with pytest.raises(RuntimeError, match="target failed"):
        explain(model, images(), "guided_backprop", target=failing)
    with pytest.raises(RuntimeError, match="target failed"):
        explain(model, images(), "gradcam", layer="relu1", target=failing)
    assert conv2.activation is keras.activations.relu
    assert "call" not in vars(relu1) and "call" not in vars(conv2)


def test_relu_rules_need_relus():
    inputs = keras.Input((6, 6, 1))
    features = keras.layers.Conv2D(2, 3, activation="tanh")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(features)))
    with pytest.raises(ValueError, match=r"the deconvnet backward rule acts on ReLU activations"):
        explain(model, np.ones((1, 1, 6, 6), np.float32), "deconvnet")


# --------------------------------------------------------------------------- cost


@pytest.mark.parametrize(
    "method, options, evaluations",
    [
        ("gradcam", {}, 2),
        ("saliency", {}, 2),
        ("integrated_gradients", {"steps": 4}, 2 * (4 + 1)),
        ("smoothgrad", {"samples": 3}, 2 + 2 * 3),
        ("scorecam", {}, 2 + 2 * 5 + 2),  # capture, 5 masked inputs and a baseline per sample
        ("guided_gradcam", {}, 2 + 2),
    ],
)
def test_every_sample_through_the_model_counts_as_one_evaluation(method, options, evaluations):
    result = explain(keras_2d(), images(), method, **options)
    assert result.model_evaluations == evaluations
