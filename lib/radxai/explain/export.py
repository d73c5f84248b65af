"""Writing heatmaps so that they open aligned with their scan in ITK-SNAP or 3D Slicer."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from radxai.explain.explanation import Explanation

if TYPE_CHECKING:
    from radxai.data.volume import Volume

__all__ = ["save_heatmap_nifti"]


def save_heatmap_nifti(explanation: Explanation, like: Volume, path: str | os.PathLike[str], index: int = 0) -> None:
    """Write map `index` of a 3D explanation, (D, H, W) float32 in [0, 1], as a NIfTI file
    with the affine of the scan it explains.

    like: the `radxai.data.volume.Volume` that was explained (after any resampling, so that
        its array has the map's shape). The heatmap takes its affine unchanged, so it overlays
        the scan voxel for voxel in world coordinates.
    path: .nii or .nii.gz; written atomically by `radxai.data.io.write_nifti`.
    Raises ValueError for a 2D explanation, an index out of range, or a map whose shape
    differs from the volume's (naming both shapes).

    `radxai.data.io` is imported here, on use, and nowhere else in `radxai.explain`: the
    explanation engine itself stays independent of the data layer (docs/architecture.md,
    "Layers": explain never imports data); only this export touches files of the data
    layer's format.
    """
    from radxai.data.io import write_nifti

    heatmaps = explanation.heatmaps
    if heatmaps.ndim != 4:
        raise ValueError(
            f"save_heatmap_nifti needs a 3D explanation, heatmaps (N, D, H, W); got heatmaps of shape {heatmaps.shape}"
        )
    if not 0 <= index < len(heatmaps):
        raise ValueError(f"index {index} is out of range for {len(heatmaps)} heatmaps")
    heatmap = np.asarray(heatmaps[index], dtype=np.float32)
    if heatmap.shape != tuple(like.shape):
        raise ValueError(
            f"heatmap shape {heatmap.shape} differs from the volume shape {tuple(like.shape)}; "
            "explain the volume at the resolution of `like`"
        )
    write_nifti(heatmap, path, affine=like.affine)
