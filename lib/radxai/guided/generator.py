"""Differentiable heatmap generators: guided backpropagation and DeconvNet inside the training graph.

The eye-gaze heatmap-generator work trains a U-Net so that a generator heatmap (the input
gradient of a class score under a modified ReLU backward rule) matches a radiologist's gaze
heatmap. For such a loss to train the weights, the heatmap must itself be differentiable with
respect to the weights: it is computed with ``torch.autograd.grad(..., create_graph=True)``,
and the loss's ``backward`` then differentiates through that gradient computation (double
backpropagation).

The backward rules are those of `radxai.explain.gradients` (and `radxai.explain.capture`):

- ``"guided_backprop"`` (Springenberg et al. 2015): a ReLU passes back only positive
  gradients, and only where its forward input was positive;
- ``"deconvnet"`` (Zeiler & Fergus 2014): a ReLU passes back the positive part of the incoming
  gradient, whatever its forward input.

The explanation engine changes the rule with backward hooks, which do not take part in a
second differentiation; here every ``nn.ReLU`` is swapped for an autograd function whose
backward is written in differentiable torch operations, so the modified gradient keeps its
graph. Only ``nn.ReLU`` modules are affected (not ``torch.relu`` called inside a forward).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from radxai.explain.targets import logits_of

__all__ = ["GENERATORS", "check_generator", "relu_rule", "generator_gradients", "generator_heatmap"]

GENERATORS: tuple[str, ...] = ("guided_backprop", "deconvnet")


class _GuidedReLU(torch.autograd.Function):
    """ReLU whose backward passes max(gradient, 0) where the input was positive."""

    @staticmethod
    def forward(ctx: Any, inputs: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(inputs)
        return inputs.clamp(min=0)

    @staticmethod
    def backward(ctx: Any, gradient: torch.Tensor) -> torch.Tensor:
        (inputs,) = ctx.saved_tensors
        return gradient.clamp(min=0) * (inputs > 0).to(gradient.dtype)


class _DeconvNetReLU(torch.autograd.Function):
    """ReLU whose backward passes max(gradient, 0) whatever the input was."""

    @staticmethod
    def forward(ctx: Any, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.clamp(min=0)

    @staticmethod
    def backward(ctx: Any, gradient: torch.Tensor) -> torch.Tensor:
        return gradient.clamp(min=0)


_RULES = {"guided_backprop": _GuidedReLU, "deconvnet": _DeconvNetReLU}


def check_generator(generator: str) -> str:
    """Return ``generator`` if it names a generator of `GENERATORS`; else ValueError listing them."""
    if generator not in _RULES:
        raise ValueError(f"unknown heatmap generator {generator!r}; generators: {', '.join(GENERATORS)}")
    return generator


@contextmanager
def relu_rule(model: nn.Module, generator: str) -> Iterator[int]:
    """Within the block, every ``nn.ReLU`` of ``model`` back-propagates by ``generator``'s rule.

    The forward values are unchanged. Yields the number of ReLU modules changed; the hooks are
    removed on exit, also when the block raises. Raises ValueError for an unknown generator, a
    model without ``nn.ReLU`` modules (the rule would silently change nothing) or an in-place
    ReLU (its input is overwritten before the rule could read it).
    """
    rule = _RULES[check_generator(generator)]
    relus = [module for module in model.modules() if isinstance(module, nn.ReLU)]
    if not relus:
        raise ValueError(f"the {generator} generator acts on nn.ReLU modules, and {type(model).__name__} has none")
    in_place = [name for name, module in model.named_modules() if isinstance(module, nn.ReLU) and module.inplace]
    if in_place:
        raise ValueError(f"the {generator} generator needs ReLUs that are not in-place; in-place: {in_place}")

    def replace(module: nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
        return rule.apply(args[0])

    handles = [relu.register_forward_hook(replace) for relu in relus]
    try:
        yield len(relus)
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def _batch_norm_on_running_statistics(model: nn.Module) -> Iterator[None]:
    """Batch-norm layers normalise by their running statistics (eval mode) within the block and
    get their own mode back on exit; nothing else of the model changes mode."""
    layers = [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    modes = [layer.training for layer in layers]
    for layer in layers:
        layer.eval()
    try:
        yield
    finally:
        for layer, training in zip(layers, modes):
            layer.train(training)


def _class_weights(targets: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """(N, K) weights of the logits in the explained score, from class indices or weights."""
    batch_size, classes = logits.shape
    if targets.ndim == 1 and not targets.is_floating_point():
        if targets.shape[0] != batch_size or targets.min() < 0 or targets.max() >= classes:
            raise ValueError(
                f"class-index targets must be (N,) = ({batch_size},) integers in [0, {classes}); "
                f"got shape {tuple(targets.shape)} with values {targets.tolist()}"
            )
        return nn.functional.one_hot(targets, classes).to(logits.dtype)
    if tuple(targets.shape) != (batch_size, classes):
        raise ValueError(
            f"targets must be (N,) class indices or (N, K) = ({batch_size}, {classes}) class weights; "
            f"got shape {tuple(targets.shape)}"
        )
    return targets.to(logits.dtype)


def generator_gradients(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    generator: str = "guided_backprop",
    create_graph: bool = True,
) -> torch.Tensor:
    """The generator's input gradient dS/dx, (N, C, *spatial), by one extra forward pass.

    inputs: (N, C, *spatial). targets: (N,) integer classes, or (N, K) weights w with
    S_n = sum_k w_nk * logit_nk (multi-hot labels explain the sum of a sample's positive
    logits). Batch-norm layers use their running statistics in this pass, whatever the
    model's mode (dropout keeps it): a sample's heatmap then depends on that sample alone, as at
    explanation time, the running statistics are not updated twice per step, and the heatmap's
    derivative with respect to the weights is exact. With batch statistics it is not: the
    second-order terms through the statistics would differentiate the forward activations by
    the modified ReLU rule instead of the ReLU's derivative.
    create_graph=True keeps the graph of the gradient, so that a loss on it trains the weights.
    """
    check_generator(generator)
    if not isinstance(inputs, torch.Tensor) or inputs.ndim < 3:
        raise ValueError(f"inputs must be a tensor (N, C, *spatial); got {getattr(inputs, 'shape', type(inputs))}")
    # A leaf of its own, so the heatmap is d score / d input and not tied to the caller's graph.
    inputs = inputs.detach().requires_grad_(True)
    with relu_rule(model, generator), _batch_norm_on_running_statistics(model), torch.enable_grad():
        logits = logits_of(model(inputs))
        if logits.ndim == 1:
            logits = logits[:, None]
        score = (logits * _class_weights(targets, logits)).sum()
        (gradient,) = torch.autograd.grad(score, inputs, create_graph=create_graph)
    return gradient


def generator_heatmap(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    generator: str = "guided_backprop",
    create_graph: bool = True,
) -> torch.Tensor:
    """The generator heatmap (N, *spatial) in [0, 1], differentiable w.r.t. the weights.

    Per pixel, the gradient magnitude of the strongest channel (max over channels of
    |dS/dx|, as `radxai.explain.gradients` does for guided backpropagation and DeconvNet),
    divided by the sample's largest magnitude, so the brightest pixel is 1; an all-zero
    gradient gives an all-zero heatmap, never NaN. Arguments as `generator_gradients`.
    """
    gradient = generator_gradients(model, inputs, targets, generator, create_graph)
    magnitude = gradient.abs().amax(dim=1)
    peak = magnitude.flatten(1).amax(dim=1).reshape(-1, *([1] * (magnitude.ndim - 1)))
    return magnitude / peak.clamp_min(torch.finfo(magnitude.dtype).tiny)
