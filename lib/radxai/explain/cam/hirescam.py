"""HiResCAM (Draelos & Carin 2020): the elementwise product of gradient and feature maps.

map = ReLU(sum_f G_f * A_f). Unlike Grad-CAM it does not average the gradient over positions,
so for a model whose layer is followed by a single fully connected layer (possibly averaged
over slices, as AxialNet) the map before ReLU is exactly each position's contribution to the
score: it sums over positions to S - bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radxai.explain.cam.base import BaseCAM, CAMContext
from radxai.explain.registry import register_method

__all__ = ["HiResCAM"]


@register_method("hirescam")
@dataclass
class HiResCAM(BaseCAM):
    """HiResCAM over any number of spatial axes. No options."""

    def weights_or_map(self, activations: np.ndarray, gradients: np.ndarray | None, context: CAMContext) -> np.ndarray:
        """The map (N, *s) = sum over features of G * A."""
        assert gradients is not None
        return (gradients * activations).sum(axis=1)
