"""LayerCAM (Jiang et al. 2021): feature maps weighted by their positive gradient per position.

map = ReLU(sum_f ReLU(G_f) * A_f), elementwise over positions, in 2D or 3D.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radxai.explain.cam.base import BaseCAM, CAMContext
from radxai.explain.registry import register_method

__all__ = ["LayerCAM"]


@register_method("layercam")
@dataclass
class LayerCAM(BaseCAM):
    """LayerCAM over any number of spatial axes. No options."""

    def weights_or_map(self, activations: np.ndarray, gradients: np.ndarray | None, context: CAMContext) -> np.ndarray:
        """The map (N, *s) = sum over features of ReLU(G) * A."""
        assert gradients is not None
        return (np.maximum(gradients, 0.0) * activations).sum(axis=1)
