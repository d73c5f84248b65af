"""Grad-CAM++ (Chattopadhay et al. 2018): positive gradients weighted per position.

w_f = sum_s alpha_f(s) ReLU(G_f(s)), map = ReLU(sum_f w_f A_f), with the paper's closed form
for alpha under its assumption that the explained output is exp(S) of the (logit) score S and
S is piecewise linear in A, so that higher derivatives are powers of the first:

    alpha_f(s) = G_f(s)^2 / (2 G_f(s)^2 + sum_s' A_f(s') G_f(s')^3)

(alpha = 0 where the denominator is 0, which happens only where G_f(s) = 0). The sums run over
all positions, in 2D or 3D. The paper's weights carry a further factor exp(S) per sample; it is
left out, as it only rescales a sample's map (normalisation removes it) and overflows for large
logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radxai.explain.cam.base import BaseCAM, CAMContext
from radxai.explain.registry import register_method

__all__ = ["GradCAMPlusPlus"]


@register_method("gradcam++")
@dataclass
class GradCAMPlusPlus(BaseCAM):
    """Grad-CAM++ over any number of spatial axes. No options."""

    def weights_or_map(self, activations: np.ndarray, gradients: np.ndarray | None, context: CAMContext) -> np.ndarray:
        """Weights (N, F) = sum over positions of alpha * ReLU(G)."""
        assert gradients is not None
        n, features = gradients.shape[:2]
        g = gradients.reshape(n, features, -1).astype(np.float64)
        a = activations.reshape(n, features, -1).astype(np.float64)
        squared = g**2
        denominator = 2 * squared + (a * g**3).sum(axis=2, keepdims=True)
        safe = np.where(denominator != 0, denominator, 1.0)
        alpha = np.where(denominator != 0, squared / safe, 0.0)
        return (alpha * np.maximum(g, 0.0)).sum(axis=2)
