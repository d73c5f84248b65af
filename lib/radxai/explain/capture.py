"""Capturing a torch model's layer for an explanation, with hooks that are always removed.

Three context managers, each restoring the model exactly on exit, also when the body raises:

- `explanation_mode(model)`: eval mode (dropout off, batch norm on its running statistics, so
  samples of a batch do not interact) and every parameter's ``requires_grad`` off, so that a
  backward pass computes no weight gradients and records no graph below the first tensor
  that asks for one. The training flag of every submodule and ``requires_grad`` of every
  parameter are restored one by one afterwards.
- `capture_layer(model, name, start_graph)`: a forward hook on one layer that keeps its
  output. With ``start_graph`` the output is replaced by a fresh leaf tensor that requires
  grad, so the autograd graph of the forward pass starts at the layer: a backward from the
  score stops there (the performance contract of a CAM: one forward, plus a backward down to
  the layer only).
- `relu_backward_rule(model, rule)`: backward hooks on every ``nn.ReLU`` module giving guided
  backpropagation or DeconvNet gradients.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

__all__ = ["LayerRecorder", "explanation_mode", "capture_layer", "relu_backward_rule", "ReluRule"]

ReluRule = Literal["plain", "guided", "deconvnet"]


@contextmanager
def explanation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put `model` in eval mode with frozen parameters; restore both exactly on exit.

    Yields the model. Restoring is per submodule and per parameter, so a model that was
    partly in eval mode or partly frozen before comes back the same.
    """
    training = [(module, module.training) for module in model.modules()]
    requires_grad = [(parameter, parameter.requires_grad) for parameter in model.parameters()]
    try:
        model.eval()
        for parameter, _ in requires_grad:
            parameter.requires_grad_(False)
        yield model
    finally:
        for module, flag in training:
            module.training = flag
        for parameter, flag in requires_grad:
            parameter.requires_grad_(flag)


@dataclass
class LayerRecorder:
    """What a `capture_layer` hook saw during one forward pass.

    activation: the layer's output, (N, F, *s) for a spatial layer; with start_graph a leaf
        tensor requiring grad (differentiate the score with respect to it). None if the
        layer did not run or did not return a tensor.
    calls: how many times the layer ran (more than once makes the capture ambiguous).
    output_kind: the type name of what the layer returned, for error messages.
    """

    activation: torch.Tensor | None = None
    calls: int = 0
    output_kind: str = ""


@contextmanager
def capture_layer(model: nn.Module, name: str, start_graph: bool) -> Iterator[LayerRecorder]:
    """Record the output of the submodule `name` (a key of ``model.named_modules()``).

    start_graph: replace the output by a leaf tensor requiring grad, so that the forward
        pass records autograd history from this layer on only. The rest of the model receives
        a clone of that leaf: a later in-place operation then changes the clone, never the
        recorded activation, and autograd accepts it (it refuses in-place changes of a leaf).
    Yields a `LayerRecorder`; the hook is removed on exit, also when the body raises.
    Raises KeyError if `name` is not a submodule (callers check names first).
    """
    layer = model.get_submodule(name)
    recorder = LayerRecorder()

    def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
        recorder.calls += 1
        recorder.output_kind = type(output).__name__
        if not isinstance(output, torch.Tensor):
            return None
        activation = output.detach()
        if start_graph:
            activation.requires_grad_(True)
        recorder.activation = activation
        return activation.clone()

    handle = layer.register_forward_hook(hook)
    try:
        yield recorder
    finally:
        handle.remove()


@contextmanager
def relu_backward_rule(model: nn.Module, rule: ReluRule) -> Iterator[int]:
    """Change how the gradient passes the model's ``nn.ReLU`` modules, for this block only.

    rule: "plain" leaves the gradient alone; "guided" (guided backpropagation, Springenberg
        et al. 2015) passes only positive gradients where the ReLU input was positive;
        "deconvnet" (Zeiler & Fergus 2014) passes the positive part of the incoming gradient
        whatever the input was.
    Yields the number of ReLU modules changed. Only ``nn.ReLU`` modules are affected (not
    ``torch.relu`` called inside a forward), and they must not be in-place (ValueError naming
    them otherwise). The backward hooks are removed on exit, also when the body raises.
    """
    if rule not in ("plain", "guided", "deconvnet"):
        raise ValueError(f"relu rule must be 'plain', 'guided' or 'deconvnet', got {rule!r}")
    relus = [module for module in model.modules() if isinstance(module, nn.ReLU)]
    in_place = [name for name, module in model.named_modules() if isinstance(module, nn.ReLU) and module.inplace]
    if rule != "plain" and in_place:
        # A backward hook cannot see an in-place ReLU's input (the output overwrote it).
        raise ValueError(
            f"the {rule} rule needs ReLUs that are not in-place; {type(model).__name__} has "
            f"in-place ReLU module(s) {in_place}: build them with nn.ReLU(inplace=False)"
        )
    if rule == "plain":
        yield len(relus)
        return

    def guided(module: nn.Module, grad_input: Any, grad_output: Any) -> tuple[torch.Tensor]:
        # grad_input is already grad_output masked by (input > 0); keep its positive part.
        return (grad_input[0].clamp(min=0),)

    def deconvnet(module: nn.Module, grad_input: Any, grad_output: Any) -> tuple[torch.Tensor]:
        return (grad_output[0].clamp(min=0),)

    hook = guided if rule == "guided" else deconvnet
    handles = [relu.register_full_backward_hook(hook) for relu in relus]
    try:
        yield len(relus)
    finally:
        for handle in handles:
            handle.remove()
