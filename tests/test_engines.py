"""Tests of radxai.explain.engines: forward-only passes through ONNX Runtime, checked against
PyTorch, with a PyTorch fallback that says why."""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from radxai.explain import engines
from radxai.explain.backends import detect_backend


def tiny_cnn(seed: int = 0, spatial: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    convolution, pooling = (nn.Conv3d, nn.AdaptiveAvgPool3d) if spatial == 3 else (nn.Conv2d, nn.AdaptiveAvgPool2d)
    return nn.Sequential(
        convolution(1, 4, 3, padding=1),
        nn.ReLU(),
        convolution(4, 4, 3, padding=1),
        nn.ReLU(),
        pooling(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    )


def batch(shape=(4, 1, 6, 8, 8), seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def torch_scores(model: nn.Module, x: np.ndarray, target=1) -> np.ndarray:
    return detect_backend(model, engine="torch").scores(x, target).scores


def sessions_of(model: nn.Module) -> dict:
    return {shape: state.session for shape, state in engines._SESSIONS.get(model, {}).items()}


@pytest.mark.parametrize("spatial", [2, 3])
def test_onnxruntime_scores_equal_pytorch_within_the_tolerance(spatial) -> None:
    model = tiny_cnn(spatial=spatial)
    x = batch((4, 1, 8, 8) if spatial == 2 else (4, 1, 6, 8, 8))
    backend = detect_backend(model, engine="onnxruntime")
    first, second = backend.scores(x, 1).scores, backend.scores(x, 1).scores
    assert all(session is not None for session in sessions_of(model).values())
    expected = torch_scores(model, x)
    np.testing.assert_allclose(first, expected, rtol=0, atol=engines.RELATIVE_TOLERANCE * np.abs(expected).max())
    np.testing.assert_allclose(second, expected, rtol=0, atol=engines.RELATIVE_TOLERANCE * np.abs(expected).max())
    assert backend.evaluations == 8


def test_auto_starts_a_session_only_after_repeated_passes() -> None:
    model, x = tiny_cnn(), batch()
    backend = detect_backend(model, engine="auto")
    for _ in range(engines.AUTO_AFTER_CALLS - 1):
        backend.scores(x, 1)
        assert list(sessions_of(model).values()) == [None]
    backend.scores(x, 1)
    assert list(sessions_of(model).values())[0] is not None


def test_new_weights_get_a_new_session() -> None:
    model, x = tiny_cnn(), batch()
    backend = detect_backend(model, engine="onnxruntime")
    backend.scores(x, 1)
    old = sessions_of(model)[x.shape[1:]]
    with torch.no_grad():
        model[0].weight.mul_(-2.0)  # in place, as a sanity check's randomisation does
    scores = backend.scores(x, 1).scores
    assert sessions_of(model)[x.shape[1:]] is not old
    np.testing.assert_allclose(scores, torch_scores(model, x), rtol=1e-5, atol=1e-6)


def test_each_input_shape_gets_its_own_session() -> None:
    model = tiny_cnn()
    backend = detect_backend(model, engine="onnxruntime")
    small, large = batch((2, 1, 4, 8, 8)), batch((3, 1, 6, 10, 10))
    for x in (small, large, small):
        np.testing.assert_allclose(backend.scores(x, 0).scores, torch_scores(model, x, 0), rtol=1e-5, atol=1e-6)
    assert set(sessions_of(model)) == {small.shape[1:], large.shape[1:]}


class NotExportable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 2)

    def forward(self, x):
        # No ONNX operator of the exporter's opset computes an FFT.
        return self.linear(torch.fft.fftn(x).abs().flatten(1)[:, :8])


def test_a_model_that_does_not_export_falls_back_with_a_warning() -> None:
    model, x = NotExportable(), batch((2, 1, 2, 2, 2))
    with pytest.warns(engines.EngineFallbackWarning, match="NotExportable runs in PyTorch.*does not export"):
        scores = detect_backend(model, engine="onnxruntime").scores(x, 1).scores
    np.testing.assert_array_equal(scores, torch_scores(model, x))


def test_a_model_with_several_outputs_falls_back() -> None:
    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = tiny_cnn()

        def forward(self, x):
            return {"logits": self.net(x)}

    model = TwoHeads()
    with pytest.warns(engines.EngineFallbackWarning, match="output is a dict, not one tensor"):
        detect_backend(model, engine="onnxruntime").scores(batch(), lambda output: output["logits"][:, 1])


def test_missing_onnxruntime_falls_back_to_pytorch(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    model, x = tiny_cnn(seed=5), batch()
    with pytest.warns(engines.EngineFallbackWarning, match="onnxruntime is not installed"):
        scores = detect_backend(model, engine="onnxruntime").scores(x, 1).scores
    np.testing.assert_array_equal(scores, torch_scores(model, x))


def test_a_mismatch_beyond_the_tolerance_falls_back(monkeypatch) -> None:
    class Shifted:
        def __init__(self, session) -> None:
            self.session = session

        def get_inputs(self):
            return self.session.get_inputs()

        def run(self, names, feeds):
            return [output + 1.0 for output in self.session.run(names, feeds)]

    export = engines._export
    monkeypatch.setattr(engines, "_export", lambda model, inputs: Shifted(export(model, inputs)))
    model, x = tiny_cnn(seed=6), batch()
    with pytest.warns(engines.EngineFallbackWarning, match="differs from PyTorch by"):
        scores = detect_backend(model, engine="onnxruntime").scores(x, 1).scores
    np.testing.assert_array_equal(scores, torch_scores(model, x))


def test_torch_engine_never_exports(monkeypatch) -> None:
    monkeypatch.setattr(engines, "_export", lambda *arguments: pytest.fail("exported"))
    model = tiny_cnn()
    backend = detect_backend(model, engine="torch")
    for _ in range(engines.AUTO_AFTER_CALLS + 1):
        backend.scores(batch(), 1)
    assert sessions_of(model) == {}


def test_an_unknown_engine_is_named() -> None:
    with pytest.raises(ValueError, match="unknown engine 'tensorrt'; engines: auto, torch, onnxruntime"):
        detect_backend(tiny_cnn(), engine="tensorrt")
    with pytest.raises(ValueError, match="unknown engine"), engines.use_engine("fast"):
        pass


def test_use_engine_sets_the_default_inside_the_block() -> None:
    before = engines.default_engine()
    with engines.use_engine("onnxruntime"):
        assert detect_backend(tiny_cnn()).forward_engine.engine == "onnxruntime"
    assert engines.default_engine() == before


def test_fallback_warns_once_per_model_and_reason() -> None:
    model = NotExportable()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for shape in ((2, 1, 2, 2, 2), (2, 1, 2, 2, 4)):
            detect_backend(model, engine="onnxruntime").scores(batch(shape), 1)
    assert sum(issubclass(warning.category, engines.EngineFallbackWarning) for warning in caught) <= 1


# ------------------------------------------------------------------------------ Keras models


def tiny_keras_cnn(seed: int = 0):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6, 8, 8, 1)),
            keras.layers.Conv3D(4, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling3D(),
            keras.layers.Dense(2),
        ]
    )


@pytest.mark.slow
def test_keras_scores_through_onnxruntime_equal_keras_within_the_tolerance() -> None:
    model, x = tiny_keras_cnn(), batch()
    expected = detect_backend(model, engine="torch").scores(x, 1).scores
    backend = detect_backend(model, engine="onnxruntime")
    first, second = backend.scores(x, 1).scores, backend.scores(x, 1).scores
    assert all(session is not None for session in sessions_of(model).values())
    tolerance = engines.RELATIVE_TOLERANCE * np.abs(expected).max()
    np.testing.assert_allclose(first, expected, rtol=0, atol=tolerance)
    np.testing.assert_allclose(second, expected, rtol=0, atol=tolerance)
    assert backend.evaluations == 8


@pytest.mark.slow
def test_keras_weights_assigned_again_get_a_new_session() -> None:
    model, x = tiny_keras_cnn(seed=1), batch()
    backend = detect_backend(model, engine="onnxruntime")
    backend.scores(x, 1)
    before = list(sessions_of(model).values())
    kernel = model.layers[0].kernel
    kernel.assign(kernel.numpy() * -1.0)  # in place: same variable, new values
    scores = backend.scores(x, 1).scores
    after = list(sessions_of(model).values())
    assert after[0] is not None and after[0] is not before[0]
    np.testing.assert_allclose(
        scores,
        detect_backend(model, engine="torch").scores(x, 1).scores,
        rtol=0,
        atol=engines.RELATIVE_TOLERANCE * np.abs(scores).max(),
    )


@pytest.mark.slow
def test_a_keras_model_without_tf2onnx_runs_in_keras_with_a_warning(monkeypatch) -> None:
    model, x = tiny_keras_cnn(seed=2), batch()

    def export_without_tf2onnx(model):
        raise ImportError("No module named 'tf2onnx'", name="tf2onnx")  # as Keras's export raises it

    monkeypatch.setattr(engines, "_export_keras", export_without_tf2onnx)
    with pytest.warns(engines.EngineFallbackWarning, match="runs in Keras, not ONNX Runtime.*tf2onnx is not installed"):
        scores = detect_backend(model, engine="onnxruntime").scores(x, 1).scores
    np.testing.assert_array_equal(scores, detect_backend(model, engine="torch").scores(x, 1).scores)
