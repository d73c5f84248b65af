"""`explain`: the one entry point for every method and backend."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from radxai.explain.backends import detect_backend
from radxai.explain.explanation import Attribution, Explanation
from radxai.explain.registry import check_options, method_named, run_method
from radxai.explain.targets import TargetSpec, check_target

__all__ = ["explain", "explain_methods", "as_batch"]


def explain(
    model: Any,
    x: np.ndarray | torch.Tensor,
    method: str,
    target: TargetSpec = None,
    layer: str | None = None,
    **options: Any,
) -> Explanation:
    """Explain a model's target score for a batch of images or volumes.

    model: a ``torch.nn.Module`` or a Keras model (the backend is detected from the model's
        type; Keras models take the same channel-first ``x``, transposed at the backend's edge).
    x: (N, C, H, W) or (N, C, D, H, W), numpy array or tensor, finite values.
    method: a registered method name (`radxai.explain.methods()`), e.g. "gradcam",
        "hirescam", "gradcam++", "layercam", "scorecam", "saliency", "gradient_x_input",
        "integrated_gradients", "smoothgrad", "guided_backprop", "deconvnet",
        "guided_gradcam", and the perturbation methods "kernel_shap", "lime", "occlusion".
    target: an int class, a list of ints (one per sample), a callable on the model output
        returning (N,) scores, or None for the predicted class; scores are logits (see
        `radxai.explain.targets`).
    layer: for CAMs, a layer name of the model, or None for its default (``cam_layer``,
        else the last layer with a spatial output).
    options: the method's options, e.g. steps=64 for "integrated_gradients" or
        inner="gradcam", noise_level=0.15, samples=50, seed=0 for "smoothgrad".

    The model is explained in eval mode with frozen parameters; its training flags and
    ``requires_grad`` are restored afterwards, and every hook is removed, also on errors.

    Raises ValueError for an unknown method (listing the methods), an unknown layer (listing
    the spatial layers), a target out of range, an input that is not 4D/5D or has NaN values;
    TypeError for unknown options or an unsupported model type. The model's own error is
    raised unchanged for input it rejects (e.g. a wrong channel count).
    """
    started = time.perf_counter()
    method_named(method)
    backend = detect_backend(model)
    inputs = as_batch(x)
    check_target(target, len(inputs))
    result = run_method(method, backend, inputs, target, layer, options)
    return _explanation(result, method, backend.evaluations, time.perf_counter() - started)


def _explanation(result: Attribution, method: str, model_evaluations: int, seconds: float) -> Explanation:
    return Explanation(
        heatmaps=result.heatmaps,
        raw=result.raw,
        method=method,
        target=result.targets.label,
        layer=result.layer,
        scores=np.asarray(result.scores, dtype=np.float32),
        model_evaluations=model_evaluations,
        seconds=seconds,
    )


def explain_methods(
    model: Any,
    x: np.ndarray | torch.Tensor,
    methods: Sequence[str],
    target: TargetSpec = None,
    layer: str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Explanation]:
    """Explain the same batch with several methods; one forward and backward pass serves every
    gradient CAM among them.

    Grad-CAM, HiResCAM, Grad-CAM++ and LayerCAM (every `radxai.explain.cam.BaseCAM` that needs
    gradients) are functions of the same activations A and gradients G = dS/dA of one layer and
    target, so they are computed from one `Backend.layer_capture`; the other methods run as
    `explain` runs them. The result of each method equals ``explain(model, x, method, target,
    layer, **options[method])``.

    Args:
        model, x, target, layer: as for `explain` (``layer`` applies to the CAMs).
        methods: registered method names, each at most once.
        options: per method name, its options (e.g. ``{"integrated_gradients": {"steps": 32}}``).

    Returns:
        ``{method: Explanation}`` in the order of ``methods``. The CAMs that shared a pass each
        report the pass's model evaluations and their own seconds plus the pass's.

    Raises what `explain` raises, before any model evaluation for an unknown method or option
    (also an option given for a method not in ``methods``) and for a repeated method.
    """
    options = {name: dict(values) for name, values in (options or {}).items()}
    repeated = sorted(name for name, count in Counter(methods).items() if count > 1)
    if repeated:
        raise ValueError(f"methods named more than once: {', '.join(repeated)}")
    stray = sorted(set(options) - set(methods))
    if stray:
        raise ValueError(f"options given for methods not explained: {', '.join(stray)}")
    for name in methods:
        check_options(name, options.get(name, {}))
    inputs = as_batch(x)
    check_target(target, len(inputs))
    shared = [name for name in methods if _is_gradient_cam(method_named(name))]
    results: dict[str, Explanation] = {}
    if len(shared) > 1:
        started = time.perf_counter()
        backend = detect_backend(model)
        captured = backend.layer_capture(inputs, target, layer, gradients=True)
        capture_seconds = time.perf_counter() - started
        for name in shared:
            method_started = time.perf_counter()
            result = method_named(name)(**options.get(name, {})).from_capture(captured, backend, inputs)
            results[name] = _explanation(
                result, name, backend.evaluations, capture_seconds + time.perf_counter() - method_started
            )
    for name in methods:
        if name not in results:
            results[name] = explain(model, inputs, name, target, layer, **options.get(name, {}))
    return {name: results[name] for name in methods}


def _is_gradient_cam(method: Any) -> bool:
    from radxai.explain.cam.base import BaseCAM

    return isinstance(method, type) and issubclass(method, BaseCAM) and method.needs_gradients


def as_batch(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """x as a float32 numpy batch (N, C, *spatial) with 2 or 3 spatial axes.

    Tensors are detached and moved to the CPU (no copy for CPU float32 tensors). Raises
    ValueError for another number of axes, an empty batch or NaN/infinite values (with
    their count).
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    batch = np.asarray(x, dtype=np.float32)
    if batch.ndim not in (4, 5):
        hint = "; add the batch axis, e.g. x[None]" if batch.ndim in (3,) else ""
        raise ValueError(f"x must be a batch (N, C, H, W) or (N, C, D, H, W); got shape {batch.shape}{hint}")
    if batch.shape[0] == 0:
        raise ValueError(f"x is an empty batch, shape {batch.shape}")
    nan_count = int(np.count_nonzero(np.isnan(batch)))
    infinite_count = int(np.count_nonzero(np.isinf(batch)))
    if nan_count or infinite_count:
        raise ValueError(
            f"x has {nan_count} NaN and {infinite_count} infinite values of {batch.size}; "
            "explanations need finite inputs"
        )
    if not batch.flags.writeable:
        # torch.from_numpy warns on read-only memory; a copy keeps the caller's array safe.
        batch = batch.copy()
    return batch
