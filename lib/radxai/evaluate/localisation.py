"""How well a heatmap falls on a reference region (expert mask, organ, confounder).

A map and its mask share one spatial shape, 2D (H, W) or 3D (D, H, W).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mass_accuracy(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Share of the heatmap's total mass that lies inside ``mask`` (energy-based pointing game).

    heatmap: non-negative (*spatial); mask: boolean (*spatial). A map with no mass gives NaN:
    it points nowhere, which is not the same as pointing outside the mask.
    """
    heatmap = np.asarray(heatmap, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if heatmap.shape != mask.shape:
        raise ValueError(f"heatmap shape {heatmap.shape} differs from mask shape {mask.shape}")
    if np.any(heatmap < 0):
        raise ValueError("mass_accuracy needs a non-negative heatmap (apply ReLU or abs first)")
    total = heatmap.sum()
    if total <= 0:
        return float("nan")
    # The two sums round separately; keep the share a share.
    return float(min(1.0, heatmap[mask].sum() / total))


def batch_mass_accuracy(heatmaps: np.ndarray, masks: Sequence[np.ndarray]) -> np.ndarray:
    """``mass_accuracy`` of each map (N, *spatial) against its own mask; returns (N,)."""
    if len(heatmaps) != len(masks):
        raise ValueError(f"{len(heatmaps)} heatmaps but {len(masks)} masks")
    return np.array([mass_accuracy(heatmap, mask) for heatmap, mask in zip(heatmaps, masks)])
