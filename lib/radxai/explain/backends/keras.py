"""The Keras backend: runs a Keras 3 model (TensorFlow backend) for the explanation methods.

Layout. The methods pass channel-first batches (N, C, *spatial); Keras convolutions are
channels last. This backend transposes the input to (N, *spatial, C) on the way in and the
activations and gradients back to (N, F, *s) and (N, C, *spatial) on the way out, so the numpy
methods are shared with the PyTorch backend unchanged, in 2D and 3D. A model with a
``channels_first`` layer is refused, as it would receive transposed data.

Running. Models run eagerly with ``training=False`` (dropout off, batch norm on its moving
statistics, so samples of a batch never interact): one forward and one backward pass explain N
samples for N different targets, since the gradient of the summed scores is each sample's own
gradient. Gradients come from a ``tf.GradientTape`` that watches only the tensor the gradient
is taken with respect to (the input, or the captured layer output), never the variables, so no
weight gradient is computed, and it works the same for frozen (non-trainable) layers.

Capturing a layer. For one forward pass, the layer's ``call`` is wrapped on the instance (and
unwrapped afterwards, also on errors): the wrapper counts the calls, keeps the output, and has
the tape watch it. The tape then records the forward pass from the layer on only, and the
backward pass stops at the layer: one forward pass plus a backward pass through the layers above
it, like the torch backend's capture hook. Unlike a model split at the layer, this also works
when a skip connection passes the layer, and it adds nothing to the model's graph.

Layers. A layer is the name of one of the model's layers (``model.get_layer``; the input
layer excluded). ``layer=None`` means the model's ``cam_layer`` attribute if it has one, else
the last layer with a spatial output: shape (N, *s, F) with the input's number of spatial axes
and not every spatial size 1 (a pooled 1x1x1 map is not a map). Shapes are read from the
model's graph, where an unknown size counts as spatial, so no dry run is needed; a subclassed
model has no graph to read them from, so name its layer. For `build_keras_cnn3d` on small
volumes with "same" padding the default is ``block4_conv`` (`KERAS_CAM_LAYER`, whose Conv3D
includes the ReLU); on volumes large enough that the pooled ``block4_norm`` is still a map,
that layer comes last, so pass ``layer=KERAS_CAM_LAYER`` (or set ``model.cam_layer``) for the
source work's layer.

Gradients are TensorFlow's. Where they differ from torch's, explanations of twin models do
too: TensorFlow's CPU gradient of MaxPool3D gives the whole gradient to every value within
about 1e-5 of a window's maximum (torch gives it to one), which matters for windows of near
ties, such as all-zero windows of dead ReLUs (Grad-CAM weights, DeconvNet).

ReLU rules. "guided" and "deconvnet" replace, for one pass, the ReLU of every layer whose
``activation`` is Keras's relu (``activation="relu"`` in Conv, Dense and Activation layers)
and every ``keras.layers.ReLU`` with default arguments, at any depth, by a ReLU with the rule's
backward pass; the forward values do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, get_args

import numpy as np

from radxai.explain.backends import InputGradients, LayerCapture, Scored
from radxai.explain.backends.named_layers import NamedLayers, check_callable_scores, check_logits
from radxai.explain.capture import ReluRule
from radxai.explain.engines import KerasForwardEngine
from radxai.explain.targets import Targets, TargetSpec, logits_of, resolve_targets
from radxai.models.keras_backend import import_keras
from radxai.models.keras_cnn3d import to_channels_first, to_channels_last

# Through import_keras, so TensorFlow's quiet, deterministic settings apply if this module is
# the first to import it.
keras = import_keras()
import tensorflow as tf  # noqa: E402

__all__ = ["KerasBackend", "make_backend"]


def make_backend(model: keras.Model, engine: str | None = None) -> KerasBackend:
    """The backend for a Keras model (the entry point `detect_backend` looks for); ``engine``
    runs its forward-only passes (see `radxai.explain.engines`: "torch" there means the model's
    own framework, here Keras)."""
    return KerasBackend(model, engine)


class KerasBackend(NamedLayers):
    """Explains one Keras model; see the module docstring. `evaluations` counts samples run.

    ``engine`` runs the forward-only passes of `scores` (Keras, or the model exported to ONNX
    and run by ONNX Runtime, `radxai.explain.engines.KerasForwardEngine`); passes with
    gradients always run in Keras.
    """

    ACTIVATION_LAYOUT = "(N, *s, F)"

    def __init__(self, model: keras.Model, engine: str | None = None) -> None:
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"cannot explain a {type(model).__module__}.{type(model).__qualname__}: the "
                "Keras backend explains a keras.Model"
            )
        channels_first = [
            layer.name for layer in _all_layers(model) if getattr(layer, "data_format", None) == "channels_first"
        ]
        if channels_first:
            raise ValueError(
                f"layer {channels_first[0]!r} of {_describe(model)} is channels_first; the "
                "Keras backend feeds channels-last input (N, *spatial, C): build the model "
                "with data_format='channels_last'"
            )
        self.model = model
        self.evaluations = 0
        self.forward_engine = KerasForwardEngine(model, engine)

    # ------------------------------------------------------------------ the Backend protocol

    def scores(self, x: np.ndarray, target: TargetSpec) -> Scored:
        """Target scores (N,) of x (N, C, *spatial), by one forward pass without a tape, run by
        the backend's engine."""
        inputs = self._channels_last(x)
        self.evaluations += len(inputs)
        output = self.forward_engine(inputs, lambda batch: self.model(tf.convert_to_tensor(batch), training=False))
        if isinstance(output, np.ndarray):
            output = tf.convert_to_tensor(output)
        scores, targets = self._target_scores(output, target, len(x))
        return Scored(_numpy(scores), targets)

    def layer_capture(self, x: np.ndarray, target: TargetSpec, layer: str | None, gradients: bool) -> LayerCapture:
        """Activations A (N, F, *s) of `layer` and, if `gradients`, dS/dA (N, F, *s).

        One forward pass; with gradients the tape records from the layer on only and the
        backward pass stops there.
        """
        name = self.resolve_layer(layer, x)
        inputs = self._tensor(x)
        with (
            tf.GradientTape(watch_accessed_variables=False) as tape,
            _recording(self.model.get_layer(name), tape.watch if gradients else None) as recorder,
        ):
            output = self._forward(inputs)
            activation = self._captured_activation(recorder, name, x)
            scores, targets = self._target_scores(output, target, len(x))
        gradient = _gradient(tape, scores, activation, f"layer {name!r}") if gradients else None
        return LayerCapture(
            activations=_channels_first(activation),
            gradients=None if gradient is None else _channels_first(gradient),
            scores=_numpy(scores),
            targets=targets,
            layer=name,
        )

    def input_gradients(self, x: np.ndarray, target: TargetSpec, relu_rule: ReluRule = "plain") -> InputGradients:
        """dS/dx (N, C, *spatial) by one forward and one backward pass.

        relu_rule "guided" or "deconvnet" changes the backward pass through the model's ReLUs
        (see the module docstring); a model without any raises ValueError, since the rule
        would silently change nothing.
        """
        inputs = self._tensor(x)
        with _relu_backward_rule(self.model, relu_rule) as relu_count:
            if relu_rule != "plain" and relu_count == 0:
                raise ValueError(
                    f"the {relu_rule} backward rule acts on ReLU activations (layers with "
                    f"activation='relu', keras.layers.ReLU), and {_describe(self.model)} has none"
                )
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(inputs)
                output = self._forward(inputs)
                scores, targets = self._target_scores(output, target, len(x))
            gradient = _gradient(tape, scores, inputs, "the input")
        return InputGradients(_channels_first(gradient), _numpy(scores), targets)

    # ------------------------------------------------------------------ layers

    def _layer_names(self) -> set[str]:
        return {candidate.name for candidate in self._layers()}

    def _model_description(self) -> str:
        return _describe(self.model)

    def spatial_layers(self, x: np.ndarray) -> list[str]:
        """Names of the layers whose output for x (N, C, *spatial) is (N, *s, F) with x's
        spatial axes, not all of size 1, in the order of the model's graph."""
        spatial_axes = x.ndim - 2
        names = []
        for layer in self._layers():
            shape = _graph_output_shape(layer)
            if (
                shape is not None
                and len(shape) == spatial_axes + 2
                and any(size is None or size > 1 for size in shape[1:-1])
            ):
                names.append(layer.name)
        return names

    def _layers(self) -> list[keras.Layer]:
        """The model's own layers that can be named, i.e. all but its input layers."""
        return [layer for layer in self.model.layers if not isinstance(layer, keras.layers.InputLayer)]

    def _last_spatial_layer(self, x: np.ndarray) -> str:
        candidates = self.spatial_layers(x)
        if not candidates:
            raise self._no_spatial_layer(x)
        return candidates[-1]

    def _layer_listing(self, x: np.ndarray) -> str:
        return ", ".join(self.spatial_layers(x)) or "none"

    def _captured_activation(self, recorder: _Recorder, name: str, x: np.ndarray) -> tf.Tensor:
        """The recorded (N, *s, F) output of `name`, or ValueError saying what went wrong."""
        activation = recorder.activation
        shape = None if activation is None else tuple(activation.shape)
        self._check_recorded_output(name, recorder.calls, shape, recorder.output_kind, x)
        return activation

    # ------------------------------------------------------------------ running the model

    def _tensor(self, x: np.ndarray) -> tf.Tensor:
        """(N, C, *spatial) numpy -> (N, *spatial, C) tensor, the Keras layout (`_channels_last`)."""
        return tf.convert_to_tensor(self._channels_last(x))

    def _channels_last(self, x: np.ndarray) -> np.ndarray:
        """(N, C, *spatial) -> contiguous (N, *spatial, C), the Keras layout.

        Raises ValueError, naming the model and both shapes, when the model declares an input
        of another rank or other fixed sizes (TensorFlow would otherwise abort deep in a layer).
        """
        channels_last = to_channels_last(x)
        expected = _declared_input_shape(self.model)
        if expected is not None:
            fits = len(expected) == channels_last.ndim and all(
                size is None or size == actual for size, actual in zip(expected[1:], channels_last.shape[1:])
            )
            if not fits:
                as_channels_first = (expected[0], expected[-1], *expected[1:-1]) if len(expected) > 2 else expected
                raise ValueError(
                    f"{_describe(self.model)} takes input {_shape_text(expected)} (channels last), that is "
                    f"{_shape_text(as_channels_first)} in radxai's (N, C, *spatial) order; got x of shape "
                    f"{tuple(x.shape)}"
                )
        return np.ascontiguousarray(channels_last)

    def _forward(self, inputs: tf.Tensor) -> Any:
        self.evaluations += int(inputs.shape[0])
        return self.model(inputs, training=False)

    def _target_scores(self, output: Any, target: TargetSpec, batch_size: int) -> tuple[tf.Tensor, Targets]:
        """(N,) target scores as a tensor (on the tape if one records) and the targets."""
        if callable(target) or isinstance(target, Targets):
            targets = resolve_targets(target, None, batch_size)
        else:
            targets = resolve_targets(target, _logits(output, batch_size).numpy(), batch_size)
        if targets.function is not None:
            scores = targets.function(output)
            check_callable_scores(scores, tf.is_tensor(scores), batch_size)
            return scores, targets
        logits = tf.reshape(_logits(output, batch_size), (batch_size, -1))
        assert targets.columns is not None and targets.signs is not None
        columns = tf.constant(targets.columns, dtype=tf.int64)
        signs = tf.constant(targets.signs, dtype=logits.dtype)
        return tf.gather(logits, columns, axis=1, batch_dims=1) * signs, targets


# ---------------------------------------------------------------------- capture and ReLU rules


@dataclass
class _Recorder:
    """What the wrapped layer saw during one forward pass.

    activation: the layer's output (N, *s, F), watched by the tape when gradients are asked
        for; None if the layer did not run or did not return a tensor.
    calls: how many times the layer ran (more than once makes the capture ambiguous).
    output_kind: the type name of what the layer returned, for error messages.
    """

    activation: tf.Tensor | None = None
    calls: int = 0
    output_kind: str = ""


@contextmanager
def _recording(layer: keras.Layer, watch: Callable[[tf.Tensor], None] | None) -> Iterator[_Recorder]:
    """Record the output of `layer` while the block runs; `watch` (a tape's) starts the
    gradient graph at it. The wrapper is removed on exit, also when the body raises."""
    recorder = _Recorder()
    original = layer.call

    def call(*args: Any, **kwargs: Any) -> Any:
        output = original(*args, **kwargs)
        recorder.calls += 1
        recorder.output_kind = type(output).__name__
        if tf.is_tensor(output):
            if watch is not None:
                watch(output)
            recorder.activation = output
        return output

    with _replaced_attributes([(layer, "call", call)]):
        yield recorder


@tf.custom_gradient
def _guided_relu(features: tf.Tensor) -> tuple[tf.Tensor, Callable[[tf.Tensor], tf.Tensor]]:
    """ReLU whose backward pass lets only positive gradients through, and only where its input
    was positive (guided backpropagation, Springenberg et al. 2015)."""

    def backward(upstream: tf.Tensor) -> tf.Tensor:
        return tf.where(features > 0, tf.nn.relu(upstream), tf.zeros_like(upstream))

    return tf.nn.relu(features), backward


@tf.custom_gradient
def _deconvnet_relu(features: tf.Tensor) -> tuple[tf.Tensor, Callable[[tf.Tensor], tf.Tensor]]:
    """ReLU whose backward pass is the positive part of the incoming gradient, whatever the
    input was (DeconvNet, Zeiler & Fergus 2014)."""
    return tf.nn.relu(features), tf.nn.relu


@contextmanager
def _relu_backward_rule(model: keras.Model, rule: ReluRule) -> Iterator[int]:
    """Give the model's ReLUs the backward pass of `rule` for this block only.

    Yields the number of ReLUs changed (counted also for "plain", which changes nothing).
    Layers are restored on exit, also when the body raises.
    """
    if rule not in get_args(ReluRule):
        raise ValueError(f"relu rule must be 'plain', 'guided' or 'deconvnet', got {rule!r}")
    # (layer, attribute holding its ReLU): ReLU layers apply keras.activations.relu inside
    # their call, so for them the call is replaced.
    relus: list[tuple[keras.Layer, str]] = []
    for layer in _all_layers(model):
        if getattr(layer, "activation", None) is keras.activations.relu:
            relus.append((layer, "activation"))
        elif (
            isinstance(layer, keras.layers.ReLU)
            and layer.negative_slope == 0
            and layer.max_value is None
            and layer.threshold == 0
        ):
            relus.append((layer, "call"))
    if rule == "plain":
        yield len(relus)
        return
    relu = _guided_relu if rule == "guided" else _deconvnet_relu
    with _replaced_attributes([(layer, attribute, relu) for layer, attribute in relus]):
        yield len(relus)


_ABSENT = object()


@contextmanager
def _replaced_attributes(replacements: Sequence[tuple[Any, str, Any]]) -> Iterator[None]:
    """Set attribute `name` of each object to a value for the block; restore it on exit, also
    when the body raises. An attribute the instance did not hold itself (a method such as
    ``call``) is deleted again, so that the class's shows through."""
    saved = [(owner, name, vars(owner).get(name, _ABSENT)) for owner, name, _ in replacements]
    try:
        for owner, name, value in replacements:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, previous in reversed(saved):
            if previous is not _ABSENT:
                setattr(owner, name, previous)
            elif name in vars(owner):
                delattr(owner, name)


# ---------------------------------------------------------------------- helpers


def _all_layers(model: keras.Model) -> list[keras.Layer]:
    """Every layer inside `model`, nested ones included. Keras has no public recursive walk;
    this is the one `Model.layers` uses, non-recursively."""
    return model._flatten_layers(include_self=False, recursive=True)


def _graph_output_shape(layer: keras.Layer) -> tuple[int | None, ...] | None:
    """The static shape of the layer's output in the model's graph (its first call), or None
    for a layer without a single symbolic output (e.g. in a subclassed model)."""
    try:
        output = layer.output
    except (AttributeError, ValueError):
        return None
    return tuple(output.shape) if isinstance(output, keras.KerasTensor) else None


def _declared_input_shape(model: keras.Model) -> tuple[int | None, ...] | None:
    """The (N, *spatial, C) shape of a model's single declared input (None: not declared)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs or len(inputs) != 1:
        return None
    return tuple(None if size is None else int(size) for size in inputs[0].shape)


def _shape_text(shape: Sequence[int | None]) -> str:
    return (
        "("
        + ", ".join("N" if index == 0 else "any" if size is None else str(size) for index, size in enumerate(shape))
        + ")"
    )


def _describe(model: keras.Model) -> str:
    return f"{type(model).__name__} {model.name!r}"


def _logits(output: Any, batch_size: int) -> tf.Tensor:
    """The (N,) or (N, K) logits of a model output, or ValueError describing the output."""
    logits = logits_of(output)
    check_logits(output, logits, tf.is_tensor(logits), batch_size)
    return logits


def _gradient(tape: tf.GradientTape, scores: tf.Tensor, source: tf.Tensor, what: str) -> tf.Tensor:
    """d(sum of scores)/d(source): each sample's own gradient, as samples do not interact.

    The tape sums a non-scalar target itself; a sum taken here, after the tape stopped
    recording, would not be on the tape."""
    gradient = tape.gradient(scores, source)
    if gradient is None:
        raise ValueError(f"the target scores do not depend on {what}: it is not on the model's path to the scores")
    return gradient


def _numpy(tensor: tf.Tensor) -> np.ndarray:
    return tensor.numpy().astype(np.float32, copy=False)


def _channels_first(tensor: tf.Tensor) -> np.ndarray:
    """A (N, *s, F) tensor as a contiguous (N, F, *s) float32 array."""
    return np.ascontiguousarray(to_channels_first(_numpy(tensor)))
