"""A CT volume with its geometry: voxel array, affine, spacing and optional masks.

Array order is (D, H, W) = (slice k, row j, column i). The affine follows the NIfTI
convention: it maps voxel indices (i, j, k) = (column, row, slice), i.e. the array axes in
reverse order, to RAS+ world coordinates in millimetres.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

# The NIfTI header stores the affine in float32, so a spacing derived from a written and
# re-read affine can differ from the float64 original in the 7th significant digit.
_SPACING_RELATIVE_TOLERANCE = 1e-5


def affine_to_spacing(affine: np.ndarray) -> tuple[float, float, float]:
    """Voxel size (dz, dy, dx) in mm, in array order, from a 4x4 voxel-to-world affine.

    Each size is the length of the world step taken by one index step: column 2 of the
    affine for the slice index k (dz), column 1 for the row index j (dy), column 0 for the
    column index i (dx). This holds for oblique and sheared affines too.
    """
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise ValueError(f"affine must be 4x4, got shape {matrix.shape}")
    lengths = np.linalg.norm(matrix[:3, :3], axis=0)
    return float(lengths[2]), float(lengths[1]), float(lengths[0])


def spacing_to_affine(spacing: Sequence[float], origin: Sequence[float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Diagonal 4x4 affine for axis-aligned voxels.

    spacing: (dz, dy, dx) in mm, array order. origin: (x, y, z) RAS world position in mm of
    the centre of voxel (0, 0, 0). Column i steps along +x by dx, row j along +y by dy and
    slice k along +z by dz.
    """
    dz, dy, dx = _validated_spacing(spacing)
    if len(origin) != 3:
        raise ValueError(f"origin must have 3 values (x, y, z) in mm, got {tuple(origin)}")
    affine = np.diag([dx, dy, dz, 1.0])
    affine[:3, 3] = np.asarray(origin, dtype=np.float64)
    return affine


def _validated_spacing(spacing: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(value) for value in spacing)
    if len(values) != 3:
        raise ValueError(f"spacing must have 3 values (dz, dy, dx) in mm, got {values}")
    if not all(np.isfinite(value) and value > 0 for value in values):
        raise ValueError(f"spacing must be positive and finite, got {values}")
    return values  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D image with its position in the world.

    array: (D, H, W) voxel values, e.g. Hounsfield units for CT.
    affine: 4x4 float64, maps NIfTI voxel indices (i, j, k) = (column, row, slice) to RAS+
        world millimetres.
    spacing: (dz, dy, dx) voxel size in mm, array order; must agree with the affine.
    masks: named voxel masks (e.g. "lungs", "lesion"), each of shape (D, H, W).
    """

    array: np.ndarray
    affine: np.ndarray
    spacing: tuple[float, float, float]
    masks: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if array.ndim != 3:
            raise ValueError(f"Volume array must be 3D (D, H, W), got shape {array.shape}")
        affine = _validated_affine(self.affine)
        spacing = _validated_spacing(self.spacing)
        _check_spacing_matches_affine(spacing, affine)
        masks = _validated_masks(self.masks, array.shape)
        # The dataclass is frozen so that geometry cannot drift after validation; the
        # normalised values are stored through object.__setattr__ for that reason.
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "affine", affine)
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "masks", masks)

    @classmethod
    def from_spacing(
        cls,
        array: np.ndarray,
        spacing: Sequence[float],
        origin: Sequence[float] = (0.0, 0.0, 0.0),
        masks: Mapping[str, np.ndarray] | None = None,
    ) -> Volume:
        """Volume with an axis-aligned affine.

        array: (D, H, W). spacing: (dz, dy, dx) in mm. origin: (x, y, z) RAS world position
        in mm of the centre of voxel (0, 0, 0). masks: optional, each (D, H, W).
        """
        affine = spacing_to_affine(spacing, origin)
        return cls(array, affine, _validated_spacing(spacing), dict(masks or {}))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape (D, H, W) in voxels."""
        return self.array.shape  # type: ignore[return-value]

    def with_array(self, new_array: np.ndarray) -> Volume:
        """Copy of this volume holding `new_array` (D, H, W) with the same geometry and masks.

        The shape must equal `self.shape`; affine and masks are copied, not shared.
        """
        new_array = np.asarray(new_array)
        if new_array.shape != self.shape:
            raise ValueError(f"with_array needs an array of the volume's shape {self.shape}, got {new_array.shape}")
        masks = {name: mask.copy() for name, mask in self.masks.items()}
        return Volume(new_array, self.affine.copy(), self.spacing, masks)


def _validated_affine(affine: np.ndarray) -> np.ndarray:
    matrix = np.array(affine, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise ValueError(f"Volume affine must be 4x4, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("Volume affine contains non-finite values")
    if not np.array_equal(matrix[3], [0.0, 0.0, 0.0, 1.0]):
        raise ValueError(f"Volume affine bottom row must be [0, 0, 0, 1], got {matrix[3]}")
    if abs(np.linalg.det(matrix[:3, :3])) == 0.0:
        raise ValueError("Volume affine is singular (its 3x3 part has zero determinant)")
    return matrix


def _check_spacing_matches_affine(spacing: tuple[float, float, float], affine: np.ndarray) -> None:
    from_affine = affine_to_spacing(affine)
    if not np.allclose(spacing, from_affine, rtol=_SPACING_RELATIVE_TOLERANCE, atol=0.0):
        raise ValueError(
            f"Volume spacing {spacing} (dz, dy, dx) disagrees with the affine, whose voxel "
            f"steps are {from_affine}; use Volume.from_spacing or affine_to_spacing(affine)"
        )


def _validated_masks(masks: Mapping[str, np.ndarray], shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    validated = {}
    for name, mask in masks.items():
        if not isinstance(name, str):
            raise ValueError(f"mask names must be strings, got {name!r}")
        mask_array = np.asarray(mask)
        if mask_array.shape != shape:
            raise ValueError(f"mask {name!r} has shape {mask_array.shape}, volume array has {shape}")
        validated[name] = mask_array
    return validated
