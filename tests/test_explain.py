"""Tests of the front door radxai.explain.explain: registry, inputs, backends, export."""

import ast
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import radxai.explain
from radxai.data.io import read_nifti
from radxai.data.volume import Volume, affine_to_spacing
from radxai.explain import (
    Explanation,
    backends,
    explain,
    methods,
    register_method,
    save_heatmap_nifti,
)
from radxai.explain.backends import detect_backend
from radxai.explain.explanation import Attribution
from radxai.explain.targets import resolve_targets
from radxai.models import build

ALL_METHODS = [
    "deconvnet",
    "gradcam",
    "gradcam++",
    "gradient_x_input",
    "guided_backprop",
    "guided_gradcam",
    "hirescam",
    "integrated_gradients",
    "kernel_shap",
    "layercam",
    "lime",
    "occlusion",
    "saliency",
    "scorecam",
    "smoothgrad",
]
FAST_OPTIONS = {
    "integrated_gradients": {"steps": 4},
    "smoothgrad": {"samples": 3},
    "kernel_shap": {"n_segments": 4, "samples": 16},
    "lime": {"n_segments": 4, "samples": 16},
    "occlusion": {"patch_size": 2, "stride": 2},
}


class Tiny3D(nn.Module):
    """Conv3d -> ReLU -> Conv3d (cam layer) -> ReLU -> pooling -> Linear(3, 2)."""

    cam_layer = "features.conv2"

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv3d(1, 4, 3, padding=1),
                activation1=nn.ReLU(),
                conv2=nn.Conv3d(4, 3, 3, padding=1),
                activation2=nn.ReLU(),
            )
        )
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3, 4)))


def volume_batch(n: int = 2, shape: tuple[int, ...] = (4, 6, 6)) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 1, *shape)).astype(np.float32)


def test_all_methods_are_registered_and_listed_in_order():
    registered = methods()
    assert set(ALL_METHODS) <= set(registered)
    assert registered == sorted(registered)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_method_explains_a_3d_batch(method):
    x = volume_batch()
    result = explain(Tiny3D(), x, method, target=[1, 0], **FAST_OPTIONS.get(method, {}))
    assert isinstance(result, Explanation)
    assert result.method == method
    assert result.heatmaps.shape == (2, 4, 6, 6) and result.heatmaps.dtype == np.float32
    assert result.heatmaps.min() >= 0.0 and result.heatmaps.max() <= 1.0
    assert result.scores.shape == (2,)
    assert result.target == [1, 0]
    assert result.model_evaluations >= 2
    assert result.seconds > 0


def test_numpy_and_tensor_inputs_give_the_same_explanation():
    x = volume_batch()
    from_numpy = explain(Tiny3D(), x, "hirescam", target=1)
    from_tensor = explain(Tiny3D(), torch.from_numpy(x).requires_grad_(True), "hirescam", target=1)
    np.testing.assert_array_equal(from_numpy.heatmaps, from_tensor.heatmaps)
    assert from_numpy.raw.dtype == np.float32


def test_probabilities_are_the_sigmoid_of_the_explained_logits():
    x = volume_batch()
    model = Tiny3D()
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy()
    result = explain(model, x, "gradcam", target=[1, 0])
    expected = 1 / (1 + np.exp(-np.array([logits[0, 1], logits[1, 0]], dtype=np.float64)))
    np.testing.assert_allclose(result.probabilities, expected, rtol=1e-5)


def test_a_callable_target_has_no_probability():
    result = explain(Tiny3D(), volume_batch(), "gradcam", target=lambda output: output.sum(dim=1))
    with pytest.raises(ValueError, match="not logits"):
        result.probabilities


def test_unknown_method_lists_the_methods():
    with pytest.raises(ValueError, match=r"unknown method 'gradkam'; known methods: deconvnet, gradcam, "):
        explain(Tiny3D(), volume_batch(), "gradkam")


def test_unknown_options_list_the_accepted_ones():
    with pytest.raises(TypeError, match=r"'integrated_gradients' got unknown option\(s\) step;.*steps"):
        explain(Tiny3D(), volume_batch(), "integrated_gradients", step=4)
    with pytest.raises(TypeError, match=r"'gradcam' got unknown option\(s\) batch_size; accepted options: none"):
        explain(Tiny3D(), volume_batch(), "gradcam", batch_size=4)


@pytest.mark.parametrize("shape", [(6, 6), (1, 6, 6), (1, 1, 1, 2, 2, 2)])
def test_inputs_must_be_4d_or_5d(shape):
    with pytest.raises(ValueError, match=r"x must be a batch \(N, C, H, W\) or \(N, C, D, H, W\)"):
        explain(Tiny3D(), np.zeros(shape, np.float32), "gradcam")


def test_nan_inputs_are_rejected_with_their_count():
    x = volume_batch()
    x[0, 0, 1, 2, :3] = np.nan
    with pytest.raises(ValueError, match=r"x has 3 NaN and 0 infinite values of 288"):
        explain(Tiny3D(), x, "gradcam")


def test_the_models_own_error_surfaces_for_a_wrong_channel_count():
    torch.manual_seed(0)
    model = build("cnn3d", width=0.05, padding="same")
    with pytest.raises(ValueError, match=r"cnn3d expects input \(N, C, D, H, W\) with C=1"):
        explain(model, np.zeros((1, 2, 16, 16, 16), np.float32), "gradcam")


def test_models_of_unknown_frameworks_are_rejected():
    with pytest.raises(TypeError, match=r"cannot explain a builtins.object: .*torch"):
        explain(object(), volume_batch(), "gradcam")


def test_models_are_recognised_by_the_package_defining_their_class():
    # A stand-in class from the keras package: recognising it must not import TensorFlow.
    keras_like = type("Functional", (), {"__module__": "keras.src.models.functional"})()
    recognised = [name for name, accepts, _ in backends._BACKENDS if accepts(keras_like)]
    assert recognised == ["keras"]
    assert [name for name, accepts, _ in backends._BACKENDS if accepts(Tiny3D())] == ["torch"]


def test_a_backend_missing_from_the_installation_is_a_clear_error(monkeypatch):
    entry = (
        "fakeframework",
        backends._defined_in(("fakeframework",)),
        "radxai.explain.backends.fakeframework",
    )
    monkeypatch.setattr(backends, "_BACKENDS", (*backends._BACKENDS, entry))
    model = type("Net", (), {"__module__": "fakeframework.nets"})()
    with pytest.raises(TypeError, match=r"Net is a fakeframework model, but the fakeframework"):
        detect_backend(model)


def test_registered_functions_run_through_the_front_door():
    @register_method("test_constant")
    def constant(backend, x, target, layer, *, level: float = 0.5):
        scored = backend.scores(x, target)
        heatmaps = np.full((len(x), *x.shape[2:]), level, dtype=np.float32)
        return Attribution(heatmaps, heatmaps, scored.targets, layer, scored.scores)

    try:
        result = explain(Tiny3D(), volume_batch(), "test_constant", target=0, level=0.25)
        assert result.heatmaps.max() == 0.25 and result.model_evaluations == 2
        with pytest.raises(ValueError, match="'test_constant' is already registered"):
            register_method("test_constant")(lambda *args: None)
    finally:
        radxai.explain.registry.unregister_method("test_constant")


def test_explain_does_not_import_the_data_layer_at_module_level():
    # DESIGN: explain never imports data; only export.save_heatmap_nifti does, on use.
    package = Path(radxai.explain.__file__).parent
    for source in package.rglob("*.py"):
        tree = ast.parse(source.read_text())
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("radxai.data"), source
            if isinstance(node, ast.Import):
                assert not any(alias.name.startswith("radxai.data") for alias in node.names), source


def test_resolve_targets_is_shared_by_all_methods():
    # The same rules decide every method's target: argmax for K outputs.
    x = volume_batch()
    model = Tiny3D()
    logits = model.eval()(torch.from_numpy(x)).detach().numpy()
    expected = resolve_targets(None, logits, 2).label
    for method in ("gradcam", "saliency", "scorecam"):
        assert explain(model, x, method).target == expected


# --------------------------------------------------------------------------- export


def oblique_affine() -> np.ndarray:
    angle = np.deg2rad(20)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.8, 0.7, 2.5])
    affine[:3, 3] = [-120.0, 35.5, 60.25]
    return affine


def test_heatmap_nifti_keeps_the_scans_affine(tmp_path):
    affine = oblique_affine()
    scan = Volume(np.zeros((4, 6, 6), np.float32), affine, affine_to_spacing(affine))
    result = explain(Tiny3D(), volume_batch(), "hirescam", target=1)
    path = tmp_path / "heatmap.nii.gz"
    save_heatmap_nifti(result, scan, path, index=1)
    written = read_nifti(path)
    np.testing.assert_allclose(written.affine, affine, atol=1e-5)
    np.testing.assert_array_equal(written.array, result.heatmaps[1])


def test_heatmap_nifti_rejects_a_volume_of_another_shape(tmp_path):
    scan = Volume.from_spacing(np.zeros((4, 6, 7)), (2.5, 0.7, 0.7))
    result = explain(Tiny3D(), volume_batch(), "gradcam", target=1)
    with pytest.raises(ValueError, match=r"heatmap shape \(4, 6, 6\) differs from the volume shape \(4, 6, 7\)"):
        save_heatmap_nifti(result, scan, tmp_path / "heatmap.nii")
    assert not (tmp_path / "heatmap.nii").exists()


def test_heatmap_nifti_needs_a_3d_explanation(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    x = np.ones((1, 1, 6, 6), np.float32)
    model(torch.from_numpy(x))
    result = explain(model, x, "saliency", target=0)
    scan = Volume.from_spacing(np.zeros((1, 6, 6)), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match=r"needs a 3D explanation.*\(1, 6, 6\)"):
        save_heatmap_nifti(result, scan, tmp_path / "heatmap.nii")


def _counted_forwards(model: nn.Module) -> list[int]:
    calls: list[int] = []
    model.register_forward_hook(lambda module, inputs, output: calls.append(len(inputs[0])))
    return calls


@pytest.mark.parametrize("spatial", [(24, 24), (16, 16, 16)])
def test_explain_methods_equals_explain_and_shares_one_pass_among_the_cams(spatial):
    from radxai.explain import explain_methods

    torch.manual_seed(0)
    model = (
        build("cnn2d", width=0.125, num_outputs=3) if len(spatial) == 2 else build("cnn3d", width=0.125, padding="same")
    ).eval()
    x = np.random.default_rng(0).random((2, 1, *spatial), dtype=np.float32)
    names = ["hirescam", "saliency", "gradcam", "gradcam++", "layercam", "integrated_gradients"]
    options = {"integrated_gradients": {"steps": 4}}
    calls = _counted_forwards(model)
    together = explain_methods(model, x, names, target=1, options=options)
    shared_forwards = len(calls)
    assert list(together) == names
    for name in names:
        alone = explain(model, x, name, target=1, **options.get(name, {}))
        np.testing.assert_allclose(together[name].heatmaps, alone.heatmaps, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(together[name].raw, alone.raw, rtol=1e-5, atol=1e-6)
        assert together[name].layer == alone.layer and together[name].target == alone.target
        assert together[name].method == name
    # Alone, each of the four CAMs makes its own pass: three more than together.
    calls.clear()
    for name in names:
        explain(model, x, name, target=1, **options.get(name, {}))
    assert len(calls) - shared_forwards == 3


def test_explain_methods_refuses_before_running_anything():
    from radxai.explain import explain_methods

    model = build("cnn2d", width=0.125, num_outputs=2).eval()
    calls = _counted_forwards(model)
    x = np.zeros((1, 1, 16, 16), dtype=np.float32)
    with pytest.raises(ValueError, match="more than once: gradcam"):
        explain_methods(model, x, ["gradcam", "gradcam"])
    with pytest.raises(ValueError, match="not explained: smoothgrad"):
        explain_methods(model, x, ["gradcam"], options={"smoothgrad": {"samples": 2}})
    with pytest.raises(TypeError, match="unknown option"):
        explain_methods(model, x, ["gradcam", "hirescam"], options={"hirescam": {"steps": 2}})
    with pytest.raises(ValueError, match="unknown method"):
        explain_methods(model, x, ["gradcam", "no_such_method"])
    assert calls == []
