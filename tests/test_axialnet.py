"""Tests of radxai.models.axialnet: AxialNet and BodyCAM of the HiResCAM work."""

import pytest
import torch
from torch import nn

from radxai.models import build
from radxai.models.axialnet import ResNetBackbone

SLICE_SIZE = (32, 24)
# 4, 8, 16 backbone channels and 4, 2, 1 conv_reduce filters: milliseconds per volume.
TINY = {"width": 0.0625, "blocks_per_stage": (1, 1, 1)}


def tiny(name: str, **arguments) -> nn.Module:
    torch.manual_seed(0)
    if name == "axialnet":
        arguments.setdefault("slice_size", SLICE_SIZE)
    return build(name, **{**TINY, **arguments})


def capture(model: nn.Module, layer: str, x: torch.Tensor, target: int = 0):
    """(activation, gradient of the target logit summed over the batch, logits) at `layer`."""
    captured = {}

    def hook(module, inputs, output):
        output.retain_grad()
        captured["activation"] = output

    handle = model.get_submodule(layer).register_forward_hook(hook)
    try:
        logits = model(x)
    finally:
        handle.remove()
    logits[:, target].sum().backward()
    activation = captured["activation"]
    return activation.detach(), activation.grad.detach(), logits.detach()


@pytest.mark.parametrize("name", ["axialnet", "bodycam"])
@pytest.mark.parametrize(("depth", "slices_per_group"), [(6, 1), (9, 3), (1, 1)])
@pytest.mark.parametrize("num_classes", [1, 4])
def test_output_shape(name, depth, slices_per_group, num_classes):
    model = tiny(name, num_classes=num_classes, slices_per_group=slices_per_group).eval()
    with torch.no_grad():
        output = model(torch.rand(2, 1, depth, *SLICE_SIZE))
    assert output.shape == (2, num_classes)


def test_bodycam_accepts_any_slice_size():
    model = tiny("bodycam").eval()
    with torch.no_grad():
        assert model(torch.rand(1, 1, 3, 20, 40)).shape == (1, 1)


@pytest.mark.parametrize("slices_per_group", [1, 3])
def test_per_slice_scores_average_to_the_output(slices_per_group):
    model = tiny("axialnet", num_classes=3, slices_per_group=slices_per_group).eval()
    volume = torch.rand(2, 1, 12, *SLICE_SIZE)
    with torch.no_grad():
        per_slice = model.forward_slices(volume)
        output = model(volume)
    assert per_slice.shape == (2, 12 // slices_per_group, 3)
    torch.testing.assert_close(per_slice.mean(dim=1), output)


@pytest.mark.parametrize("slices_per_group", [1, 3])
def test_slice_groups_are_adjacent_slices(slices_per_group):
    model = tiny("axialnet", slices_per_group=slices_per_group).eval()
    volume = torch.rand(1, 1, 9, *SLICE_SIZE)
    changed = volume.clone()
    # Slice 4 belongs to group 4 (one slice per group) or group 1 (slices 3-5).
    changed[:, :, 4] += 1.0
    with torch.no_grad():
        difference = (model.forward_slices(changed) - model.forward_slices(volume)).abs()[0, :, 0]
    touched = 4 // slices_per_group
    assert difference[touched] > 0
    assert torch.all(difference[torch.arange(len(difference)) != touched] == 0)


@pytest.mark.parametrize("name", ["axialnet", "bodycam"])
def test_hookable_layers_are_five_dimensional_feature_volumes(name):
    model = tiny(name, slices_per_group=3).eval()
    # Backbone: 16 channels at ceil(32 / 16) x ceil(24 / 16); conv_reduce: 4, 2, 1 filters.
    expected = {
        "slice_features": (2, 16, 4, 2, 2),
        "conv_reduce.conv1": (2, 4, 4, 2, 2),
        "conv_reduce.conv2": (2, 2, 4, 2, 2),
        "conv_reduce.conv3": (2, 1, 4, 2, 2),
    }
    seen = {}
    for layer in expected:
        model.get_submodule(layer).register_forward_hook(
            lambda module, inputs, output, layer=layer: seen.__setitem__(layer, tuple(output.shape))
        )
    with torch.no_grad():
        model(torch.rand(2, 1, 12, *SLICE_SIZE))
    assert seen == expected
    assert model.cam_layer == "conv_reduce.conv3"
    # Nothing but the head follows the explained layer: no ReLU after the last convolution.
    assert isinstance(list(model.conv_reduce.children())[-1], nn.Conv3d)


def test_slice_features_keep_each_slice_in_its_place():
    model = tiny("axialnet").eval()
    volume = torch.rand(2, 1, 5, *SLICE_SIZE)
    seen = {}
    model.slice_features.register_forward_hook(lambda module, inputs, output: seen.__setitem__("volume", output))
    with torch.no_grad():
        model(volume)
        # Slice 3 of sample 1 alone through the backbone must equal position [1, :, 3].
        alone = model.backbone(volume[1:2, :, 3])
    torch.testing.assert_close(seen["volume"][1, :, 3], alone[0])


def test_axialnet_hirescam_sums_to_the_score_minus_bias():
    model = tiny("axialnet", num_classes=2).eval()
    volume = torch.rand(1, 1, 4, *SLICE_SIZE)
    activation, gradient, logits = capture(model, model.cam_layer, volume, target=1)
    hirescam_total = (gradient * activation).sum()
    torch.testing.assert_close(hirescam_total, logits[0, 1] - model.classifier.bias[1].detach())


def test_bodycam_score_is_linear_weights_times_mean_activation_so_gradcam_equals_hirescam():
    model = tiny("bodycam", num_classes=2, width=0.25).eval()
    volume = torch.rand(1, 1, 6, *SLICE_SIZE)
    activation, gradient, logits = capture(model, model.cam_layer, volume, target=1)
    weight = model.classifier.weight[1].detach()
    bias = model.classifier.bias[1].detach()
    mean_activation = activation[0].flatten(1).mean(dim=1)
    torch.testing.assert_close((weight * mean_activation).sum(), logits[0, 1] - bias)
    # The gradient is the same at every position: weight / number of positions.
    positions = activation[0, 0].numel()
    expected_gradient = (weight / positions).view(-1, 1, 1, 1).expand_as(gradient[0])
    torch.testing.assert_close(gradient[0], expected_gradient)
    gradcam_weights = gradient[0].flatten(1).mean(dim=1)
    gradcam = (gradcam_weights.view(-1, 1, 1, 1) * activation[0]).sum(dim=0)
    hirescam = (gradient[0] * activation[0]).sum(dim=0)
    torch.testing.assert_close(gradcam, hirescam)


@pytest.mark.parametrize(
    ("name", "shape", "fragment"),
    [
        ("axialnet", (1, 4, *SLICE_SIZE), "(N, C, D, H, W)"),
        ("axialnet", (1, 2, 4, *SLICE_SIZE), "C=1"),
        ("axialnet", (1, 1, 4, 32, 32), "(32, 24)"),
        ("bodycam", (1, 1, 4, 32), "(N, C, D, H, W)"),
        ("bodycam", (1, 3, 4, 32, 32), "C=1"),
    ],
)
def test_wrong_shape_names_expected_and_received_shape(name, shape, fragment):
    model = tiny(name).eval()
    with pytest.raises(ValueError) as raised:
        model(torch.rand(*shape))
    message = str(raised.value)
    assert fragment in message
    assert str(tuple(shape)) in message


@pytest.mark.parametrize("name", ["axialnet", "bodycam"])
def test_depth_must_be_a_multiple_of_slices_per_group(name):
    model = tiny(name, slices_per_group=3).eval()
    with pytest.raises(ValueError, match=r"slices_per_group=3.*\(1, 1, 4, 32, 24\)"):
        model(torch.rand(1, 1, 4, *SLICE_SIZE))


def test_invalid_construction_arguments():
    with pytest.raises(ValueError, match="slices_per_group"):
        tiny("bodycam", slices_per_group=2)
    with pytest.raises(ValueError, match="slice_size"):
        tiny("axialnet", slice_size=(32,))
    with pytest.raises(ValueError, match="blocks_per_stage"):
        tiny("bodycam", blocks_per_stage=())


def test_backbone_default_is_resnet18_shaped():
    backbone = ResNetBackbone(in_channels=3, blocks_per_stage=(2, 2, 2, 2))
    assert backbone.out_channels == 512
    assert backbone.downsampling == 32
    assert backbone.output_size(420) == 14
    with torch.no_grad():
        assert backbone.eval()(torch.rand(1, 3, 70, 45)).shape == (1, 512, 3, 2)
    convolutions = [m for m in backbone.modules() if isinstance(m, nn.Conv2d)]
    # Stem + 8 blocks of two 3x3 convs + 3 projection shortcuts, as in ResNet-18.
    assert len(convolutions) == 1 + 16 + 3


@pytest.mark.parametrize("name", ["axialnet", "bodycam"])
def test_same_seed_same_weights(name):
    first, second = tiny(name).state_dict(), tiny(name).state_dict()
    assert all(torch.equal(first[key], second[key]) for key in first)


@pytest.mark.parametrize("name", ["axialnet", "bodycam"])
def test_one_optimiser_step_lowers_the_loss(name):
    model = tiny(name, num_classes=3).train()
    torch.manual_seed(1)
    volumes = torch.rand(2, 1, 4, *SLICE_SIZE)
    labels = (torch.rand(2, 3) > 0.5).float()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_function = nn.BCEWithLogitsLoss()
    before = loss_function(model(volumes), labels)
    optimiser.zero_grad()
    before.backward()
    optimiser.step()
    with torch.no_grad():
        after = loss_function(model(volumes), labels)
    assert after < before
