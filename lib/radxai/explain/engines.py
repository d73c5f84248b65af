"""Which engine runs the forward-only passes of a model: its own framework or ONNX Runtime.

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
guided backpropagation) always run in the model's framework: they need its autograd.

Keras models (:class:`KerasForwardEngine`) are exported by Keras's own ONNX export (tf2onnx) and
checked against Keras the same way; "torch" then means the model's own framework, Keras. Their
weights are fingerprinted by value, since Keras assigns new weights in place.

The default comes from the ``RADXAI_ENGINE`` environment variable, else "auto"; change it for a
block of code with :func:`use_engine`.
"""

from __future__ import annotations

import io
import os
import warnings
import weakref
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

# torch is imported where a torch model is run, never at import: Keras users do not pay for it.

__all__ = [
    "AUTO_AFTER_CALLS",
    "ENGINES",
    "RELATIVE_TOLERANCE",
    "EngineFallbackWarning",
    "ForwardEngine",
    "KerasForwardEngine",
    "check_engine",
    "default_engine",
    "use_engine",
]

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

    weights: Hashable
    calls: int = 0
    session: Any = None
    input_name: str = ""
    failure: str | None = None


# model -> {input shape without N: _Session}. Weak keys: a session never keeps a model alive.
_SESSIONS: weakref.WeakKeyDictionary[Any, dict[tuple[int, ...], _Session]] = weakref.WeakKeyDictionary()
_WARNED: set[str] = set()


class _SessionEngine:
    """What the PyTorch and the Keras engine share: one session per model, input shape and
    weights, started only after the framework's own output for the same batch is known and
    used only if it agrees with it; otherwise the framework, with one warning saying why."""

    framework = ""

    def __init__(self, model: Any, engine: str | None = None) -> None:
        self.model = model
        self.engine = default_engine() if engine is None else check_engine(engine)

    def _state(self, shape: tuple[int, ...], weights: Hashable) -> _Session:
        per_shape = _SESSIONS.setdefault(self.model, {})
        state = per_shape.get(shape)
        if state is None or state.weights != weights:
            # New weights (e.g. a sanity check's randomised layer): the old session is stale.
            state = per_shape[shape] = _Session(weights)
        return state

    def _waits(self, state: _Session) -> bool:
        """Count this call; True while the framework should run it (no session, or not yet)."""
        state.calls += 1
        return state.failure is not None or (self.engine == "auto" and state.calls < AUTO_AFTER_CALLS)

    def _run(self, state: _Session, inputs: np.ndarray) -> np.ndarray:
        return _run_session(state.session, state.input_name, inputs)

    def _start_session(
        self,
        state: _Session,
        inputs: np.ndarray,
        reference: np.ndarray | str,
        export: Callable[[], Any],
        missing_package: str,
    ) -> None:
        """Export, run ``inputs`` and compare with ``reference`` (the framework's output, or why
        it cannot be compared); keep the session or record the failure and warn once."""
        if isinstance(reference, str):
            return self._fail(state, reference)
        # The session is kept in the state only once it has agreed with the framework, so an
        # interrupt half way (a Jupyter stop) can never leave an unchecked session in use.
        try:
            session = export()
            input_name = session.get_inputs()[0].name
            output = _run_session(session, input_name, inputs)
        except ImportError as error:
            return self._fail(state, f"{error.name or missing_package} is not installed")
        except Exception as error:  # noqa: BLE001 - any export or session error means the framework runs
            return self._fail(
                state,
                f"it does not export to ONNX ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''})",
            )
        if output.shape != reference.shape:
            return self._fail(state, f"ONNX Runtime gave shape {output.shape}, {self.framework} {reference.shape}")
        scale = max(float(np.abs(reference).max(initial=0.0)), np.finfo(np.float32).tiny)
        difference = float(np.abs(output - reference).max(initial=0.0)) / scale
        if not difference <= RELATIVE_TOLERANCE:
            return self._fail(
                state,
                f"ONNX Runtime differs from {self.framework} by {difference:.2e} "
                f"(relative; allowed {RELATIVE_TOLERANCE:g})",
            )
        state.session, state.input_name = session, input_name
        return None

    def _fail(self, state: _Session, reason: str) -> None:
        state.failure = reason
        message = (
            f"{type(self.model).__name__} runs in {self.framework}, not ONNX Runtime (engine "
            f"{self.engine!r}): {reason}."
        )
        if message not in _WARNED:
            _WARNED.add(message)
            warnings.warn(message, EngineFallbackWarning, stacklevel=5)


class ForwardEngine(_SessionEngine):
    """Forward-only passes of one ``nn.Module`` through the chosen engine.

    Args:
        model: the model; in eval mode with frozen parameters while called (the torch backend's
            explanation mode sees to that).
        engine: one of ``ENGINES``; None means :func:`default_engine`.
    """

    framework = "PyTorch"

    def __call__(self, inputs: torch.Tensor, torch_forward: Callable[[torch.Tensor], Any]) -> Any:
        """The model's output for ``inputs`` (N, C, *spatial), as ``torch_forward`` would give it.

        ``torch_forward`` is the framework path; it runs whenever the session is not (yet)
        used, and once beside the session to check it.
        """
        import torch

        if self.engine == "torch" or inputs.device.type != "cpu" or inputs.dtype != torch.float32:
            return torch_forward(inputs)
        weights = tuple(
            (tensor.data_ptr(), tensor._version) for tensor in (*self.model.parameters(), *self.model.buffers())
        )
        state = self._state(tuple(inputs.shape[1:]), weights)
        if self._waits(state):
            return torch_forward(inputs)
        if state.session is None:
            expected = torch_forward(inputs)
            reference = (
                expected.detach().numpy()
                if isinstance(expected, torch.Tensor)
                else f"its output is a {type(expected).__name__}, not one tensor"
            )
            self._start_session(state, inputs.numpy(), reference, lambda: _export(self.model, inputs), "onnxruntime")
            return expected
        return torch.from_numpy(self._run(state, inputs.numpy()))


class KerasForwardEngine(_SessionEngine):
    """Forward-only passes of one Keras model through the chosen engine: the model exported by
    Keras's own ONNX export (tf2onnx), checked against Keras on the first batch as the PyTorch
    engine is. Weights are fingerprinted by their values (Keras variables change in place), so
    a model whose weights were assigned again is exported again."""

    framework = "Keras"

    def __call__(self, inputs: np.ndarray, keras_forward: Callable[[np.ndarray], Any]) -> Any:
        """The model's output for ``inputs`` (N, *spatial, C), channels last: a numpy array from
        the session, or whatever ``keras_forward`` returns while Keras runs."""
        if self.engine == "torch" or inputs.dtype != np.float32:
            return keras_forward(inputs)
        state = self._state(tuple(inputs.shape[1:]), _keras_weights_fingerprint(self.model))
        if self._waits(state):
            return keras_forward(inputs)
        if state.session is None:
            expected = keras_forward(inputs)
            reference = (
                np.asarray(expected)
                if hasattr(expected, "shape") and hasattr(expected, "dtype")
                else f"its output is a {type(expected).__name__}, not one tensor"
            )
            self._start_session(state, inputs, reference, lambda: _export_keras(self.model), "tf2onnx")
            return expected
        return self._run(state, inputs)


def _run_session(session: Any, input_name: str, inputs: np.ndarray) -> np.ndarray:
    (output,) = session.run(None, {input_name: inputs})
    return output


def _keras_weights_fingerprint(model: Any) -> str:
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    for variable in model.weights:
        digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
    return digest.hexdigest()


def _export_keras(model: Any) -> Any:
    import tempfile

    import onnxruntime

    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf2onnx's deprecation notices say nothing about this graph
        path = os.path.join(folder, "model.onnx")
        model.export(path, format="onnx", verbose=False)
        with open(path, "rb") as handle:
            graph = handle.read()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def _export(model: nn.Module, inputs: torch.Tensor) -> Any:
    import onnxruntime
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript-based exporter announces its deprecation; the graph it writes is checked
        # against PyTorch before use, so the warning says nothing about this export.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (inputs[:1],),
            buffer,
            dynamo=False,
            input_names=["input"],
            output_names=["output"],
            opset_version=_OPSET,
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
