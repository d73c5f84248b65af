"""Voxel order: bring a CT volume into the phantoms' orientation and a map back to the scan's.

radxai's CT models are trained on (D, H, W) arrays whose columns run toward the patient's left,
rows toward posterior and slices toward the feet: nibabel axis codes (L, P, I) for the voxel
axes (i, j, k) = (column, row, slice). The synthetic phantoms are written so, and the real CT
loaders reorient to it. A scanner's file may order its voxels otherwise; `to_phantom_order`
reorders such a volume (flips and axis swaps only, the closest ones for an oblique affine) and
returns the `Reordering` that `Reordering.undo` applies backwards to any array of the reordered
shape, e.g. a heatmap, so that it lies on the scan's own voxel grid again.
"""

from __future__ import annotations

from dataclasses import dataclass

import nibabel as nib
import numpy as np

from radxai.data.volume import Volume, affine_to_spacing

__all__ = ["PHANTOM_AXIS_CODES", "Reordering", "reorient_like_phantoms", "to_phantom_order"]

# nibabel axis codes of the phantoms' voxel axes (i, j, k): each names the direction in which
# the index grows (see radxai.data.datasets.ct_affine).
PHANTOM_AXIS_CODES = ("L", "P", "I")


@dataclass(frozen=True)
class Reordering:
    """The flips and axis swaps that took a scan's (D, H, W) array to the phantoms' order.

    ``scan_orientation``: nibabel orientation of the scan's voxel axes (from its affine);
    ``scan_shape`` and ``reordered_shape``: (D, H, W) before and after.
    """

    scan_orientation: np.ndarray
    scan_shape: tuple[int, int, int]
    reordered_shape: tuple[int, int, int]

    def undo(self, array: np.ndarray) -> np.ndarray:
        """An array of ``reordered_shape`` in the phantoms' order (e.g. a heatmap on the reordered
        scan) put back in the scan's voxel order: shape ``scan_shape``. Another shape raises
        ValueError naming both."""
        array = np.asarray(array)
        if array.shape != self.reordered_shape:
            raise ValueError(
                f"cannot put an array of shape {array.shape} back on the scan's grid: "
                f"the reordered scan has shape {self.reordered_shape}"
            )
        backwards = nib.orientations.ornt_transform(
            nib.orientations.axcodes2ornt(PHANTOM_AXIS_CODES), self.scan_orientation
        )
        restored = nib.orientations.apply_orientation(array.transpose(2, 1, 0), backwards)
        return np.ascontiguousarray(restored.transpose(2, 1, 0))


def to_phantom_order(volume: Volume) -> tuple[Volume, Reordering]:
    """``volume`` with its voxels in the phantoms' order, and the `Reordering` that undoes it.

    Voxel values are untouched and the affine is updated so every voxel keeps its world (RAS
    mm) position. Masks are not carried over.
    """
    voxels_ijk = volume.array.transpose(2, 1, 0)
    current = nib.orientations.io_orientation(volume.affine)
    transform = nib.orientations.ornt_transform(current, nib.orientations.axcodes2ornt(PHANTOM_AXIS_CODES))
    reordered = nib.orientations.apply_orientation(voxels_ijk, transform)
    affine = volume.affine @ nib.orientations.inv_ornt_aff(transform, voxels_ijk.shape)
    array = np.ascontiguousarray(reordered.transpose(2, 1, 0))
    reordering = Reordering(current, tuple(volume.array.shape), tuple(array.shape))
    return Volume(array, affine, affine_to_spacing(affine)), reordering


def reorient_like_phantoms(volume: Volume) -> Volume:
    """``volume`` with its voxels reordered to the phantoms' axis codes (L, P, I); see `to_phantom_order`."""
    return to_phantom_order(volume)[0]
