"""Tests of radxai.models.cnn2d: the VGG16-style separable-convolution X-ray classifier."""

import pytest
import torch
from torch import nn

from radxai.models import build
from radxai.models.cnn2d import SeparableConv2d

# 1/16 of the filters: 4, 8, 16, 32 filters and 64, 32 dense units.
TINY_WIDTH = 0.0625


def tiny(**arguments) -> nn.Module:
    torch.manual_seed(0)
    return build("cnn2d", width=TINY_WIDTH, **arguments)


@pytest.mark.parametrize("spatial", [(16, 16), (32, 48), (37, 21)])
@pytest.mark.parametrize("num_outputs", [1, 8])
def test_output_has_one_logit_per_output(spatial, num_outputs):
    model = tiny(num_outputs=num_outputs).eval()
    with torch.no_grad():
        output = model(torch.rand(3, 1, *spatial))
    assert output.shape == (3, num_outputs)
    assert torch.isfinite(output).all()


def test_three_channel_input():
    model = tiny(in_channels=3).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 32, 32)).shape == (1, 1)


def test_block_structure_two_plain_then_separable_with_batch_norm():
    model = tiny()
    for block in ("block1", "block2"):
        modules = list(model.get_submodule(block).modules())
        assert sum(isinstance(module, nn.Conv2d) for module in modules) == 2
        assert not any(isinstance(module, nn.BatchNorm2d) for module in modules)
    for block in ("block3", "block4"):
        children = dict(model.get_submodule(block).named_children())
        assert [name for name in children if name.startswith("conv")] == ["conv1", "conv2", "conv3"]
        assert all(isinstance(children[f"conv{j}"], SeparableConv2d) for j in (1, 2, 3))
        assert all(children[f"norm{j}"].eps == 1e-3 for j in (1, 2, 3))
        assert all(children[f"norm{j}"].momentum == 0.01 for j in (1, 2, 3))


def test_separable_convolution_is_depthwise_then_pointwise():
    convolution = SeparableConv2d(4, 6)
    assert convolution.depthwise.groups == 4
    assert convolution.depthwise.bias is None
    assert convolution.pointwise.kernel_size == (1, 1)
    parameters = sum(parameter.numel() for parameter in convolution.parameters())
    assert parameters == 4 * 9 + 4 * 6 + 6


def test_documented_layers_have_the_documented_shapes():
    model = tiny().eval()
    expected = {
        "block1.conv2": (1, 4, 64, 96),
        "block2.activation2": (1, 8, 32, 48),
        "block3.conv3.pointwise": (1, 16, 16, 24),
        "block4.activation3": (1, 32, 8, 12),
        "block4": (1, 32, 4, 6),
    }
    seen = {}
    for name in expected:
        model.get_submodule(name).register_forward_hook(
            lambda module, inputs, output, name=name: seen.__setitem__(name, tuple(output.shape))
        )
    with torch.no_grad():
        model(torch.rand(1, 1, 64, 96))
    assert seen == expected
    assert model.cam_layer == "block4.activation3"


@pytest.mark.parametrize("shape", [(1, 32, 32), (1, 3, 32, 32), (1, 1, 1, 32, 32), (1, 1, 15, 32), (1, 1, 32, 8)])
def test_wrong_shape_or_channels_names_expected_and_received_shape(shape):
    model = tiny().eval()
    with pytest.raises(ValueError) as raised:
        model(torch.rand(*shape))
    message = str(raised.value)
    assert "(N, C, H, W)" in message
    assert "C=1" in message
    assert ">= 16" in message
    assert str(tuple(shape)) in message


def test_parameter_count_at_width_one():
    filters = [64, 64, 128, 128]
    plain = sum(9 * cin * cout + cout for cin, cout in zip([1, *filters[:-1]], filters))
    separable_channels = [128, 256, 256, 256, 512, 512, 512]
    separable = sum(
        9 * cin + cin * cout + cout + 2 * cout for cin, cout in zip(separable_channels[:-1], separable_channels[1:])
    )
    head = 512 * 1024 + 1024 + 1024 * 512 + 512 + 512 + 1
    model = build("cnn2d")
    assert sum(parameter.numel() for parameter in model.parameters()) == plain + separable + head


def test_same_seed_same_weights():
    first, second = tiny().state_dict(), tiny().state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)


@pytest.mark.parametrize("num_outputs", [1, 8])
def test_one_optimiser_step_lowers_the_loss(num_outputs):
    model = tiny(num_outputs=num_outputs, dropout=(0.0, 0.0)).train()
    torch.manual_seed(1)
    images = torch.rand(4, 1, 32, 32)
    labels = (torch.rand(4, num_outputs) > 0.5).float()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_function = nn.BCEWithLogitsLoss()
    before = loss_function(model(images), labels)
    optimiser.zero_grad()
    before.backward()
    optimiser.step()
    with torch.no_grad():
        after = loss_function(model(images), labels)
    assert after < before
