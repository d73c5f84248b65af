"""Tests of radxai.explain.capture: hooks always removed, model state always restored, and the
performance contract of a CAM (no weight gradients, no backward below the layer)."""

import gc
import tracemalloc
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from radxai.explain import explain
from radxai.explain.capture import capture_layer, explanation_mode, relu_backward_rule


class Tiny(nn.Module):
    """Two conv stages -> pooling -> Linear(F, 3); cam layer ``stage2.conv``."""

    cam_layer = "stage2.conv"

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stage1 = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 4, 3, padding=1), activation=nn.ReLU()))
        self.stage2 = nn.Sequential(OrderedDict(conv=nn.Conv2d(4, 4, 3, padding=1), activation=nn.ReLU()))
        self.dropout = nn.Dropout(0.5)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(self.dropout(self.stage2(self.stage1(x)).mean(dim=(2, 3))))


class Failing(Tiny):
    """Raises after the cam layer ran: an error in the middle of an explanation."""

    def forward(self, x):
        self.stage2(self.stage1(x))
        raise RuntimeError("broken head")


def hooks_left(model: nn.Module) -> list[str]:
    return [
        f"{name or 'model'}.{kind}"
        for name, module in model.named_modules()
        for kind in ("_forward_hooks", "_backward_hooks", "_forward_pre_hooks")
        if getattr(module, kind)
    ]


def state(model: nn.Module) -> tuple[list[bool], list[bool]]:
    return (
        [module.training for module in model.modules()],
        [parameter.requires_grad for parameter in model.parameters()],
    )


def mixed_state_model(model_class=Tiny) -> nn.Module:
    """A model in training mode except one submodule, with one parameter frozen."""
    model = model_class().train()
    model.stage1.eval()
    model.stage2.conv.bias.requires_grad_(False)
    return model


X = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))

METHODS = ["gradcam", "scorecam", "saliency", "guided_backprop", "integrated_gradients"]


@pytest.mark.parametrize("method", METHODS)
def test_explain_restores_the_model_exactly(method):
    model = mixed_state_model()
    before = state(model)
    explain(model, X, method, target=1, **({"steps": 4} if method == "integrated_gradients" else {}))
    assert hooks_left(model) == []
    assert state(model) == before


@pytest.mark.parametrize("method", ["gradcam", "scorecam", "saliency", "guided_backprop"])
def test_model_is_restored_when_the_call_raises_midway(method):
    model = mixed_state_model(Failing)
    before = state(model)
    with pytest.raises(RuntimeError, match="broken head"):
        explain(model, X, method, target=1)
    assert hooks_left(model) == []
    assert state(model) == before


def test_model_is_restored_when_the_target_callable_raises():
    model = mixed_state_model()
    before = state(model)

    def broken(output):
        raise KeyError("no such finding")

    with pytest.raises(KeyError, match="no such finding"):
        explain(model, X, "hirescam", target=broken)
    assert hooks_left(model) == []
    assert state(model) == before


def test_hundred_calls_leave_no_hooks_and_no_memory_growth():
    model = Tiny()
    explain(model, X, "gradcam", target=0)  # warm-up: lazy initialisation inside torch
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for index in range(100):
            explain(model, X, "gradcam", target=index % 3)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert hooks_left(model) == []
    assert all(parameter.requires_grad for parameter in model.parameters())
    assert model.training
    # A leak of one activation or hook per call would cost far more than this over 100 calls.
    assert growth < 200_000


def test_cam_computes_no_weight_gradients_and_no_backward_below_the_layer():
    model = Tiny()
    fired = []
    below = model.stage1.conv.register_full_backward_hook(lambda *args: fired.append("backward"))
    graph_below = []
    recorder = model.stage1.activation.register_forward_hook(
        lambda module, inputs, output: graph_below.append(output.requires_grad)
    )
    try:
        explain(model, X, "gradcam", target=[0, 2])
    finally:
        below.remove()
        recorder.remove()
    assert fired == []
    assert graph_below == [False]  # no autograd history recorded below the layer at all
    assert all(parameter.grad is None for parameter in model.parameters())


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_the_contract_check_can_fail():
    """The same probes do fire for a plain forward/backward pass with weight gradients."""
    model = Tiny()
    fired = []
    handle = model.stage1.conv.register_full_backward_hook(lambda *args: fired.append("backward"))
    try:
        model(X)[:, 0].sum().backward()
    finally:
        handle.remove()
    assert fired == ["backward"]
    assert model.stage1.conv.weight.grad is not None


def test_explanation_mode_restores_after_an_exception():
    model = mixed_state_model()
    before = state(model)
    with pytest.raises(ZeroDivisionError), explanation_mode(model):
        assert not any(module.training for module in model.modules())
        assert not any(parameter.requires_grad for parameter in model.parameters())
        raise ZeroDivisionError("inside")
    assert state(model) == before


def test_capture_layer_starts_the_graph_at_the_layer():
    model = Tiny().eval()
    with capture_layer(model, "stage2.conv", start_graph=True) as recorder:
        output = model(X)
    assert recorder.calls == 1
    assert recorder.activation.is_leaf and recorder.activation.requires_grad
    (gradient,) = torch.autograd.grad(output[:, 0].sum(), recorder.activation)
    assert gradient.shape == (2, 4, 8, 8)
    assert hooks_left(model) == []


def test_captured_activation_survives_in_place_changes_after_the_layer():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU(inplace=True))
    with capture_layer(model, "0", start_graph=True) as recorder, torch.enable_grad():
        model(-torch.ones(1, 1, 2, 2))
    expected = model[0](-torch.ones(1, 1, 2, 2)).detach()
    torch.testing.assert_close(recorder.activation.detach(), expected)


def test_capture_layer_removes_its_hook_on_exceptions():
    model = Tiny()
    with pytest.raises(ValueError), capture_layer(model, "stage1.conv", start_graph=False):
        raise ValueError("inside")
    assert hooks_left(model) == []


class ScaledRelu(nn.Module):
    """sum(w * ReLU(x)): the gradient through the ReLU is easy to write down."""

    def __init__(self, weights: torch.Tensor) -> None:
        super().__init__()
        self.activation = nn.ReLU()
        self.weights = weights

    def forward(self, x):
        return (self.weights * self.activation(x)).sum()


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("plain", lambda x, w: w * (x > 0)),
        ("guided", lambda x, w: (w * (x > 0)).clamp(min=0)),
        ("deconvnet", lambda x, w: w.clamp(min=0)),
    ],
)
def test_relu_backward_rules(rule, expected):
    x = torch.tensor([1.0, -1.0, 2.0, -2.0], requires_grad=True)
    w = torch.tensor([1.0, 1.0, -1.0, -1.0])
    model = ScaledRelu(w)
    with relu_backward_rule(model, rule) as count:
        (gradient,) = torch.autograd.grad(model(x), x)
    assert count == 1
    torch.testing.assert_close(gradient, expected(x.detach(), w))
    assert hooks_left(model) == []


def test_guided_rule_on_a_model_without_relu_modules_is_an_error():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.LazyLinear(2))
    model(torch.zeros(1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"guided backward rule acts on nn\.ReLU modules"):
        explain(model, torch.zeros(1, 1, 5, 5), "guided_backprop", target=0)


def test_maps_of_a_restored_model_match_a_fresh_one():
    used = Tiny()
    for _ in range(3):
        explain(used, X, "hirescam", target=1)
    np.testing.assert_array_equal(
        explain(used, X, "hirescam", target=1).heatmaps, explain(Tiny(), X, "hirescam", target=1).heatmaps
    )
