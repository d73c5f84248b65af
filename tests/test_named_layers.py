"""Tests of radxai.explain.backends.named_layers through the PyTorch backend (the Keras backend's
messages are checked in test_keras_explain.py): every way a layer or an output can be wrong."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from radxai.explain import explain


class TwoConvolutions(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.shared = nn.ReLU()
        self.unused = nn.Conv2d(3, 3, 1)
        self.fc = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.shared(self.shared(self.conv(x)))
        return self.fc(features.mean(dim=(2, 3)))


class Flat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


class NoLogits(TwoConvolutions):
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"features": super().forward(x)}


X = np.random.default_rng(0).random((2, 1, 4, 4), dtype=np.float32)


@pytest.mark.parametrize(
    ("layer", "error", "message"),
    [
        ("shared", ValueError, r"layer 'shared' ran 2 times in one forward pass"),
        ("unused", ValueError, r"layer 'unused' did not run in the forward pass"),
        ("fc", ValueError, r"layer 'fc' outputs shape \(2, 2\), not a map \(N, F, \*s\) with 2 spatial axes"),
        ("block9", ValueError, r"unknown layer 'block9' for TwoConvolutions; layers with a spatial output: conv"),
        ("", ValueError, r"unknown layer '' for TwoConvolutions"),
        (3, TypeError, r"layer must be a layer name \(str\) or None, got 3"),
    ],
)
def test_a_wrong_layer_is_named_with_what_went_wrong(layer, error, message) -> None:
    with pytest.raises(error, match=message):
        explain(TwoConvolutions(), X, "gradcam", target=0, layer=layer)


def test_a_cam_layer_that_is_no_layer_names_the_attribute() -> None:
    model = TwoConvolutions()
    model.cam_layer = "features"
    with pytest.raises(ValueError, match=r"TwoConvolutions.cam_layer = 'features' is not a layer of the model"):
        explain(model, X, "gradcam", target=0)


def test_a_model_without_spatial_layers_asks_for_a_layer() -> None:
    with pytest.raises(ValueError, match=r"no layer of Flat outputs a spatial map \(N, F, \*s\).*pass layer="):
        explain(Flat(), X, "gradcam", target=0)


def test_an_output_without_logits_asks_for_a_callable_target() -> None:
    with pytest.raises(ValueError, match="the model returned a dict without logits; pass a callable target"):
        explain(NoLogits(), X, "gradcam", target=0, layer="conv")
