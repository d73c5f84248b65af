"""Tests of radxai.guided.generator: differentiable guided backpropagation and DeconvNet heatmaps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from radxai import models
from radxai.explain import explain
from radxai.guided import generator


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )


def tiny_unet() -> nn.Module:
    torch.manual_seed(0)
    return models.build("unet_classifier", num_classes=3, depth=2, width=0.0625)


def images(count: int = 2) -> torch.Tensor:
    return torch.rand(count, 1, 16, 16, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", generator.GENERATORS)
def test_heatmap_has_a_gradient_with_respect_to_the_weights(name: str) -> None:
    model = tiny_unet()
    heatmap = generator.generator_heatmap(model, images(), torch.tensor([0, 2]), name)
    assert heatmap.shape == (2, 16, 16) and heatmap.requires_grad
    (heatmap * torch.linspace(0, 1, 16)).sum().backward()
    first = model.encoder["level0"].convs.conv1.weight.grad
    assert first is not None and torch.isfinite(first).all() and first.abs().sum() > 0


@pytest.mark.parametrize("name", generator.GENERATORS)
def test_gradients_follow_the_explanation_engines_definitions(name: str) -> None:
    model = small_cnn().eval()
    inputs = images()
    ours = generator.generator_gradients(model, inputs, torch.tensor([1, 2]), name, create_graph=False)
    engine = explain(model, inputs.numpy(), name, target=[1, 2])
    np.testing.assert_allclose(ours[:, 0].numpy(), engine.raw, rtol=1e-5, atol=1e-7)


def test_the_two_rules_and_the_plain_gradient_differ() -> None:
    model = small_cnn().eval()
    inputs = images()
    targets = torch.tensor([0, 1])
    guided = generator.generator_gradients(model, inputs, targets, "guided_backprop", create_graph=False)
    deconvnet = generator.generator_gradients(model, inputs, targets, "deconvnet", create_graph=False)
    plain_inputs = inputs.clone().requires_grad_(True)
    (plain,) = torch.autograd.grad(model(plain_inputs)[[0, 1], [0, 1]].sum(), plain_inputs)
    assert not torch.allclose(guided, deconvnet) and not torch.allclose(guided, plain)


def test_heatmap_is_normalised_and_targets_weigh_the_logits() -> None:
    model = small_cnn().eval()
    inputs = images()
    heatmap = generator.generator_heatmap(
        model, inputs, torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]), create_graph=False
    )
    assert heatmap.min() >= 0 and torch.allclose(heatmap.flatten(1).amax(dim=1), torch.ones(2))
    by_index = generator.generator_gradients(model, inputs, torch.tensor([0, 2]))
    one_hot = generator.generator_gradients(model, inputs, torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    doubled = generator.generator_gradients(model, inputs, torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 2.0]]))
    torch.testing.assert_close(one_hot, by_index)
    torch.testing.assert_close(doubled, 2 * by_index)
    zero = generator.generator_heatmap(model, inputs, torch.zeros(2, 3))
    assert torch.equal(zero, torch.zeros(2, 16, 16))


def test_without_graph_the_heatmap_is_a_constant() -> None:
    heatmap = generator.generator_heatmap(tiny_unet(), images(), torch.tensor([0, 1]), create_graph=False)
    assert not heatmap.requires_grad


def test_training_mode_leaves_running_statistics_modes_and_hooks_alone() -> None:
    model = small_cnn().train()
    norm = model[1]
    before = (norm.running_mean.clone(), norm.running_var.clone(), norm.num_batches_tracked.clone())
    generator.generator_heatmap(model, images(), torch.tensor([0, 1]))
    assert torch.equal(norm.running_mean, before[0]) and torch.equal(norm.running_var, before[1])
    assert torch.equal(norm.num_batches_tracked, before[2])
    assert all(module.training for module in model.modules())
    assert all(not module._forward_hooks for module in model.modules())
    inputs = images().requires_grad_(True)
    (plain,) = torch.autograd.grad(model(inputs)[:, 0].sum(), inputs)
    assert (plain < 0).any()  # the ordinary gradient is back: negative values pass the ReLUs


def batch_norm_after_relu() -> nn.Module:
    """float64, so that central differences resolve the second-order terms."""
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(2, 5, 1),
        nn.ReLU(),
        nn.BatchNorm2d(5),
        nn.Conv2d(5, 3, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(3, 2),
    ).double()
    model[2].running_mean.normal_(generator=torch.Generator().manual_seed(2))
    model[2].running_var.uniform_(0.5, 2.0, generator=torch.Generator().manual_seed(3))
    return model


@pytest.mark.parametrize("name", generator.GENERATORS)
@pytest.mark.parametrize("training", [False, True])
def test_the_weight_gradient_of_a_heatmap_loss_is_exact(name: str, training: bool) -> None:
    # Double backpropagation against central differences of the same function, in both modes:
    # in training mode a batch-statistics pass would get the second-order terms wrong.
    model = batch_norm_after_relu().train(training)
    source = torch.Generator().manual_seed(4)
    inputs = torch.randn(4, 2, 3, 3, generator=source, dtype=torch.float64)
    weights = torch.randn(4, 2, 3, 3, generator=source, dtype=torch.float64)
    targets = torch.tensor([0, 1, 1, 0])

    def loss(create_graph: bool) -> torch.Tensor:
        return (generator.generator_gradients(model, inputs, targets, name, create_graph) * weights).sum()

    parameter = model[0].weight
    (automatic,) = torch.autograd.grad(loss(True), parameter)
    numeric = torch.zeros_like(parameter)
    step = 1e-6
    with torch.no_grad():
        flat = parameter.view(-1)
        for index in range(flat.numel()):
            original = flat[index].item()
            flat[index] = original + step
            above = loss(False)
            flat[index] = original - step
            below = loss(False)
            flat[index] = original
            numeric.view(-1)[index] = (above - below) / (2 * step)
    assert numeric.abs().max() > 1e-3  # the loss does depend on these weights
    torch.testing.assert_close(automatic, numeric, rtol=1e-5, atol=1e-7)


def test_unknown_generator_lists_the_generators() -> None:
    with pytest.raises(ValueError, match="unknown heatmap generator 'gradcam'; generators: guided_backprop, deconvnet"):
        generator.generator_heatmap(small_cnn(), images(), torch.tensor([0, 1]), "gradcam")


def test_models_the_rules_cannot_change_are_rejected() -> None:
    linear = nn.Sequential(nn.Flatten(), nn.Linear(256, 3))
    with pytest.raises(ValueError, match="Sequential has none"):
        generator.generator_heatmap(linear, images(), torch.tensor([0, 1]))
    in_place = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(392, 3))
    with pytest.raises(ValueError, match=r"not in-place; in-place: \['1'\]"):
        generator.generator_heatmap(in_place, images(), torch.tensor([0, 1]))


def test_bad_targets_are_named() -> None:
    with pytest.raises(ValueError, match=r"\(N, K\) = \(2, 3\) class weights; got shape \(2, 2\)"):
        generator.generator_heatmap(small_cnn(), images(), torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"integers in \[0, 3\)"):
        generator.generator_heatmap(small_cnn(), images(), torch.tensor([0, 3]))
