"""Channels-last convolution weights: `build` stores them so, and nothing but the layout changes."""

import pytest
import torch

from radxai.models import build, load, save
from radxai.models.memory_layout import store_channels_last

ARCHITECTURES = [
    ("cnn3d", {"width": 0.125, "padding": "same"}, (2, 1, 16, 16, 16)),
    ("cnn2d", {"width": 0.125, "num_outputs": 3}, (2, 1, 32, 32)),
    ("axialnet", {"slice_size": [32, 32], "width": 0.125, "blocks_per_stage": [1, 1, 1]}, (2, 1, 4, 32, 32)),
]


def _channels_first_copy(model: torch.nn.Module) -> torch.nn.Module:
    for parameter in model.parameters():
        parameter.data = torch.empty_like(parameter.data, memory_format=torch.contiguous_format).copy_(parameter.data)
    return model


@pytest.mark.parametrize("architecture, arguments, _shape", ARCHITECTURES)
def test_build_stores_every_convolution_weight_channels_last(architecture, arguments, _shape):
    model = build(architecture, **arguments)
    for name, parameter in model.named_parameters():
        if parameter.dim() == 5:
            assert parameter.is_contiguous(memory_format=torch.channels_last_3d), name
        if parameter.dim() >= 4:
            # The channel axis has the smallest stride, also for a one-input-channel weight,
            # whose strides are ambiguous to `is_contiguous`.
            assert parameter.stride()[1] == 1, (name, parameter.stride())


@pytest.mark.parametrize("architecture, arguments, shape", ARCHITECTURES)
def test_channels_last_gives_the_channels_first_outputs_and_gradients(architecture, arguments, shape):
    torch.manual_seed(0)
    fast = build(architecture, **arguments).eval()
    reference = _channels_first_copy(build(architecture, **arguments).eval())
    reference.load_state_dict(fast.state_dict())
    inputs = torch.rand(shape)
    fast_inputs, reference_inputs = inputs.clone().requires_grad_(), inputs.clone().requires_grad_()
    fast_output, reference_output = fast(fast_inputs), reference(reference_inputs)
    torch.testing.assert_close(fast_output, reference_output, rtol=1e-5, atol=1e-6)
    fast_output.sum().backward()
    reference_output.sum().backward()
    torch.testing.assert_close(fast_inputs.grad, reference_inputs.grad, rtol=1e-4, atol=1e-6)


def test_store_channels_last_keeps_values_and_returns_the_model():
    model = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3), torch.nn.Conv2d(4, 2, 3), torch.nn.Linear(3, 2))
    before = {name: value.clone() for name, value in model.state_dict().items()}
    assert store_channels_last(model) is model
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert model[0].weight.stride()[1] == 1 and model[1].weight.is_contiguous(memory_format=torch.channels_last)
    assert model[2].weight.is_contiguous()


def test_a_saved_channels_last_model_loads_channels_last_with_the_same_weights(tmp_path):
    model = build("cnn3d", width=0.125, padding="same")
    save(model, tmp_path / "model.pt", epoch=1)
    loaded = load(tmp_path / "model.pt")
    for (name, original), (_, restored) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(original, restored), name
        assert original.stride() == restored.stride(), name
