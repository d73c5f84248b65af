"""The CAM family's common part: capture, combine, rectify, upsample, normalise.

A CAM explains the target score S through the activations A = (N, F, *s) of one layer and,
for gradient CAMs, G = dS/dA (same shape). A subclass overrides one function,
`BaseCAM.weights_or_map`, which returns either
- weights w of shape (N, F): the map is then sum_f w_f A_f (Grad-CAM, Grad-CAM++, Score-CAM), or
- the map itself, shape (N, *s) (HiResCAM, LayerCAM: elementwise products summed over f).
`BaseCAM` does the rest, for any number of spatial axes and any backend: `raw` is that map
(before ReLU, at layer resolution), and `heatmaps` is ReLU(raw) interpolated to the input size and
min-max normalised per sample (`radxai.explain.upsample.upsample_and_normalise`).

Subclasses are dataclasses whose fields are the method's options, registered with
`radxai.explain.registry.register_method`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from radxai.explain.backends import Backend, LayerCapture
from radxai.explain.explanation import Attribution
from radxai.explain.targets import Targets, TargetSpec
from radxai.explain.upsample import upsample_and_normalise

__all__ = ["BaseCAM", "CAMContext"]


@dataclass(frozen=True, eq=False)
class CAMContext:
    """What a CAM may need besides A and G, e.g. to score masked inputs (Score-CAM).

    backend: runs the model. inputs: the explained batch (N, C, *spatial) float32.
    targets: the resolved target of each sample.
    """

    backend: Backend
    inputs: np.ndarray
    targets: Targets


@dataclass
class BaseCAM(ABC):
    """A class activation map method; subclasses override `weights_or_map` only.

    `needs_gradients` is False for gradient-free CAMs (Score-CAM): the layer is then captured
    in a forward pass without autograd and `weights_or_map` receives gradients=None.
    """

    needs_gradients: ClassVar[bool] = True

    def __call__(self, backend: Backend, x: np.ndarray, target: TargetSpec, layer: str | None) -> Attribution:
        """Explain x (N, C, *spatial) at `layer` (None: the model's default CAM layer).

        Returns heatmaps (N, *spatial) in [0, 1] and raw (N, *s), the map before ReLU at the
        layer's resolution.
        """
        captured = backend.layer_capture(x, target, layer, gradients=self.needs_gradients)
        return self.from_capture(captured, backend, x)

    def from_capture(self, captured: LayerCapture, backend: Backend, x: np.ndarray) -> Attribution:
        """The attribution from a layer capture of x (N, C, *spatial) already made.

        Several gradient CAMs of one layer and target share one capture this way
        (`radxai.explain.explain_methods`): A and G do not depend on the method.
        """
        context = CAMContext(backend, x, captured.targets)
        raw = self.layer_map(captured.activations, captured.gradients, context)
        heatmaps = upsample_and_normalise(np.maximum(raw, 0.0), x.shape[2:])
        return Attribution(heatmaps, raw, captured.targets, captured.layer, captured.scores)

    def layer_map(self, activations: np.ndarray, gradients: np.ndarray | None, context: CAMContext) -> np.ndarray:
        """The signed map (N, *s) from activations (N, F, *s) and gradients (N, F, *s)."""
        result = np.asarray(self.weights_or_map(activations, gradients, context))
        n, features, *spatial = activations.shape
        if result.shape == (n, features):
            return np.einsum("nf,nf...->n...", result, activations).astype(np.float32)
        if result.shape == (n, *spatial):
            return result.astype(np.float32)
        raise ValueError(
            f"{type(self).__name__}.weights_or_map returned shape {result.shape}; expected "
            f"weights {(n, features)} or a map {(n, *spatial)}"
        )

    @abstractmethod
    def weights_or_map(self, activations: np.ndarray, gradients: np.ndarray | None, context: CAMContext) -> np.ndarray:
        """Weights (N, F) for sum_f w_f A_f, or the map (N, *s) itself.

        activations: A (N, F, *s). gradients: G = dS/dA (N, F, *s), or None when
        `needs_gradients` is False. context: see `CAMContext` (most CAMs ignore it).
        """
