"""Tests of radxai.models.keras_cnn3d: the Keras twin of the 3D CNN and the weight copy."""

import os
import subprocess
import sys

# Before Keras brings in TensorFlow: keep its C++ start-up messages out of the test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import torch
from torch import nn

from radxai.models import build, keras_cnn3d
from radxai.models.keras_cnn3d import (
    KERAS_CAM_LAYER,
    build_keras_cnn3d,
    copy_keras_to_torch,
    copy_torch_to_keras,
    to_channels_first,
    to_channels_last,
)

# 1/16 of the filters (4, 4, 8, 16; 32 dense units), as in test_cnn3d: fast in both frameworks.
TINY_WIDTH = 0.0625
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def keras():
    """Keras, imported once for the whole file (TensorFlow takes about 10 s to import)."""
    return pytest.importorskip("keras")


def torch_twin(**arguments) -> nn.Module:
    torch.manual_seed(0)
    return build("cnn3d", width=TINY_WIDTH, **arguments).eval()


def randomise_torch(model: nn.Module, seed: int) -> None:
    """Random biases and batch-norm statistics, so that a wrongly copied one changes the output
    (fresh models have zero biases, gamma 1, beta 0, mean 0 and variance 1)."""
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


def randomise_keras(model, seed: int) -> None:
    """The Keras counterpart of `randomise_torch`."""
    import keras

    generator = np.random.default_rng(seed)

    def uniform(variable, low: float, high: float) -> None:
        variable.assign(generator.uniform(low, high, size=variable.shape).astype("float32"))

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            uniform(layer.gamma, 0.5, 1.5)
            uniform(layer.beta, -0.5, 0.5)
            uniform(layer.moving_mean, -0.5, 0.5)
            uniform(layer.moving_variance, 0.5, 2.0)
        elif isinstance(layer, (keras.layers.Conv3D, keras.layers.Dense)):
            uniform(layer.bias, -0.1, 0.1)


def torch_logits(model: nn.Module, volumes: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(volumes)).numpy()


def keras_logits(keras, model, volumes: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(to_channels_last(volumes), training=False))


def keras_weights(model) -> list[np.ndarray]:
    return [np.array(weight) for weight in model.get_weights()]


TWIN_CASES = [
    # Non-cubic volumes, two channels and three outputs catch swapped axes in the input
    # transpose and in the kernels' in/out axes.
    pytest.param("same", 2, 3, (2, 2, 16, 24, 20), id="same"),
    pytest.param("valid", 1, 1, (1, 1, 46, 46, 46), id="valid"),
]


def test_importing_radxai_models_does_not_import_keras():
    code = (
        "import sys, radxai.models, radxai.models.keras_cnn3d; "
        "loaded = {'keras', 'tensorflow'} & set(sys.modules); "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_layer_names_and_shapes(keras):
    model = build_keras_cnn3d(width=TINY_WIDTH)
    blocks = [f"block{index}_{part}" for index in range(1, 5) for part in ("conv", "pool", "norm")]
    assert [layer.name for layer in model.layers] == [
        "volume",
        *blocks,
        "pooling",
        "dense",
        "dropout",
        "output",
    ]
    assert model.input_shape == (None, 64, 128, 128, 1)
    assert model.get_layer("block4_conv").output.shape == (None, 4, 12, 12, 16)
    assert model.get_layer("block4_norm").output.shape == (None, 2, 6, 6, 16)
    assert model.output_shape == (None, 1)
    assert model.get_layer("output").activation is keras.activations.linear


def test_cam_layer_is_the_last_conv_with_its_relu(keras):
    model = build_keras_cnn3d(input_shape=(16, 16, 16), width=TINY_WIDTH, padding="same")
    layer = model.get_layer(KERAS_CAM_LAYER)
    convolutions = [lay.name for lay in model.layers if isinstance(lay, keras.layers.Conv3D)]
    assert convolutions[-1] == KERAS_CAM_LAYER
    assert layer.activation is keras.activations.relu


def test_parameter_count_equals_torch_model_at_width_one(keras):
    keras_model = build_keras_cnn3d()
    torch_model = build("cnn3d")
    torch_trainable = sum(parameter.numel() for parameter in torch_model.parameters())
    torch_moving = sum(
        buffer.numel() for name, buffer in torch_model.named_buffers() if name.endswith(("running_mean", "running_var"))
    )
    keras_trainable = sum(int(np.prod(weight.shape)) for weight in keras_model.trainable_weights)
    assert keras_trainable == torch_trainable == 1_351_873
    assert keras_model.count_params() == torch_trainable + torch_moving == 1_352_897


def test_width_in_channels_and_outputs_scale_like_torch(keras):
    keras_model = build_keras_cnn3d(input_shape=(16, 16, 16), width=0.5, in_channels=2, num_outputs=3, padding="same")
    torch_model = build("cnn3d", width=0.5, in_channels=2, num_outputs=3, padding="same")
    torch_total = sum(parameter.numel() for parameter in torch_model.parameters()) + sum(
        buffer.numel() for name, buffer in torch_model.named_buffers() if name.endswith(("running_mean", "running_var"))
    )
    assert keras_model.count_params() == torch_total
    assert keras_model.input_shape == (None, 16, 16, 16, 2)
    assert keras_model.get_layer("dense").units == 256


@pytest.mark.parametrize(("padding", "in_channels", "num_outputs", "shape"), TWIN_CASES)
def test_torch_to_keras_gives_the_same_logits(keras, padding, in_channels, num_outputs, shape):
    torch_model = torch_twin(padding=padding, in_channels=in_channels, num_outputs=num_outputs)
    randomise_torch(torch_model, seed=1)
    keras_model = build_keras_cnn3d(
        input_shape=shape[2:],
        width=TINY_WIDTH,
        in_channels=in_channels,
        num_outputs=num_outputs,
        padding=padding,
        seed=2,
    )
    volumes = np.random.default_rng(3).random(shape, dtype=np.float32)
    before = keras_logits(keras, keras_model, volumes)
    expected = torch_logits(torch_model, volumes)

    copy_torch_to_keras(torch_model, keras_model)

    after = keras_logits(keras, keras_model, volumes)
    assert after.shape == expected.shape == (shape[0], num_outputs)
    # The models differed before the copy, so the comparison below has power.
    assert np.abs(before - expected).max() > 100 * TOLERANCE
    np.testing.assert_allclose(after, expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize(("padding", "in_channels", "num_outputs", "shape"), TWIN_CASES)
def test_keras_to_torch_gives_the_same_logits(keras, padding, in_channels, num_outputs, shape):
    keras_model = build_keras_cnn3d(
        input_shape=shape[2:],
        width=TINY_WIDTH,
        in_channels=in_channels,
        num_outputs=num_outputs,
        padding=padding,
        seed=4,
    )
    randomise_keras(keras_model, seed=5)
    torch_model = torch_twin(padding=padding, in_channels=in_channels, num_outputs=num_outputs)
    volumes = np.random.default_rng(6).random(shape, dtype=np.float32)
    expected = keras_logits(keras, keras_model, volumes)
    assert np.abs(torch_logits(torch_model, volumes) - expected).max() > 100 * TOLERANCE

    copy_keras_to_torch(keras_model, torch_model)

    np.testing.assert_allclose(torch_logits(torch_model, volumes), expected, rtol=0, atol=TOLERANCE)


def test_round_trip_restores_every_torch_tensor_exactly(keras):
    original = torch_twin(padding="same")
    randomise_torch(original, seed=7)
    keras_model = build_keras_cnn3d(input_shape=(16, 16, 16), width=TINY_WIDTH, padding="same")
    copy_torch_to_keras(original, keras_model)
    restored = build("cnn3d", width=TINY_WIDTH, padding="same")
    copy_keras_to_torch(keras_model, restored)
    expected, received = original.state_dict(), restored.state_dict()
    for name, tensor in expected.items():
        if not name.endswith("num_batches_tracked"):
            assert torch.equal(received[name], tensor), name


def test_width_mismatch_names_the_layer_and_both_shapes_and_copies_nothing(keras):
    torch_model = torch_twin(padding="same")
    keras_model = build_keras_cnn3d(input_shape=(16, 16, 16), width=2 * TINY_WIDTH, padding="same", seed=8)
    untouched = keras_weights(keras_model)
    with pytest.raises(ValueError) as raised:
        copy_torch_to_keras(torch_model, keras_model)
    message = str(raised.value)
    assert "block1_conv" in message
    assert "(4, 1, 3, 3, 3)" in message and "(3, 3, 3, 1, 8)" in message
    assert all(np.array_equal(a, b) for a, b in zip(untouched, keras_weights(keras_model)))
    with pytest.raises(ValueError, match="block1_conv"):
        copy_keras_to_torch(keras_model, torch_model)


def test_output_mismatch_names_the_output_layer(keras):
    torch_model = torch_twin(padding="same", num_outputs=2)
    keras_model = build_keras_cnn3d(input_shape=(16, 16, 16), width=TINY_WIDTH, padding="same")
    with pytest.raises(ValueError, match=r"'output'.*\(2, 32\).*\(32, 1\)"):
        copy_torch_to_keras(torch_model, keras_model)


def test_padding_mismatch_is_rejected(keras):
    torch_model = torch_twin(padding="valid")
    keras_model = build_keras_cnn3d(input_shape=(16, 16, 16), width=TINY_WIDTH, padding="same")
    expected = r"'block1_conv': torch padding 'valid', Keras padding 'same'"
    with pytest.raises(ValueError, match=expected):
        copy_torch_to_keras(torch_model, keras_model)
    with pytest.raises(ValueError, match="padding"):
        copy_keras_to_torch(keras_model, torch_model)


def test_same_seed_same_weights_other_seed_other_weights(keras):
    def weights(seed: int) -> list[np.ndarray]:
        return keras_weights(build_keras_cnn3d(input_shape=(16, 16, 16), width=TINY_WIDTH, padding="same", seed=seed))

    first, second, other = weights(9), weights(9), weights(10)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize(
    ("input_shape", "padding", "match"),
    [
        ((45, 46, 46), "valid", ">= 46"),
        ((16, 15, 16), "same", ">= 16"),
        ((46, 46), "valid", r"\(D, H, W\)"),
        ((46, 46, 46), "causal", "padding"),
    ],
)
def test_bad_input_shape_or_padding_is_rejected(keras, input_shape, padding, match):
    with pytest.raises(ValueError, match=match):
        build_keras_cnn3d(input_shape=input_shape, width=TINY_WIDTH, padding=padding)


def test_channel_layout_helpers():
    volumes = np.arange(2 * 3 * 4 * 5 * 6).reshape(2, 3, 4, 5, 6)
    last = to_channels_last(volumes)
    assert last.shape == (2, 4, 5, 6, 3)
    assert last[1, 2, 3, 4, 0] == volumes[1, 0, 2, 3, 4]
    np.testing.assert_array_equal(to_channels_first(last), volumes)
    assert to_channels_last(np.zeros((1, 2, 7, 8))).shape == (1, 7, 8, 2)
    with pytest.raises(ValueError, match="shape"):
        to_channels_last(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        to_channels_first(np.zeros(3))


def test_saved_archive_is_byte_reproducible_and_reloads(tmp_path) -> None:
    import hashlib

    arguments = {"input_shape": [16, 16, 16], "width": 0.05, "padding": "same", "seed": 1}
    paths = []
    for name in ("first.zip", "second.zip"):
        model = keras_cnn3d.build_keras_cnn3d(**arguments)
        paths.append(keras_cnn3d.save_keras_cnn3d(model, tmp_path / name, arguments))
    digests = {hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}
    assert len(digests) == 1
    reloaded = keras_cnn3d.load_keras_cnn3d(paths[0])
    inputs = np.random.default_rng(0).random((1, 16, 16, 16, 1)).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(reloaded(inputs, training=False)), np.asarray(model(inputs, training=False)), atol=1e-6
    )
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="broken.zip"):
        keras_cnn3d.load_keras_cnn3d(tmp_path / "broken.zip")
