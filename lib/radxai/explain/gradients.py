"""Gradient attributions at input resolution: saliency, gradient x input, Integrated
Gradients, guided backpropagation, DeconvNet and guided Grad-CAM.

Every method gives `raw` (N, *spatial), one signed value per pixel/voxel, and `heatmaps` =
|raw| min-max normalised per sample to [0, 1]. How channels become one value:
- saliency, guided backpropagation, DeconvNet: the gradient in the channel where its
  magnitude is largest (so |raw| = max over channels of |dS/dx|, Simonyan et al. 2014);
- gradient x input and Integrated Gradients: the attribution summed over channels (so that
  Integrated Gradients keeps completeness: raw sums to S(x) - S(baseline)).
These methods explain the input; passing a layer raises ValueError.
"""

from __future__ import annotations

import numpy as np

from radxai.explain.backends import Backend, InputGradients, Scored
from radxai.explain.cam.gradcam import GradCAM
from radxai.explain.explanation import Attribution
from radxai.explain.registry import register_method
from radxai.explain.targets import TargetSpec
from radxai.explain.upsample import minmax

__all__ = [
    "saliency",
    "gradient_x_input",
    "integrated_gradients",
    "guided_backprop",
    "deconvnet",
    "guided_gradcam",
]


@register_method("saliency")
def saliency(backend: Backend, x: np.ndarray, target: TargetSpec, layer: str | None) -> Attribution:
    """Vanilla gradient: |dS/dx|, max over channels. One forward and one backward pass."""
    _reject_layer("saliency", layer)
    result = backend.input_gradients(x, target)
    return _attribution(_strongest_channel(result.gradients), result, layer=None)


@register_method("gradient_x_input")
def gradient_x_input(backend: Backend, x: np.ndarray, target: TargetSpec, layer: str | None) -> Attribution:
    """sum over channels of x * dS/dx (Shrikumar et al. 2016). One forward and one backward."""
    _reject_layer("gradient_x_input", layer)
    result = backend.input_gradients(x, target)
    return _attribution((x * result.gradients).sum(axis=1), result, layer=None)


@register_method("integrated_gradients")
def integrated_gradients(
    backend: Backend,
    x: np.ndarray,
    target: TargetSpec,
    layer: str | None,
    *,
    steps: int = 64,
    baseline: str | float | np.ndarray = "zero",
    batch_size: int = 32,
) -> Attribution:
    """Integrated Gradients (Sundararajan et al. 2017) by the midpoint rule.

    attribution = (x - x') * (1 / steps) * sum_k dS/dx at x' + a_k (x - x'), with
    a_k = (k + 1/2) / steps. Like the trapezoid rule, the midpoint rule's error falls as
    1 / steps^2 on smooth models, but it needs no end points (steps gradients per sample, not
    steps + 1); at 64 steps the attributions of a smooth model sum to S(x) - S(x') within 1%.

    steps: path points per sample. baseline x': "zero"; "mean" (every channel of a sample at
    that channel's mean over the sample, a flat image of its average intensity); or a number
    or array broadcastable to x (N, C, *spatial), e.g. (C, *spatial). batch_size: path points
    per forward/backward pass (the points of several samples share batches).
    Targets (None included) are resolved on x, and `scores` are S(x). Model evaluations:
    N * (steps + 1).
    """
    _reject_layer("integrated_gradients", layer)
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"integrated_gradients steps must be a positive int, got {steps!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"integrated_gradients batch_size must be a positive int, got {batch_size!r}")
    reference = _baseline(baseline, x)
    scored = backend.scores(x, target)
    n = len(x)
    difference = x - reference
    alphas = ((np.arange(steps) + 0.5) / steps).astype(np.float32)
    gradient_sums = np.zeros(x.shape, dtype=np.float64)
    # Row r of the flattened work list is path point r % steps of sample r // steps.
    for start in range(0, n * steps, batch_size):
        rows = np.arange(start, min(start + batch_size, n * steps))
        samples = rows // steps
        fractions = alphas[rows % steps].reshape(-1, *([1] * (x.ndim - 1)))
        points = reference[samples] + fractions * difference[samples]
        gradients = backend.input_gradients(points, scored.targets.rows(samples)).gradients
        for sample in np.unique(samples):
            gradient_sums[sample] += gradients[samples == sample].sum(axis=0)
    attributions = difference * (gradient_sums / steps)
    return _attribution(attributions.sum(axis=1), scored, layer=None)


@register_method("guided_backprop")
def guided_backprop(backend: Backend, x: np.ndarray, target: TargetSpec, layer: str | None) -> Attribution:
    """Guided backpropagation (Springenberg et al. 2015): dS/dx with only positive gradients
    passed back through each nn.ReLU, and only where its input was positive."""
    _reject_layer("guided_backprop", layer)
    result = backend.input_gradients(x, target, relu_rule="guided")
    return _attribution(_strongest_channel(result.gradients), result, layer=None)


@register_method("deconvnet")
def deconvnet(backend: Backend, x: np.ndarray, target: TargetSpec, layer: str | None) -> Attribution:
    """DeconvNet (Zeiler & Fergus 2014): dS/dx with each nn.ReLU passing back the positive
    part of the incoming gradient, whatever its forward input."""
    _reject_layer("deconvnet", layer)
    result = backend.input_gradients(x, target, relu_rule="deconvnet")
    return _attribution(_strongest_channel(result.gradients), result, layer=None)


@register_method("guided_gradcam")
def guided_gradcam(backend: Backend, x: np.ndarray, target: TargetSpec, layer: str | None) -> Attribution:
    """Guided Grad-CAM (Selvaraju et al. 2017): guided backpropagation times the Grad-CAM map
    of `layer` interpolated to the input and normalised to [0, 1]. Two forward passes."""
    guided = backend.input_gradients(x, target, relu_rule="guided")
    cam = GradCAM()(backend, x, guided.targets, layer)
    raw = _strongest_channel(guided.gradients) * cam.heatmaps
    return Attribution(minmax(np.abs(raw)), raw.astype(np.float32), guided.targets, cam.layer, guided.scores)


def _reject_layer(method: str, layer: str | None) -> None:
    if layer is not None:
        raise ValueError(f"{method} attributes the input and takes no layer; got layer={layer!r}")


def _strongest_channel(gradients: np.ndarray) -> np.ndarray:
    """(N, C, *spatial) -> (N, *spatial): per position, the value of largest magnitude."""
    strongest = np.abs(gradients).argmax(axis=1)[:, None]
    return np.take_along_axis(gradients, strongest, axis=1)[:, 0]


def _attribution(raw: np.ndarray, scored: Scored | InputGradients, layer: str | None) -> Attribution:
    """heatmaps = min-max of |raw|; targets and scores from the backend result."""
    return Attribution(
        heatmaps=minmax(np.abs(raw)),
        raw=np.asarray(raw, dtype=np.float32),
        targets=scored.targets,
        layer=layer,
        scores=scored.scores,
    )


def _baseline(baseline: str | float | np.ndarray, x: np.ndarray) -> np.ndarray:
    """The Integrated Gradients reference input, shaped like x (N, C, *spatial), float32."""
    if isinstance(baseline, str):
        if baseline == "zero":
            return np.zeros_like(x)
        if baseline == "mean":
            spatial_axes = tuple(range(2, x.ndim))
            return np.broadcast_to(x.mean(axis=spatial_axes, keepdims=True), x.shape).astype(np.float32)
        raise ValueError(f"integrated_gradients baseline must be 'zero', 'mean' or an array; got {baseline!r}")
    values = np.asarray(baseline, dtype=np.float32)
    try:
        return np.broadcast_to(values, x.shape).astype(np.float32)
    except ValueError:
        raise ValueError(
            f"integrated_gradients baseline of shape {values.shape} does not broadcast to the input shape {x.shape}"
        ) from None
