"""The PyTorch backend: runs a ``torch.nn.Module`` for the explanation methods.

Every operation runs inside `radxai.explain.capture.explanation_mode` (eval mode, parameters
frozen, both restored afterwards), so no weight gradient is ever computed and samples of a
batch never interact: one forward and one backward pass explain N samples for N different
targets, since the gradient of the summed scores is each sample's own gradient.

Layers. A layer is a name from ``model.named_modules()`` whose output for the input is
(N, F, *s) with as many spatial axes as the input. ``layer=None`` means the model's
``cam_layer`` attribute if it has one, else the layer found by a dry run (one forward pass of
the first sample, counted as one model evaluation and remembered per model and input shape):
the module whose spatial output was produced last in the forward pass, where "spatial" means
(N, F, *s) with the input's number of spatial axes and not every axis of size 1 (a global
pooling output is not a map). Of nested modules returning the same tensor (a block and its
last layer) the outermost one finishes last and is chosen.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import torch
from torch import nn

from radxai.explain.backends import InputGradients, LayerCapture, Scored
from radxai.explain.backends.named_layers import NamedLayers, check_callable_scores, check_logits
from radxai.explain.capture import (
    LayerRecorder,
    ReluRule,
    capture_layer,
    explanation_mode,
    relu_backward_rule,
)
from radxai.explain.engines import ForwardEngine
from radxai.explain.targets import Targets, TargetSpec, logits_of, resolve_targets

__all__ = ["TorchBackend", "make_backend"]

_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
# Default layers found by dry runs: model -> {input shape without N: layer name}. Weak keys,
# so the cache never keeps a model alive.
_DEFAULT_LAYERS: weakref.WeakKeyDictionary[nn.Module, dict[tuple[int, ...], str]] = weakref.WeakKeyDictionary()


def make_backend(model: nn.Module, engine: str | None = None) -> TorchBackend:
    """The backend for a torch model (the entry point `detect_backend` looks for); ``engine``
    runs its forward-only passes (see `radxai.explain.engines`)."""
    return TorchBackend(model, engine)


class TorchBackend(NamedLayers):
    """Explains one ``nn.Module``; see the module docstring. `evaluations` counts samples run.

    ``engine`` runs the forward-only passes of `scores` ("auto", "torch" or "onnxruntime"; None:
    `radxai.explain.engines.default_engine`); passes with gradients always run in PyTorch.
    """

    ACTIVATION_LAYOUT = "(N, F, *s)"

    def __init__(self, model: nn.Module, engine: str | None = None) -> None:
        self.model = model
        self.forward_engine = ForwardEngine(model, engine)
        self.evaluations = 0
        tensors = [*model.parameters(), *model.buffers()]
        floating = [tensor for tensor in tensors if tensor.is_floating_point()]
        self.device = floating[0].device if floating else torch.device("cpu")
        self.dtype = floating[0].dtype if floating else torch.float32

    # ------------------------------------------------------------------ the Backend protocol

    def scores(self, x: np.ndarray, target: TargetSpec) -> Scored:
        """Target scores (N,) of x (N, C, *spatial), by one forward pass without autograd, run
        by the backend's engine."""
        with explanation_mode(self.model), torch.no_grad():
            self.evaluations += len(x)
            output = self.forward_engine(self._tensor(x), self.model)
            scores, targets = self._target_scores(output, target, len(x))
        return Scored(_numpy(scores), targets)

    def layer_capture(self, x: np.ndarray, target: TargetSpec, layer: str | None, gradients: bool) -> LayerCapture:
        """Activations A (N, F, *s) of `layer` and, if `gradients`, dS/dA.

        With gradients, autograd records the forward pass from the layer on only and the
        backward pass stops at the layer: the cost is one forward pass plus a backward
        through the layers above `layer`, without weight gradients.
        """
        name = self.resolve_layer(layer, x)
        inputs = self._tensor(x)
        with (
            explanation_mode(self.model),
            capture_layer(self.model, name, start_graph=gradients) as recorder,
            torch.set_grad_enabled(gradients),
        ):
            output = self._forward(inputs)
            activation = self._captured_activation(recorder, name, x)
            scores, targets = self._target_scores(output, target, len(x))
            gradient = _gradient(scores, activation, f"layer {name!r}") if gradients else None
        return LayerCapture(
            activations=_numpy(activation),
            gradients=None if gradient is None else _numpy(gradient),
            scores=_numpy(scores),
            targets=targets,
            layer=name,
        )

    def input_gradients(self, x: np.ndarray, target: TargetSpec, relu_rule: ReluRule = "plain") -> InputGradients:
        """dS/dx (N, C, *spatial) by one forward and one backward pass.

        relu_rule "guided" or "deconvnet" changes the backward pass through the model's
        ``nn.ReLU`` modules (see `radxai.explain.capture.relu_backward_rule`); a model without
        any raises ValueError, since the rule would silently change nothing.
        """
        inputs = self._tensor(x).requires_grad_(True)
        with (
            explanation_mode(self.model),
            relu_backward_rule(self.model, relu_rule) as relu_count,
            torch.enable_grad(),
        ):
            if relu_rule != "plain" and relu_count == 0:
                raise ValueError(
                    f"the {relu_rule} backward rule acts on nn.ReLU modules, and {type(self.model).__name__} has none"
                )
            output = self._forward(inputs)
            scores, targets = self._target_scores(output, target, len(x))
            gradient = _gradient(scores, inputs, "the input")
        return InputGradients(_numpy(gradient), _numpy(scores), targets)

    # ------------------------------------------------------------------ layers

    def _layer_names(self) -> set[str]:
        return {name for name, _ in self.model.named_modules() if name}

    def _model_description(self) -> str:
        return type(self.model).__name__

    def spatial_layers(self, x: np.ndarray) -> list[str]:
        """Names of the layers whose output for x is (N, F, *s) with x's spatial axes, not all
        of size 1, in the order the forward pass finishes them. One dry run of x[:1]."""
        probe = x[:1]
        finished: list[str] = []

        def recorder(name: str) -> Any:
            def hook(module: nn.Module, inputs: Any, output: Any) -> None:
                if (
                    isinstance(output, torch.Tensor)
                    and output.ndim == probe.ndim
                    and output.shape[0] == 1
                    and any(size > 1 for size in output.shape[2:])
                ):
                    finished.append(name)

            return hook

        handles = [module.register_forward_hook(recorder(name)) for name, module in self.model.named_modules() if name]
        try:
            with explanation_mode(self.model), torch.no_grad():
                self._forward(self._tensor(probe))
        finally:
            for handle in handles:
                handle.remove()
        # A module run twice is listed where it last finished.
        return list(reversed(dict.fromkeys(reversed(finished))))

    def _last_spatial_layer(self, x: np.ndarray) -> str:
        shape = tuple(x.shape[1:])
        cached = _DEFAULT_LAYERS.get(self.model, {}).get(shape)
        # A model edited since the dry run (a block replaced or deleted) may lack the cached layer.
        if cached is not None and cached in dict(self.model.named_modules()):
            return cached
        candidates = self.spatial_layers(x)
        if not candidates:
            raise self._no_spatial_layer(x)
        _DEFAULT_LAYERS.setdefault(self.model, {})[shape] = candidates[-1]
        return candidates[-1]

    def _layer_listing(self, x: np.ndarray) -> str:
        """Spatial layers for the error messages; falls back to the convolutions (found
        without running the model) when the dry run itself fails, e.g. on a wrong input."""
        try:
            names = self.spatial_layers(x)
        except Exception:  # any failure: this only chooses what to list in another error
            names = [name for name, module in self.model.named_modules() if isinstance(module, _CONVOLUTIONS)]
        return ", ".join(names) or "none"

    def _captured_activation(self, recorder: LayerRecorder, name: str, x: np.ndarray) -> torch.Tensor:
        """The recorded (N, F, *s) output of `name`, or ValueError saying what went wrong."""
        activation = recorder.activation
        shape = None if activation is None else tuple(activation.shape)
        self._check_recorded_output(name, recorder.calls, shape, recorder.output_kind, x)
        return activation

    # ------------------------------------------------------------------ running the model

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x)).to(device=self.device, dtype=self.dtype)

    def _forward(self, inputs: torch.Tensor) -> Any:
        self.evaluations += len(inputs)
        return self.model(inputs)

    def _target_scores(self, output: Any, target: TargetSpec, batch_size: int) -> tuple[torch.Tensor, Targets]:
        """(N,) target scores as a tensor (connected to the graph if any) and the targets."""
        if callable(target) or isinstance(target, Targets):
            targets = resolve_targets(target, None, batch_size)
        else:
            targets = resolve_targets(target, _numpy(_logits(output, batch_size)), batch_size)
        if targets.function is not None:
            scores = targets.function(output)
            check_callable_scores(scores, isinstance(scores, torch.Tensor), batch_size)
            return scores, targets
        logits = _logits(output, batch_size).reshape(batch_size, -1)
        assert targets.columns is not None and targets.signs is not None
        columns = torch.as_tensor(targets.columns, device=logits.device)
        signs = torch.as_tensor(targets.signs, dtype=logits.dtype, device=logits.device)
        return logits.gather(1, columns[:, None])[:, 0] * signs, targets


def _logits(output: Any, batch_size: int) -> torch.Tensor:
    """The (N,) or (N, K) logits of a model output, or ValueError describing the output."""
    logits = logits_of(output)
    check_logits(output, logits, isinstance(logits, torch.Tensor), batch_size)
    return logits


def _gradient(scores: torch.Tensor, source: torch.Tensor, what: str) -> torch.Tensor:
    """d(sum of scores)/d(source): each sample's own gradient, as samples do not interact."""
    gradient = None
    if scores.requires_grad:
        (gradient,) = torch.autograd.grad(scores.sum(), source, allow_unused=True)
    if gradient is None:
        raise ValueError(f"the target scores do not depend on {what}: it is not on the model's path to the scores")
    return gradient


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()
