"""Grad-CAM (Selvaraju et al. 2017): feature maps weighted by their mean gradient.

w_f = mean over positions s of G_f; map = ReLU(sum_f w_f A_f). In 3D the mean runs over
depth, height and width (the HiResCAM work's eq. 9).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radxai.explain.cam.base import BaseCAM, CAMContext
from radxai.explain.registry import register_method

__all__ = ["GradCAM"]


@register_method("gradcam")
@dataclass
class GradCAM(BaseCAM):
    """Grad-CAM over any number of spatial axes. No options."""

    def weights_or_map(self, activations: np.ndarray, gradients: np.ndarray | None, context: CAMContext) -> np.ndarray:
        """Weights (N, F): the gradient averaged over all positions of each feature map."""
        assert gradients is not None
        n, features = gradients.shape[:2]
        return gradients.reshape(n, features, -1).mean(axis=2)
