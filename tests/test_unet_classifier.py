"""Tests of radxai.models.unet_classifier: U-Net with a classification head."""

import pytest
import torch
from torch import nn

from radxai.models import UNetOutput, build

# 4, 8, 16, 32, 64 filters.
TINY_WIDTH = 0.0625


def tiny(**arguments) -> nn.Module:
    torch.manual_seed(0)
    return build("unet_classifier", width=TINY_WIDTH, **arguments)


@pytest.mark.parametrize(("depth", "spatial"), [(4, (16, 16)), (4, (32, 48)), (3, (8, 24)), (3, (40, 16))])
def test_2d_outputs_logits_and_mask_at_input_resolution(depth, spatial):
    model = tiny(depth=depth, num_classes=3).eval()
    with torch.no_grad():
        output = model(torch.rand(2, 1, *spatial))
    assert isinstance(output, UNetOutput)
    logits, mask_logits = output
    assert logits.shape == (2, 3)
    assert mask_logits.shape == (2, 1, *spatial)


def test_3d_variant():
    model = tiny(depth=2, spatial_dims=3, num_classes=2, in_channels=2).eval()
    with torch.no_grad():
        output = model(torch.rand(1, 2, 8, 12, 4))
    assert output.logits.shape == (1, 2)
    assert output.mask_logits.shape == (1, 1, 8, 12, 4)


def test_documented_layers_have_the_documented_shapes():
    model = tiny(depth=3).eval()
    expected = {
        "encoder.level0": (1, 4, 32, 16),
        "encoder.level2": (1, 16, 8, 4),
        "bottleneck": (1, 32, 4, 2),
        "decoder.level2": (1, 16, 8, 4),
        "decoder.level0": (1, 4, 32, 16),
        "mask_head": (1, 1, 32, 16),
    }
    seen = {}
    for name in expected:
        model.get_submodule(name).register_forward_hook(
            lambda module, inputs, output, name=name: seen.__setitem__(name, tuple(output.shape))
        )
    with torch.no_grad():
        model(torch.rand(1, 1, 32, 16))
    assert seen == expected
    assert model.cam_layer == "bottleneck"


def test_classification_reads_only_the_pooled_bottleneck():
    model = tiny(depth=3, num_classes=2).eval()
    captured = {}

    def hook(module, inputs, output):
        output.retain_grad()
        captured["activation"] = output

    model.bottleneck.register_forward_hook(hook)
    output = model(torch.rand(1, 1, 16, 16))
    output.logits[0, 1].backward()
    activation = captured["activation"].detach()[0]
    weight, bias = model.classifier.weight[1].detach(), model.classifier.bias[1].detach()
    torch.testing.assert_close((weight * activation.flatten(1).mean(dim=1)).sum(), output.logits[0, 1].detach() - bias)


@pytest.mark.parametrize("spatial", [(20, 16), (16, 24), (8, 8)])
def test_sizes_not_divisible_by_two_to_the_depth_name_the_multiple(spatial):
    model = tiny(depth=4).eval()
    with pytest.raises(ValueError) as raised:
        model(torch.rand(1, 1, *spatial))
    assert "divisible by 16" in str(raised.value)
    assert str((1, 1, *spatial)) in str(raised.value)


@pytest.mark.parametrize("shape", [(1, 16, 16), (1, 2, 16, 16), (1, 1, 16, 16, 16)])
def test_wrong_shape_or_channels_names_expected_and_received_shape(shape):
    model = tiny().eval()
    with pytest.raises(ValueError) as raised:
        model(torch.rand(*shape))
    assert "(N, C, H, W)" in str(raised.value)
    assert str(tuple(shape)) in str(raised.value)


def test_invalid_construction_arguments():
    with pytest.raises(ValueError, match="spatial_dims"):
        tiny(spatial_dims=1)
    with pytest.raises(ValueError, match="depth"):
        tiny(depth=0)


def test_same_seed_same_weights():
    first, second = tiny().state_dict(), tiny().state_dict()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_one_optimiser_step_lowers_the_joint_loss():
    model = tiny(depth=3, num_classes=3).train()
    torch.manual_seed(1)
    images = torch.rand(4, 1, 16, 16)
    labels = (torch.rand(4, 3) > 0.5).float()
    gaze_heatmaps = torch.rand(4, 1, 16, 16)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_function = nn.BCEWithLogitsLoss()

    def joint_loss() -> torch.Tensor:
        output = model(images)
        return loss_function(output.logits, labels) + loss_function(output.mask_logits, gaze_heatmaps)

    before = joint_loss()
    optimiser.zero_grad()
    before.backward()
    optimiser.step()
    with torch.no_grad():
        after = joint_loss()
    assert after < before
