"""Which engine runs the forward-only passes of a PyTorch model: PyTorch itself or ONNX Runtime.

Perturbation work (deletion and insertion curves, probability drops, occlusion, Kernel SHAP,
LIME, Score-CAM) spends nearly all its time in forward passes without gradients. Those passes,
and only those, go through :class:`ForwardEngine`, chosen by ``engine``:

- ``"torch"``: the model's own forward (PyTorch eager).
- ``"onnxruntime"``: the model exported once per input shape and weights to ONNX and run by an
  ONNX Runtime session (threads as many as PyTorch's). The session's output on the first batch
  is checked against PyTorch's (relative difference <= ``RELATIVE_TOLERANCE``); a model that
  does not export, a mismatch, or onnxruntime not installed falls back to PyTorch with one
  warning that says why. A wrong number is never returned.
- ``"auto"`` (the default): as "onnxruntime", but only from the ``AUTO_AFTER_CALLS``-th
  forward-only pass of one model, input shape and weights on: exporting costs about one forward
  pass, so a model scored once or twice (a sanity check's randomised copy) stays in PyTorch.

Gradient methods (Grad-CAM and the CAM family, saliency, Integrated Gradients, SmoothGrad,
guided backpropagation) always run in PyTorch: they need autograd. Keras models run in Keras.

The default comes from the ``RADXAI_ENGINE`` environment variable, else "auto"; change it for a
block of code with :func:`use_engine`.
"""

from __future__ import annotations

import io
import os
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

# torch is imported where a torch model is run, never at import: Keras users do not pay for it.

__all__ = ["AUTO_AFTER_CALLS", "ENGINES", "RELATIVE_TOLERANCE", "EngineFallbackWarning", "ForwardEngine",
           "check_engine", "default_engine", "use_engine"]

ENGINES = ("auto", "torch", "onnxruntime")
RELATIVE_TOLERANCE = 1e-5
AUTO_AFTER_CALLS = 3
_OPSET = 17
_default = [os.environ.get("RADXAI_ENGINE", "auto")]


class EngineFallbackWarning(RuntimeWarning):
    """ONNX Runtime was asked for (or chosen by "auto") and PyTorch runs instead; says why."""


def check_engine(engine: str) -> str:
    """``engine`` if it is one of ``ENGINES``; ValueError naming the choices otherwise."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
    return engine


def default_engine() -> str:
    """The engine used when none is given: ``RADXAI_ENGINE`` or "auto", or :func:`use_engine`'s."""
    return check_engine(_default[-1])


@contextmanager
def use_engine(engine: str) -> Iterator[None]:
    """Make ``engine`` the default inside the block (e.g. ``with use_engine("torch"): ...``)."""
    _default.append(check_engine(engine))
    try:
        yield
    finally:
        _default.pop()


@dataclass
class _Session:
    """One model's ONNX Runtime state for one input shape (without N) and one set of weights."""

    weights: tuple[tuple[int, int], ...]
    calls: int = 0
    session: Any = None
    failure: str | None = None


# model -> {input shape without N: _Session}. Weak keys: a session never keeps a model alive.
_SESSIONS: weakref.WeakKeyDictionary[nn.Module, dict[tuple[int, ...], _Session]] = (
    weakref.WeakKeyDictionary())
_WARNED: set[str] = set()


class ForwardEngine:
    """Forward-only passes of one ``nn.Module`` through the chosen engine.

    Args:
        model: the model; in eval mode with frozen parameters while called (the torch backend's
            explanation mode sees to that).
        engine: one of ``ENGINES``; None means :func:`default_engine`.
    """

    def __init__(self, model: nn.Module, engine: str | None = None) -> None:
        self.model = model
        self.engine = default_engine() if engine is None else check_engine(engine)

    def __call__(self, inputs: torch.Tensor, torch_forward: Callable[[torch.Tensor], Any]) -> Any:
        """The model's output for ``inputs`` (N, C, *spatial), as ``torch_forward`` would give it.

        ``torch_forward`` is the framework path; it runs whenever the session is not (yet)
        used, and once beside the session to check it.
        """
        import torch

        if self.engine == "torch" or inputs.device.type != "cpu" or inputs.dtype != torch.float32:
            return torch_forward(inputs)
        state = self._state(tuple(inputs.shape[1:]))
        state.calls += 1
        if state.failure is not None or (self.engine == "auto" and state.calls < AUTO_AFTER_CALLS):
            return torch_forward(inputs)
        if state.session is None:
            return self._start_session(state, inputs, torch_forward)
        (output,) = state.session.run(None, {"input": inputs.numpy()})
        return torch.from_numpy(output)

    def _state(self, shape: tuple[int, ...]) -> _Session:
        weights = tuple((tensor.data_ptr(), tensor._version)
                        for tensor in (*self.model.parameters(), *self.model.buffers()))
        per_shape = _SESSIONS.setdefault(self.model, {})
        state = per_shape.get(shape)
        if state is None or state.weights != weights:
            # New weights (e.g. a sanity check's randomised layer): the old session is stale.
            state = per_shape[shape] = _Session(weights)
        return state

    def _start_session(self, state: _Session, inputs: torch.Tensor,
                       torch_forward: Callable[[torch.Tensor], Any]) -> Any:
        import torch

        expected = torch_forward(inputs)
        if not isinstance(expected, torch.Tensor):
            return self._fail(state, expected, f"its output is a {type(expected).__name__}, not one tensor")
        try:
            session = _export(self.model, inputs)
            (output,) = session.run(None, {"input": inputs.numpy()})
        except ImportError:
            return self._fail(state, expected, "onnxruntime is not installed")
        except Exception as error:  # noqa: BLE001 - any export or session error means PyTorch runs
            return self._fail(state, expected, f"it does not export to ONNX ({type(error).__name__}: "
                                               f"{str(error).splitlines()[0] if str(error) else ''})")
        reference = expected.detach().numpy()
        if output.shape != reference.shape:
            return self._fail(state, expected, f"ONNX Runtime gave shape {output.shape}, PyTorch "
                                               f"{reference.shape}")
        scale = max(float(np.abs(reference).max(initial=0.0)), np.finfo(np.float32).tiny)
        difference = float(np.abs(output - reference).max(initial=0.0)) / scale
        if not difference <= RELATIVE_TOLERANCE:
            return self._fail(state, expected, f"ONNX Runtime differs from PyTorch by {difference:.2e} "
                                               f"(relative; allowed {RELATIVE_TOLERANCE:g})")
        state.session = session
        return expected

    def _fail(self, state: _Session, expected: Any, reason: str) -> Any:
        state.failure = reason
        message = (f"{type(self.model).__name__} runs in PyTorch, not ONNX Runtime (engine "
                   f"{self.engine!r}): {reason}.")
        if message not in _WARNED:
            _WARNED.add(message)
            warnings.warn(message, EngineFallbackWarning, stacklevel=4)
        return expected


def _export(model: nn.Module, inputs: torch.Tensor) -> Any:
    import onnxruntime
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript-based exporter announces its deprecation; the graph it writes is checked
        # against PyTorch before use, so the warning says nothing about this export.
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (inputs[:1],), buffer, dynamo=False, input_names=["input"],
                          output_names=["output"], opset_version=_OPSET,
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
