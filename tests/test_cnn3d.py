"""Tests of radxai.models.cnn3d: the Keras 3D CNN of the 3D COVID-19 CT work."""

import pytest
import torch
from torch import nn

from radxai.models import build
from radxai.models.cnn3d import CNN3D, minimum_input_size

# 1/16 of the filters: 4, 4, 8, 16 filters and 32 dense units build and run in milliseconds.
TINY_WIDTH = 0.0625


def tiny(**arguments) -> nn.Module:
    torch.manual_seed(0)
    return build("cnn3d", width=TINY_WIDTH, **arguments)


def stage(size: int, padding: str) -> tuple[int, int]:
    """(after conv, after pool) size of one axis for one conv + pool stage."""
    after_conv = size - 2 if padding == "valid" else size
    return after_conv, after_conv // 2


def conv_parameters(in_channels: int, filters: int) -> int:
    return 3 * 3 * 3 * in_channels * filters + filters


def test_parameter_count_equals_keras_example_network():
    filters = [64, 64, 128, 256]
    convolutions = sum(
        conv_parameters(in_channels, out_channels) for in_channels, out_channels in zip([1, *filters[:-1]], filters)
    )
    # Keras BatchNormalization: gamma and beta are trainable, the moving mean and
    # variance are not (torch keeps those as buffers).
    batch_norm_trainable = sum(2 * count for count in filters)
    batch_norm_moving = sum(2 * count for count in filters)
    dense = 256 * 512 + 512 + 512 * 1 + 1
    keras_trainable = convolutions + batch_norm_trainable + dense
    keras_total = keras_trainable + batch_norm_moving

    model = build("cnn3d")
    trainable = sum(parameter.numel() for parameter in model.parameters())
    moving = sum(
        buffer.numel() for name, buffer in model.named_buffers() if name.endswith(("running_mean", "running_var"))
    )
    assert trainable == keras_trainable
    assert trainable + moving == keras_total


@pytest.mark.parametrize(
    ("padding", "spatial"),
    [
        ("valid", (46, 46, 46)),
        ("valid", (50, 61, 47)),
        ("same", (16, 16, 16)),
        ("same", (32, 64, 64)),
    ],
)
def test_output_is_one_logit_per_volume(padding, spatial):
    model = tiny(padding=padding).eval()
    with torch.no_grad():
        output = model(torch.rand(2, 1, *spatial))
    assert output.shape == (2, 1)
    assert torch.isfinite(output).all()


def test_num_outputs_and_in_channels():
    model = tiny(in_channels=2, num_outputs=3).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 2, 46, 46, 46)).shape == (1, 3)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_documented_layers_have_the_documented_shapes(padding):
    model = tiny(padding=padding).eval()
    spatial = (48, 50, 53) if padding == "valid" else (16, 24, 40)
    expected: dict[str, tuple[int, ...]] = {}
    sizes = spatial
    for index, filters in enumerate([4, 4, 8, 16], start=1):
        convolved = tuple(stage(size, padding)[0] for size in sizes)
        sizes = tuple(stage(size, padding)[1] for size in sizes)
        expected[f"block{index}.conv"] = (1, filters, *convolved)
        expected[f"block{index}.activation"] = (1, filters, *convolved)
        expected[f"block{index}"] = (1, filters, *sizes)
    seen = {}
    for name in expected:
        model.get_submodule(name).register_forward_hook(
            lambda module, inputs, output, name=name: seen.__setitem__(name, tuple(output.shape))
        )
    with torch.no_grad():
        model(torch.rand(1, 1, *spatial))
    assert seen == expected
    assert model.cam_layer == "block4.activation"
    assert isinstance(model.get_submodule("block4.conv"), nn.Conv3d)


def test_minimum_input_sizes():
    assert minimum_input_size("valid") == 46
    assert minimum_input_size("same") == 16
    with pytest.raises(ValueError, match="padding"):
        minimum_input_size("causal")


@pytest.mark.parametrize("axis", [2, 3, 4])
def test_one_voxel_below_the_minimum_is_rejected_on_every_axis(axis):
    model = tiny().eval()
    shape = [1, 1, 46, 46, 46]
    shape[axis] = 45
    with pytest.raises(ValueError, match=r">= 46.*got shape \(1, 1, "):
        model(torch.rand(*shape))


@pytest.mark.parametrize("shape", [(1, 46, 46, 46), (1, 2, 46, 46, 46), (1, 1, 1, 46, 46, 46), (1, 1, 46, 46)])
def test_wrong_shape_or_channels_names_expected_and_received_shape(shape):
    model = tiny().eval()
    with pytest.raises(ValueError) as raised:
        model(torch.rand(*shape))
    message = str(raised.value)
    assert "(N, C, D, H, W)" in message
    assert "C=1" in message
    assert str(tuple(shape)) in message


def test_batch_norm_follows_keras_conventions():
    norms = [module for module in tiny().modules() if isinstance(module, nn.BatchNorm3d)]
    assert len(norms) == 4
    assert all(norm.eps == 1e-3 and norm.momentum == 0.01 for norm in norms)


def test_keras_initialisation_zero_biases():
    model = tiny()
    for module in model.modules():
        if isinstance(module, (nn.Conv3d, nn.Linear)):
            assert torch.count_nonzero(module.bias) == 0


def test_width_scales_filters_and_dense_units():
    model = build("cnn3d", width=0.5)
    assert [model.get_submodule(f"block{i}.conv").out_channels for i in range(1, 5)] == [
        32,
        32,
        64,
        128,
    ]
    assert model.classifier.dense.out_features == 256
    smallest = build("cnn3d", width=0.001)
    assert smallest.block1.conv.out_channels == 1
    with pytest.raises(ValueError, match="width"):
        build("cnn3d", width=0)


def test_same_seed_same_weights():
    first, second = tiny().state_dict(), tiny().state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_one_optimiser_step_lowers_the_loss():
    model = tiny(dropout=0.0, padding="same").train()
    torch.manual_seed(1)
    volumes = torch.rand(4, 1, 16, 16, 16)
    labels = torch.tensor([[0.0], [1.0], [0.0], [1.0]])
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_function = nn.BCEWithLogitsLoss()
    before = loss_function(model(volumes), labels)
    optimiser.zero_grad()
    before.backward()
    optimiser.step()
    with torch.no_grad():
        after = loss_function(model(volumes), labels)
    assert after < before


def test_direct_construction_matches_build():
    assert isinstance(tiny(), CNN3D)
