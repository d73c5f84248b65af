"""Synthetic chest CT and chest X-ray phantoms with known ground truth.

What the phantoms model
-----------------------
``ct_phantom`` builds a chest CT volume in Hounsfield units (HU): air around the patient, a body
with a subcutaneous fat layer, two lungs with vessel-like texture, the mediastinum with the heart,
trachea and descending aorta, the thoracic spine, and the curved CT table the patient lies on.
Optional COVID-19-like lesions (ground-glass opacity and consolidation, favouring the peripheral
and posterior lung) are sized to a MosMed severity grade CT-0..CT-4 by the share of lung volume
involved, and come with voxel masks. Optional confounders (a metal marker on the table, a folded
blanket over the chest) let a notebook plant a shortcut that a classifier can learn and an
explanation can expose.

``cxr_phantom`` builds a frontal (PA) chest radiograph with findings named as in VinDr-CXR, the
true mask and box of each finding, and boxes drawn by several simulated readers who disagree the
way radiologists do (each has a bias, jitter, and sometimes misses a subtle finding).

Conventions
-----------
- Every phantom is a pure function of its seed and parameters: the same arguments give bitwise
  identical arrays. All randomness comes from ``numpy.random.default_rng`` streams spawned from the
  seed, one stream per purpose (anatomy, lesions, noise, each confounder, each finding, each
  reader). Switching a confounder on therefore changes only the confounder's voxels, and for a
  given seed the lesions of a higher CT grade contain those of a lower one.
- CT arrays are (D, H, W): D runs head -> feet, H anterior -> posterior, W from the patient's right
  to the patient's left as displayed radiologically (the right lung lies at low column indices).
  The field of view is 300 mm along D and 350 mm across H and W, so the voxel spacing follows the
  shape; ``spacing_mm`` is (dz, dy, dx).
- X-ray images are (H, W) float32 in [0, 1], bright = dense, the patient's right on the image
  left, field of view 350 mm x 350 mm. A box is (x_min, y_min, x_max, y_max) in pixel units with
  x = column and y = row; it covers the pixels with x_min <= column < x_max and y_min <= row < y_max.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CTPhantom",
    "CT_CONFOUNDERS",
    "CXRPhantom",
    "CXR_CONFOUNDERS",
    "CXR_FINDINGS",
    "GRADE_INVOLVEMENT",
    "LESION_LABELS",
    "NO_FINDING",
    "ORGAN_LABELS",
    "ReaderBox",
    "ct_phantom",
    "cxr_phantom",
    "grade_for_involvement",
]

ORGAN_LABELS: dict[str, int] = {"right_lung": 1, "left_lung": 2, "mediastinum": 3}
LESION_LABELS: dict[str, int] = {"ground_glass": 1, "consolidation": 2}
CT_CONFOUNDERS: tuple[str, ...] = ("marker", "blanket")

# MosMed severity grades by the share of lung volume involved: CT-0 none; CT-g for g >= 1 has
# lower < involvement <= upper.
GRADE_INVOLVEMENT: dict[int, tuple[float, float]] = {
    0: (0.0, 0.0), 1: (0.0, 0.25), 2: (0.25, 0.5), 3: (0.5, 0.75), 4: (0.75, 1.0),
}
# Drawn involvements keep clear of the grade edges so that a phantom is unambiguous about its grade.
_DRAWN_INVOLVEMENT: dict[int, tuple[float, float]] = {
    1: (0.03, 0.23), 2: (0.27, 0.48), 3: (0.52, 0.73), 4: (0.77, 0.95),
}

CXR_FINDINGS: dict[str, int] = {
    "Aortic enlargement": 0,
    "Cardiomegaly": 3,
    "Lung Opacity": 7,
    "Nodule/Mass": 8,
    "Pleural effusion": 10,
    "Pleural thickening": 11,
    "Pulmonary fibrosis": 13,
}
NO_FINDING: tuple[str, int] = ("No finding", 14)
CXR_CONFOUNDERS: tuple[str, ...] = ("side_marker",)
# Findings a reader may overlook; the large ones (heart, aorta, effusion) are always seen.
_SUBTLE_FINDINGS = frozenset({"Nodule/Mass", "Pulmonary fibrosis", "Pleural thickening", "Lung Opacity"})

_CT_FIELD_OF_VIEW_MM = (300.0, 350.0, 350.0)
# In-plane CT and X-ray geometry is written in "units" of half the 350 mm field of view, so that
# -1..+1 spans the image; CT positions along D are fractions of the 300 mm length.
_HALF_FIELD_MM = 175.0
_CXR_FIELD_OF_VIEW_MM = 350.0
_MIN_CT_SIDE = 16
_MIN_CXR_SIDE = 64


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True, eq=False)
class CTPhantom:
    """A synthetic chest CT with its lesion and organ masks.

    Attributes:
        hu: float32 (D, H, W) Hounsfield units, clipped to [-1024, 3071].
        lesion_mask: uint8 (D, H, W); 0 background, 1 ground-glass opacity, 2 consolidation
            (see ``LESION_LABELS``).
        organ_mask: uint8 (D, H, W) with the labels of ``ORGAN_LABELS`` (mediastinum includes the
            heart, trachea and aorta), 0 elsewhere.
        grade: MosMed severity grade 0..4 (CT-0..CT-4).
        involvement: achieved share of lung voxels that are lesion voxels, in [0, 1].
        spacing_mm: voxel size (dz, dy, dx) in mm.
        confounders: names of the confounders present, in ``CT_CONFOUNDERS`` order.
        seed: the seed the phantom was built from.
    """

    hu: np.ndarray
    lesion_mask: np.ndarray
    organ_mask: np.ndarray
    grade: int
    involvement: float
    spacing_mm: tuple[float, float, float]
    confounders: tuple[str, ...]
    seed: int

    @property
    def lung_mask(self) -> np.ndarray:
        """bool (D, H, W): both lungs."""
        return (self.organ_mask == ORGAN_LABELS["right_lung"]) | (self.organ_mask == ORGAN_LABELS["left_lung"])

    @property
    def lesion_binary(self) -> np.ndarray:
        """bool (D, H, W): any lesion (ground glass or consolidation)."""
        return self.lesion_mask > 0


@dataclass(frozen=True)
class ReaderBox:
    """One simulated reader's box around one finding, in pixels (x = column, y = row).

    ``reader_id`` is "R1", "R2", ...; ``finding`` is a key of ``CXR_FINDINGS``. The box covers
    x_min <= column < x_max and y_min <= row < y_max and lies inside the image.
    """

    reader_id: str
    finding: str
    x_min: float
    y_min: float
    x_max: float
    y_max: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max) in pixels."""
        return (self.x_min, self.y_min, self.x_max, self.y_max)


@dataclass(frozen=True, eq=False)
class CXRPhantom:
    """A synthetic frontal chest X-ray with its findings, true extents and readers' boxes.

    Attributes:
        image: float32 (H, W) in [0, 1], bright = dense; the patient's right on the image left.
        labels: finding name -> present, over all ``CXR_FINDINGS`` plus "No finding" (True iff no
            finding is present).
        finding_masks: bool (H, W) true extent of each present finding (the heart for
            Cardiomegaly, the aortic knob for Aortic enlargement).
        true_boxes: (x_min, y_min, x_max, y_max) pixel box of each present finding's mask.
        reader_boxes: boxes of the simulated readers, only ever for present findings.
        confounders: names of the confounders present, in ``CXR_CONFOUNDERS`` order.
        seed: the seed the phantom was built from.
        pixel_spacing_mm: pixel size (row, column) in mm.
        cardiothoracic_ratio: heart width / thorax width as built (> 0.55 with Cardiomegaly).
    """

    image: np.ndarray
    labels: dict[str, bool]
    finding_masks: dict[str, np.ndarray]
    true_boxes: dict[str, tuple[float, float, float, float]]
    reader_boxes: list[ReaderBox]
    confounders: tuple[str, ...]
    seed: int
    pixel_spacing_mm: tuple[float, float]
    cardiothoracic_ratio: float


# ---------------------------------------------------------------------------- helpers


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _streams(seed: int, purposes: Sequence[str]) -> dict[str, np.random.SeedSequence]:
    """One independent seed sequence per purpose; appending purposes never changes earlier ones."""
    children = np.random.SeedSequence(seed).spawn(len(purposes))
    return dict(zip(purposes, children))


def _names(given: Sequence[str] | str | None, valid: Sequence[str], what: str) -> tuple[str, ...]:
    """Validated names in the canonical order of ``valid``; a bare string counts as one name."""
    if given is None:
        return ()
    names = (given,) if isinstance(given, str) else tuple(given)
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise ValueError(f"unknown {what} {unknown!r}; valid names are {list(valid)}")
    return tuple(name for name in valid if name in names)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    """0 for t <= 0, 1 for t >= 1, a C1 ramp between; keeps edges soft without blurring."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _cubic_bspline(t: np.ndarray) -> np.ndarray:
    t = np.abs(t)
    return np.where(t < 1.0, 2.0 / 3.0 - t**2 + t**3 / 2.0, np.where(t < 2.0, (2.0 - t) ** 3 / 6.0, 0.0))


@functools.lru_cache(maxsize=64)
def _upsampling_matrix(n_out: int, n_cells: int) -> np.ndarray:
    """(n_out, n_cells + 3) cubic B-spline weights from a padded coarse grid to n_out samples.

    Rows are scaled to unit norm so that white noise on the coarse grid becomes a field with unit
    variance at every sample (plain B-spline smoothing would ripple in variance with the grid).
    """
    position = 1.0 + (np.arange(n_out) + 0.5) * n_cells / n_out
    weights = _cubic_bspline(position[:, None] - np.arange(n_cells + 3)[None, :])
    # Tails below 1e-6 would become float32 denormals, which slow matrix products many times over.
    weights[weights < 1e-6] = 0.0
    weights /= np.sqrt((weights**2).sum(axis=1, keepdims=True))
    weights = weights.astype(np.float32)
    weights.flags.writeable = False  # shared through the cache
    return weights


def _smooth_field(rng: np.random.Generator, shape: Sequence[int], cells: Sequence[int]) -> np.ndarray:
    """float32 random field of ``shape``, zero mean and unit variance, correlated over one cell.

    Noise drawn on a coarse grid of ``cells`` per axis is upsampled separably with cubic B-spline
    weights (small matrix products), which is far cheaper than filtering a full-size noise array.
    """
    cells = [max(2, int(count)) for count in cells]
    field = rng.standard_normal([count + 3 for count in cells], dtype=np.float32)
    # Last axis first, each step one contiguous matrix product, so no strided copies are needed.
    for axis in reversed(range(field.ndim)):
        matrix = _upsampling_matrix(int(shape[axis]), cells[axis])
        before = math.prod(field.shape[:axis])
        after = math.prod(field.shape[axis + 1:])
        if after == 1:
            product = field.reshape(before, -1) @ matrix.T
        else:
            product = matrix @ field.reshape(before, field.shape[axis], after)
        field = product.reshape(field.shape[:axis] + (matrix.shape[0],) + field.shape[axis + 1:])
    return field


def _jitter(rng: np.random.Generator, value: float, relative: float = 0.1) -> float:
    return float(value * (1.0 + rng.uniform(-relative, relative)))


def _shift(rng: np.random.Generator, value: float, amount: float) -> float:
    return float(value + rng.uniform(-amount, amount))


def _bounding_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """(x_min, y_min, x_max, y_max) pixel edges of a non-empty 2D mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    return (float(columns[0]), float(rows[0]), float(columns[-1] + 1), float(rows[-1] + 1))


# --------------------------------------------------------------------------- CT: input


def grade_for_involvement(involvement: float) -> int:
    """MosMed grade 0..4 of a lung involvement fraction in [0, 1] (0 -> CT-0, 0.3 -> CT-2)."""
    is_number = isinstance(involvement, (int, float, np.floating, np.integer)) and not isinstance(involvement, bool)
    if not (is_number and 0.0 <= involvement <= 1.0):
        raise ValueError(f"involvement must be a fraction in [0, 1], got {involvement!r}")
    if involvement == 0.0:
        return 0
    return next(grade for grade in (1, 2, 3, 4) if involvement <= GRADE_INVOLVEMENT[grade][1])


def _check_ct_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    dims = tuple(shape)
    if len(dims) != 3 or any(int(side) != side or side < _MIN_CT_SIDE for side in dims):
        raise ValueError(f"CT shape must be 3 integers (D, H, W), each >= {_MIN_CT_SIDE}, got {shape!r}")
    return tuple(int(side) for side in dims)  # type: ignore[return-value]


def _resolve_severity(grade: int | None, involvement: float | None,
                      rng: np.random.Generator) -> tuple[int, float]:
    """(grade, target involvement) from the caller's choices, drawing what was left open."""
    if grade is not None and (isinstance(grade, bool) or grade not in GRADE_INVOLVEMENT):
        raise ValueError(f"grade must be an integer in 0..4 (MosMed CT-0..CT-4), got {grade!r}")
    # Both draws always happen so that the stream does not depend on which arguments were given.
    drawn_grade = int(rng.integers(0, 5))
    unit_draw = float(rng.random())
    if involvement is not None:
        implied = grade_for_involvement(involvement)
        if grade is not None and implied != grade:
            lower, upper = GRADE_INVOLVEMENT[grade]
            span = "exactly 0" if grade == 0 else f"in ({lower}, {upper}]"
            raise ValueError(f"involvement {involvement} does not fit grade CT-{grade}: "
                             f"CT-{grade} needs involvement {span}")
        return implied, float(involvement)
    grade = drawn_grade if grade is None else int(grade)
    if grade == 0:
        return 0, 0.0
    lower, upper = _DRAWN_INVOLVEMENT[grade]
    return grade, lower + unit_draw * (upper - lower)


# --------------------------------------------------------------------------- CT: layout


@dataclass(frozen=True)
class _CTGrid:
    """Voxel-centre coordinates, broadcastable to (D, H, W).

    z: (D, 1, 1) fraction of the 300 mm length, 0 = head end. y: (1, H, 1) units, -1 anterior.
    x: (1, 1, W) units, -1 = patient's right. voxel: size of one voxel in (z, y, x) of those units.
    """

    shape: tuple[int, int, int]
    z: np.ndarray
    y: np.ndarray
    x: np.ndarray
    voxel: tuple[float, float, float]

    @property
    def plane_y(self) -> np.ndarray:
        """(H, 1) in-plane row coordinate."""
        return self.y[0]

    @property
    def plane_x(self) -> np.ndarray:
        """(1, W) in-plane column coordinate."""
        return self.x[0]


def _ct_grid(shape: tuple[int, int, int]) -> _CTGrid:
    depth, height, width = shape
    z = ((np.arange(depth, dtype=np.float32) + 0.5) / depth).reshape(depth, 1, 1)
    y = ((np.arange(height, dtype=np.float32) + 0.5) / height * 2.0 - 1.0).reshape(1, height, 1)
    x = ((np.arange(width, dtype=np.float32) + 0.5) / width * 2.0 - 1.0).reshape(1, 1, width)
    return _CTGrid(shape, z, y, x, (1.0 / depth, 2.0 / height, 2.0 / width))


def _units(mm: float) -> float:
    return mm / _HALF_FIELD_MM


@dataclass(frozen=True)
class _CTLayout:
    """Per-seed anatomy of the CT phantom; in-plane lengths in units, z in fractions of 300 mm."""

    body_y: float
    body_half_width: float
    body_half_depth_front: float
    body_half_depth_back: float
    fat: float
    chest_wall: float
    table_gap: float
    table_curvature: float
    table_thickness: float
    lung_x: tuple[float, float]  # right, left
    lung_y: float
    lung_half_width: tuple[float, float]
    lung_half_depth: float
    lung_apex_z: tuple[float, float]
    lung_dome_z: tuple[float, float]
    lung_recess_z: tuple[float, float]
    lung_taper_z: float
    heart_center: tuple[float, float, float]  # z, y, x
    heart_radii: tuple[float, float, float]
    mediastinum_half_width: float
    sternum_y: float
    trachea_radius: float
    carina_z: float
    spine_y: float
    vertebra_radius: float
    vertebra_period_mm: float
    disc_mm: float
    disc_phase: float
    aorta_radius: float


def _draw_ct_layout(rng: np.random.Generator) -> _CTLayout:
    """Anatomy sizes and positions with about +-10% per-seed variation."""
    body_y = _shift(rng, -0.08, 0.02)
    half_depth_back = _jitter(rng, 0.5, 0.06)
    lung_shift = _shift(rng, 0.0, 0.02)
    right_dome = _shift(rng, 0.63, 0.03)
    heart_z = _shift(rng, 0.55, 0.03)
    spine_y = body_y + half_depth_back - _jitter(rng, 0.34, 0.06)
    return _CTLayout(
        body_y=body_y,
        body_half_width=_jitter(rng, 0.84, 0.06),
        body_half_depth_front=_jitter(rng, 0.56, 0.06),
        body_half_depth_back=half_depth_back,
        fat=_units(_jitter(rng, 10.0, 0.3)),
        chest_wall=_units(_jitter(rng, 11.0, 0.15)),
        table_gap=_units(_jitter(rng, 16.0, 0.25)),
        table_curvature=_jitter(rng, 0.15, 0.2),
        table_thickness=_units(_jitter(rng, 14.0, 0.1)),
        lung_x=(_shift(rng, -0.4, 0.02) + lung_shift, _shift(rng, 0.4, 0.02) + lung_shift),
        lung_y=_shift(rng, 0.02, 0.02),
        lung_half_width=(_jitter(rng, 0.33), _jitter(rng, 0.32)),
        lung_half_depth=_jitter(rng, 0.46),
        lung_apex_z=(_shift(rng, 0.06, 0.02), _shift(rng, 0.06, 0.02)),
        # The right hemidiaphragm sits higher than the left (the liver lies under it).
        lung_dome_z=(right_dome, right_dome + _jitter(rng, 0.04, 0.3)),
        lung_recess_z=(_shift(rng, 0.9, 0.03), _shift(rng, 0.92, 0.03)),
        lung_taper_z=_jitter(rng, 0.28),
        heart_center=(heart_z, _shift(rng, -0.16, 0.03), _shift(rng, 0.09, 0.03)),
        heart_radii=(_jitter(rng, 0.18), _jitter(rng, 0.24), _jitter(rng, 0.28)),
        mediastinum_half_width=_jitter(rng, 0.11),
        sternum_y=body_y - _jitter(rng, 0.5, 0.05),
        trachea_radius=_units(_jitter(rng, 9.0)),
        carina_z=_shift(rng, 0.33, 0.03),
        spine_y=spine_y,
        vertebra_radius=_units(_jitter(rng, 20.0)),
        vertebra_period_mm=_jitter(rng, 27.0),
        disc_mm=_jitter(rng, 6.0),
        disc_phase=float(rng.random()),
        aorta_radius=_units(_jitter(rng, 12.0)),
    )


# ------------------------------------------------------------------------- CT: anatomy


def _body_radius_squared(grid: _CTGrid, layout: _CTLayout, inset: float) -> np.ndarray:
    """(H, W) squared elliptical radius of the body outline shrunk by ``inset`` units; < 1 inside.

    The back is less curved than the front, so the two halves use different depths.
    """
    y, x = grid.plane_y, grid.plane_x
    half_depth = np.where(y < layout.body_y, layout.body_half_depth_front, layout.body_half_depth_back)
    return ((x / (layout.body_half_width - inset)) ** 2
            + ((y - layout.body_y) / (half_depth - inset)) ** 2)


def _table_top(grid: _CTGrid, layout: _CTLayout) -> np.ndarray:
    """(1, W) row coordinate of the table's upper surface; it curves up towards the sides."""
    lowest_body_point = layout.body_y + layout.body_half_depth_back
    return lowest_body_point + layout.table_gap - layout.table_curvature * grid.plane_x**2


def _table_masks(grid: _CTGrid, layout: _CTLayout) -> tuple[np.ndarray, np.ndarray]:
    """(shell, core) bool (H, W): a carbon-fibre-like plate with a foam core."""
    y = grid.plane_y
    top = _table_top(grid, layout)
    # At coarse resolutions the plate must still be at least two voxels thick to stay visible.
    thickness = max(layout.table_thickness, 2.2 * grid.voxel[1])
    skin = max(_units(3.0), grid.voxel[1])
    within = (np.abs(grid.plane_x) < 0.92) & (y >= top) & (y <= top + thickness)
    core = within & (y > top + skin) & (y < top + thickness - skin)
    return within & ~core, core


def _spine_masks(grid: _CTGrid, layout: _CTLayout) -> dict[str, np.ndarray]:
    """bool (H, W) masks of the vertebra parts: cortex, cancellous bone, posterior arch, canal."""
    y, x = grid.plane_y, grid.plane_x
    radius = layout.vertebra_radius
    body_distance = np.hypot(x, y - layout.spine_y)
    cortex = max(_units(3.0), 1.2 * max(grid.voxel[1:]))
    canal_radius = _units(8.0)
    canal_y = layout.spine_y + radius + canal_radius + cortex
    canal_distance = np.hypot(x, y - canal_y)
    arch = (canal_distance < canal_radius + _units(6.0)) & (canal_distance >= canal_radius)
    spinous = (np.abs(x) < max(_units(4.0), grid.voxel[2])) & (y > canal_y) & (y < canal_y + _units(32.0))
    transverse = (np.abs(y - canal_y) < _units(5.0)) & (np.abs(x) < _units(38.0)) & (y > layout.spine_y)
    return {
        "body": body_distance < radius,
        "cancellous": body_distance < radius - cortex,
        "arch": (arch | spinous | transverse) & (body_distance >= radius),
        "canal": canal_distance < canal_radius,
    }


def _disc_slices(grid: _CTGrid, layout: _CTLayout) -> np.ndarray:
    """(D, 1, 1) bool: slices through an intervertebral disc, periodic along the spine."""
    position_mm = grid.z * _CT_FIELD_OF_VIEW_MM[0]
    phase = np.mod(position_mm / layout.vertebra_period_mm + layout.disc_phase, 1.0)
    return phase < layout.disc_mm / layout.vertebra_period_mm


def _add_ribs(grid: _CTGrid, layout: _CTLayout, hu: np.ndarray, chest_wall: np.ndarray) -> None:
    """Paint ribs (~450 HU) into the chest wall ring of ``hu`` (D, H, W), in place.

    Ribs run obliquely: each one descends from the spine towards the front, so an axial slice cuts
    several rib segments at different positions around the wall.
    """
    rows, columns = np.nonzero(chest_wall)
    y = grid.plane_y[rows, 0]
    x = grid.plane_x[0, columns]
    # 0 at the back, 1 at the front, measured as the angle around the body centre.
    around = np.arccos(np.clip((y - layout.body_y) / np.hypot(x, y - layout.body_y).clip(1e-6), -1.0, 1.0)) / np.pi
    position_mm = grid.z[:, 0, :] * _CT_FIELD_OF_VIEW_MM[0]
    phase = np.mod((position_mm + 70.0 * around[None, :]) / layout.vertebra_period_mm + layout.disc_phase, 1.0)
    # The front ends near the sternum are cartilage, not bone.
    rib = (phase < 0.35) & (np.abs(x) > _units(25.0))[None, :] & (grid.z[:, 0, :] > 0.08)
    segment = hu[:, rows, columns]
    hu[:, rows, columns] = np.where(rib, 450.0, segment)


def _mediastinum_mask(grid: _CTGrid, layout: _CTLayout, inside_cavity: np.ndarray,
                      spine_front: float) -> np.ndarray:
    """bool (D, H, W): the central band between sternum and spine, the heart, and the aorta."""
    z, y, x = grid.z, grid.y, grid.x
    heart_z, heart_y, heart_x = layout.heart_center
    radius_z, radius_y, radius_x = layout.heart_radii
    heart = ((z - heart_z) / radius_z) ** 2 + ((y - heart_y) / radius_y) ** 2 + ((x - heart_x) / radius_x) ** 2 < 1.0
    band = ((np.abs(x) < layout.mediastinum_half_width) & (y > layout.sternum_y) & (y < spine_front)
            & (z < heart_z))
    aorta_y = layout.spine_y - 0.35 * layout.vertebra_radius
    aorta_x = layout.vertebra_radius + layout.aorta_radius + _units(2.0)
    aorta = (np.hypot(grid.plane_x - aorta_x, grid.plane_y - aorta_y) < layout.aorta_radius) & (z > 0.22)
    return (heart | band | aorta) & inside_cavity


def _lung_radius_squared(grid: _CTGrid, layout: _CTLayout, side: int,
                         deformation: np.ndarray) -> np.ndarray:
    """(D, H, W) squared normalised radius of one lung's ellipsoid, tapering to the apex; < 1 inside."""
    # A circular profile gives the rounded apex of a real lung.
    below_apex = np.clip((grid.z - layout.lung_apex_z[side]) / layout.lung_taper_z, 1e-3, 1.0)
    taper = np.sqrt(below_apex * (2.0 - below_apex))
    half_width = layout.lung_half_width[side] * taper
    half_depth = layout.lung_half_depth * taper
    return (((grid.x - layout.lung_x[side]) / half_width) ** 2
            + ((grid.y - layout.lung_y) / half_depth) ** 2 + deformation)


def _lung_mask(grid: _CTGrid, layout: _CTLayout, side: int, radius_squared: np.ndarray,
               allowed: np.ndarray) -> np.ndarray:
    """bool (D, H, W): one lung, ending in a diaphragm dome that is deepest at the rim."""
    dome, recess = layout.lung_dome_z[side], layout.lung_recess_z[side]
    floor = dome + (recess - dome) * np.clip(radius_squared, 0.0, 1.0) ** 2
    return (radius_squared < 1.0) & (grid.z > layout.lung_apex_z[side]) & (grid.z < floor) & allowed


@dataclass(frozen=True)
class _CTAnatomy:
    hu: np.ndarray  # float32 (D, H, W), no lesions, no noise
    organ_mask: np.ndarray  # uint8 (D, H, W)
    lung: np.ndarray  # bool (D, H, W)
    lung_radius: np.ndarray  # float32 (D, H, W) normalised distance from the lung's core, ~1 at the rim
    body: np.ndarray  # bool (H, W)
    table: np.ndarray  # bool (H, W)
    tissue_texture: np.ndarray  # float32 (D, H, W) unit random field
    vessels: np.ndarray  # float32 (D, H, W) vessel occupancy in [0, 1]


def _field_cells(shape: tuple[int, ...], cell_mm: float, field_of_view_mm: Sequence[float]) -> list[int]:
    # Cells are set in millimetres so that the texture looks the same at every resolution.
    return [max(2, round(extent / cell_mm)) for extent in field_of_view_mm[-len(shape):]]


_VESSEL_HU = 20.0


def _healthy_lung_hu(grid: _CTGrid, layout: _CTLayout, lung: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """HU of lung parenchyma without vessels at the lung voxels, as a 1D array in mask order."""
    # Dependent (posterior) lung is slightly denser, as in a supine patient.
    gravity = 20.0 * (grid.y - layout.lung_y) / layout.lung_half_depth
    return np.broadcast_to(-875.0 + gravity, grid.shape)[lung] + 12.0 * texture[lung]


def _build_ct_anatomy(grid: _CTGrid, layout: _CTLayout, rng: np.random.Generator) -> _CTAnatomy:
    shape = grid.shape
    body = _body_radius_squared(grid, layout, 0.0) < 1.0
    under_fat = _body_radius_squared(grid, layout, layout.fat) < 1.0
    cavity = _body_radius_squared(grid, layout, layout.fat + layout.chest_wall) < 1.0
    shell, core = _table_masks(grid, layout)
    spine = _spine_masks(grid, layout)
    spine_all = spine["body"] | spine["arch"] | spine["canal"]

    tissue_texture = _smooth_field(rng, shape, _field_cells(shape, 30.0, _CT_FIELD_OF_VIEW_MM))
    deformation = 0.08 * _smooth_field(rng, shape, _field_cells(shape, 70.0, _CT_FIELD_OF_VIEW_MM))
    vessel_a = _smooth_field(rng, shape, _field_cells(shape, 16.0, _CT_FIELD_OF_VIEW_MM))
    vessel_b = _smooth_field(rng, shape, _field_cells(shape, 16.0, _CT_FIELD_OF_VIEW_MM))

    # Everything that does not change along the body axis is drawn once in-plane and broadcast.
    plane = np.full(shape[1:], -1000.0, dtype=np.float32)
    plane[shell] = 350.0
    plane[core] = -850.0
    plane[body] = -100.0
    plane[under_fat] = 45.0
    plane[spine["arch"]] = 500.0
    plane[spine["canal"]] = 20.0
    plane[spine["body"]] = 700.0
    plane[spine["cancellous"]] = 250.0
    chest_wall = under_fat & ~cavity
    plane[chest_wall & (np.abs(grid.plane_x) < _units(12.0)) & (grid.plane_y < layout.body_y)] = 300.0
    hu = np.broadcast_to(plane, shape).copy()
    _add_ribs(grid, layout, hu, chest_wall)
    hu += np.where(body & ~spine_all, 8.0 * tissue_texture, 0.0).astype(np.float32)
    hu[_disc_slices(grid, layout) & spine["body"][None]] = 80.0

    spine_front = layout.spine_y - layout.vertebra_radius
    mediastinum = _mediastinum_mask(grid, layout, cavity[None], spine_front)
    hu[mediastinum] = 40.0 + 6.0 * tissue_texture[mediastinum]
    trachea = ((np.hypot(grid.plane_x, grid.plane_y - (spine_front - _units(22.0))) < layout.trachea_radius)[None]
               & (grid.z < layout.carina_z))
    hu[trachea] = -990.0

    allowed = cavity[None] & ~mediastinum & ~spine_all[None]
    organ_mask = np.zeros(shape, dtype=np.uint8)
    organ_mask[mediastinum] = ORGAN_LABELS["mediastinum"]
    lung_radius = np.zeros(shape, dtype=np.float32)
    lung = np.zeros(shape, dtype=bool)
    for side, label in ((0, ORGAN_LABELS["right_lung"]), (1, ORGAN_LABELS["left_lung"])):
        radius_squared = _lung_radius_squared(grid, layout, side, deformation)
        one_lung = _lung_mask(grid, layout, side, radius_squared, allowed)
        organ_mask[one_lung] = label
        lung_radius[one_lung] = np.sqrt(np.clip(radius_squared[one_lung], 0.0, None))
        lung |= one_lung

    # Tubes lie where two independent smooth fields are both near zero; their calibre shrinks
    # towards the lung rim as pulmonary vessels do.
    calibre = 0.15 * (1.4 - 0.7 * np.clip(lung_radius[lung], 0.0, 1.0))
    vessels = np.zeros(shape, dtype=np.float32)
    vessels[lung] = np.exp(-(vessel_a[lung] ** 2 + vessel_b[lung] ** 2) / (2.0 * calibre**2))
    parenchyma = _healthy_lung_hu(grid, layout, lung, tissue_texture)
    hu[lung] = parenchyma + vessels[lung] * (_VESSEL_HU - parenchyma)
    return _CTAnatomy(hu, organ_mask, lung, lung_radius, body, shell | core, tissue_texture, vessels)


# ------------------------------------------------------------------------- CT: lesions


def _lesion_count(target: float, grade: int, lung_voxels: int) -> int:
    """Number of lesion voxels closest to ``target`` whose share still lies inside the grade."""
    if grade == 0 or lung_voxels == 0:
        return 0
    lower, upper = GRADE_INVOLVEMENT[grade]
    count = round(target * lung_voxels)
    smallest = math.floor(lower * lung_voxels) + 1
    largest = math.floor(upper * lung_voxels)
    return int(min(max(count, smallest), largest, lung_voxels))


def _top_threshold(values: np.ndarray, count: int) -> float:
    """The ``count``-th largest value: exactly ``count`` values reach it (ties aside)."""
    return float(np.partition(values, values.size - count)[values.size - count])


def _add_lesions(grid: _CTGrid, layout: _CTLayout, anatomy: _CTAnatomy, target: float, grade: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Write lesions into ``anatomy.hu`` (in place) and return the uint8 (D, H, W) lesion mask.

    A lesion score (smooth field + preference for peripheral and posterior lung, as in COVID-19)
    is thresholded at the quantile over lung voxels that gives the target share; its top part is
    consolidation. Because the score does not depend on the grade, a higher grade's lesions
    contain a lower grade's for the same seed.
    """
    shape = grid.shape
    score_field = _smooth_field(rng, shape, _field_cells(shape, 45.0, _CT_FIELD_OF_VIEW_MM))
    consolidation_share = float(rng.uniform(0.2, 0.4))
    lesion_mask = np.zeros(shape, dtype=np.uint8)
    lung = anatomy.lung
    count = _lesion_count(target, grade, int(lung.sum()))
    if count == 0:
        return lesion_mask

    posterior = np.broadcast_to((grid.y - layout.lung_y) / layout.lung_half_depth, shape)[lung]
    score = score_field[lung] + 1.3 * anatomy.lung_radius[lung] + 0.6 * posterior
    lesion_threshold = _top_threshold(score, count)
    consolidation_threshold = _top_threshold(score, max(1, round(consolidation_share * count)))

    in_lesion = score >= lesion_threshold
    labels = np.where(in_lesion, LESION_LABELS["ground_glass"], 0).astype(np.uint8)
    labels[score >= consolidation_threshold] = LESION_LABELS["consolidation"]
    lesion_mask[lung] = labels

    # The HU ramps are centred on the mask edges, so a mask boundary sits at half intensity, as a
    # reader's outline would.
    ramp = 0.25 * float(score.std())
    ground_glass_weight = _smoothstep((score - lesion_threshold) / ramp + 0.5)
    consolidation_weight = _smoothstep((score - consolidation_threshold) / ramp + 0.5)
    texture = anatomy.tissue_texture[lung]
    vessels = anatomy.vessels[lung]
    parenchyma = _healthy_lung_hu(grid, layout, lung, anatomy.tissue_texture)
    ground_glass = np.clip(-600.0 + 50.0 * texture, -700.0, -500.0)
    consolidation = np.clip(-10.0 + 20.0 * texture, -50.0, 30.0)
    # Vessels stay visible through ground glass but vanish in consolidated lung.
    hu = parenchyma + ground_glass_weight * (ground_glass - parenchyma)
    hu = hu + vessels * (_VESSEL_HU - hu)
    hu = hu + consolidation_weight * (consolidation - hu)
    anatomy.hu[lung] = hu
    return lesion_mask


# --------------------------------------------------------------------- CT: confounders


def _add_marker(grid: _CTGrid, layout: _CTLayout, anatomy: _CTAnatomy, rng: np.random.Generator) -> None:
    """A small metal object (~2000 HU, a few voxels wide) lying on the table beside the body."""
    side = 1.0 if rng.random() < 0.5 else -1.0
    centre_x = side * float(rng.uniform(0.5, 0.72))
    centre_z = float(rng.uniform(0.2, 0.8))
    half_size = _units(float(rng.uniform(4.0, 6.0)))
    # Never thinner than about three voxels, so the marker survives coarse grids.
    half_x = max(half_size, 1.5 * grid.voxel[2])
    half_y = max(half_size * 0.6, 1.5 * grid.voxel[1])
    half_z = max(half_size * _HALF_FIELD_MM / _CT_FIELD_OF_VIEW_MM[0], 1.5 * grid.voxel[0])
    table_top = float(layout.body_y + layout.body_half_depth_back + layout.table_gap
                      - layout.table_curvature * centre_x**2)
    centre_y = table_top - half_y
    in_plane = ((np.abs(grid.plane_x - centre_x) <= half_x) & (np.abs(grid.plane_y - centre_y) <= half_y)
                & ~anatomy.body & ~anatomy.table)
    slices = np.abs(grid.z - centre_z) <= half_z
    anatomy.hu[slices & in_plane[None]] = 2000.0


def _add_blanket(grid: _CTGrid, layout: _CTLayout, anatomy: _CTAnatomy, rng: np.random.Generator) -> None:
    """A folded blanket (-100..0 HU) lying over the front of the chest, just off the skin."""
    wavelength_x = float(rng.uniform(0.15, 0.3))
    wavelength_z = float(rng.uniform(0.15, 0.35))
    phase_x, phase_z, phase_density = (float(value) for value in rng.uniform(0.0, 2.0 * np.pi, 3))
    lift = _units(float(rng.uniform(2.0, 6.0)))
    fold_height = _units(float(rng.uniform(6.0, 12.0)))
    thickness = max(_units(float(rng.uniform(5.0, 8.0))), 1.5 * grid.voxel[1])

    x, y, z = grid.x, grid.y, grid.z
    folds = 0.5 + 0.25 * (np.sin(2.0 * np.pi * x / wavelength_x + phase_x)
                          + np.sin(2.0 * np.pi * z / wavelength_z + phase_z))
    # Distance outside the skin, measured along the elliptical radius of the body outline.
    outside = (np.sqrt(_body_radius_squared(grid, layout, 0.0)) - 1.0) * layout.body_half_depth_front
    inner = lift + fold_height * folds
    layer = ((outside[None] > inner) & (outside[None] < inner + thickness)
             & (y < layout.body_y - 0.25 * layout.body_half_depth_front)
             & ~anatomy.body[None] & ~anatomy.table[None])
    density = -50.0 + 45.0 * np.sin(2.0 * np.pi * (x / wavelength_x + z / wavelength_z) + phase_density)
    anatomy.hu[layer] = np.broadcast_to(density, grid.shape)[layer]


_CT_CONFOUNDER_PAINTERS = {"marker": _add_marker, "blanket": _add_blanket}


# ---------------------------------------------------------------------------- CT: API


def ct_phantom(
    seed: int,
    shape: tuple[int, int, int] = (64, 128, 128),
    grade: int | None = None,
    involvement: float | None = None,
    confounders: Sequence[str] = (),
    noise_hu: float = 15.0,
) -> CTPhantom:
    """A synthetic chest CT of shape (D, H, W) in HU, with lesion and organ masks.

    Args:
        seed: non-negative integer; the phantom is a pure function of all the arguments.
        shape: (D, H, W) voxels, each >= 16; the field of view is fixed (300 x 350 x 350 mm), so
            the spacing is (300 / D, 350 / H, 350 / W) mm.
        grade: MosMed grade 0..4; None draws one uniformly (or follows ``involvement``).
        involvement: target share of lung voxels that are lesion, within the grade's range
            (CT-0: 0; CT-g: ((g-1)/4, g/4]); None draws one inside the grade's range, away from
            its edges. The achieved share is within half a lung voxel of the target (nudged
            inside the grade's range when the target sits on its edge).
        confounders: names from ``CT_CONFOUNDERS`` ("marker": metal object on the table;
            "blanket": folded blanket over the chest). They change only their own voxels.
        noise_hu: standard deviation of the additive Gaussian noise in HU (>= 0).

    Returns:
        CTPhantom with ``hu`` float32 (D, H, W), masks uint8 (D, H, W), the grade and the
        achieved involvement.

    Raises:
        ValueError: bad seed, shape, grade, involvement, confounder name or noise level.
    """
    seed = _check_seed(seed)
    shape = _check_ct_shape(shape)
    names = _names(confounders, CT_CONFOUNDERS, "CT confounder")
    if not (math.isfinite(noise_hu) and noise_hu >= 0.0):
        raise ValueError(f"noise_hu must be a finite standard deviation >= 0, got {noise_hu!r}")
    streams = _streams(seed, ("severity", "anatomy", "lesions", "noise", *CT_CONFOUNDERS))
    grade, target = _resolve_severity(grade, involvement, np.random.default_rng(streams["severity"]))

    grid = _ct_grid(shape)
    anatomy_rng = np.random.default_rng(streams["anatomy"])
    layout = _draw_ct_layout(anatomy_rng)
    anatomy = _build_ct_anatomy(grid, layout, anatomy_rng)
    lesion_mask = _add_lesions(grid, layout, anatomy, target, grade,
                               np.random.default_rng(streams["lesions"]))
    for name in names:
        _CT_CONFOUNDER_PAINTERS[name](grid, layout, anatomy, np.random.default_rng(streams[name]))

    hu = anatomy.hu
    if noise_hu > 0.0:
        noise = np.random.default_rng(streams["noise"]).standard_normal(shape, dtype=np.float32)
        hu += np.float32(noise_hu) * noise
    np.clip(hu, -1024.0, 3071.0, out=hu)
    lung_voxels = int(anatomy.lung.sum())
    achieved = float((lesion_mask > 0).sum() / lung_voxels) if lung_voxels else 0.0
    spacing = tuple(extent / side for extent, side in zip(_CT_FIELD_OF_VIEW_MM, shape))
    return CTPhantom(hu=hu, lesion_mask=lesion_mask, organ_mask=anatomy.organ_mask, grade=grade,
                     involvement=achieved, spacing_mm=spacing, confounders=names, seed=seed)


# ------------------------------------------------------------------------ X-ray: layout


@dataclass(frozen=True)
class _CXRGrid:
    """Pixel-centre coordinates in units of half the field of view.

    y: (H, 1), -1 at the top row. x: (1, W), -1 at the image left (the patient's right).
    pixel: size of one pixel (row, column) in units.
    """

    shape: tuple[int, int]
    y: np.ndarray
    x: np.ndarray
    pixel: tuple[float, float]


def _cxr_grid(shape: tuple[int, int]) -> _CXRGrid:
    height, width = shape
    y = ((np.arange(height, dtype=np.float32) + 0.5) / height * 2.0 - 1.0).reshape(height, 1)
    x = ((np.arange(width, dtype=np.float32) + 0.5) / width * 2.0 - 1.0).reshape(1, width)
    return _CXRGrid(shape, y, x, (2.0 / height, 2.0 / width))


@dataclass(frozen=True)
class _CXRLayout:
    """Per-seed anatomy of the X-ray phantom, in units; index 0 = right lung (image left)."""

    body_half_width: float
    neck_half_width: float
    shoulder_y: float
    lung_x: tuple[float, float]
    lung_half_width: tuple[float, float]
    lung_apex_y: tuple[float, float]
    lung_base_y: tuple[float, float]
    dome_height: tuple[float, float]
    heart_y: float
    heart_half_height: float
    heart_offset: float
    ratio_normal: float
    ratio_enlarged: float
    knob_x: float
    knob_y: float
    knob_radius: float
    knob_radius_enlarged: float
    spine_half_width: float
    vertebra_period: float
    disc_phase: float
    rib_spacing: float
    rib_first_y: float
    rib_curvature: float
    clavicle_y: float

    @property
    def thorax_width(self) -> float:
        """Widest inner width of the thorax, from one lung's outer edge to the other's."""
        right_edge = self.lung_x[0] - self.lung_half_width[0]
        left_edge = self.lung_x[1] + self.lung_half_width[1]
        return left_edge - right_edge


def _draw_cxr_layout(rng: np.random.Generator) -> _CXRLayout:
    """Anatomy sizes and positions with about +-10% per-seed variation."""
    right_base = _shift(rng, 0.46, 0.03)
    return _CXRLayout(
        body_half_width=_jitter(rng, 0.86, 0.05),
        neck_half_width=_jitter(rng, 0.3),
        shoulder_y=_shift(rng, -0.8, 0.03),
        lung_x=(_shift(rng, -0.4, 0.03), _shift(rng, 0.4, 0.03)),
        lung_half_width=(_jitter(rng, 0.3), _jitter(rng, 0.29)),
        lung_apex_y=(_shift(rng, -0.72, 0.03), _shift(rng, -0.71, 0.03)),
        # The right hemidiaphragm sits higher than the left.
        lung_base_y=(right_base, right_base + _jitter(rng, 0.05, 0.4)),
        dome_height=(_jitter(rng, 0.14), _jitter(rng, 0.13)),
        heart_y=_shift(rng, 0.2, 0.03),
        heart_half_height=_jitter(rng, 0.25),
        heart_offset=_shift(rng, 0.22, 0.05),
        ratio_normal=float(rng.uniform(0.40, 0.48)),
        ratio_enlarged=float(rng.uniform(0.58, 0.66)),
        knob_x=_shift(rng, 0.12, 0.02),
        knob_y=_shift(rng, -0.3, 0.03),
        knob_radius=_jitter(rng, 0.06),
        knob_radius_enlarged=_jitter(rng, 0.095),
        spine_half_width=_jitter(rng, 0.065),
        vertebra_period=_jitter(rng, 0.14),
        disc_phase=float(rng.random()),
        rib_spacing=_jitter(rng, 0.13, 0.06),
        rib_first_y=_shift(rng, -0.8, 0.03),
        rib_curvature=_jitter(rng, 1.4),
        clavicle_y=_shift(rng, -0.68, 0.03),
    )


@dataclass(frozen=True)
class _LungField:
    """One lung's projected field on the (H, W) image.

    inside: bool; height: 0 at the apex, 1 at the diaphragm; across: -1..1 from the image-left to
    the image-right edge of the lung at that height; width: half-width in units at that height;
    lateral: +1 if the lung's outer (chest wall) side is towards the image right, else -1.
    """

    inside: np.ndarray
    height: np.ndarray
    across: np.ndarray
    width: np.ndarray
    lateral: float
    centre_x: float
    half_width: float
    base_y: float
    dome_height: float


def _lung_field(grid: _CXRGrid, layout: _CXRLayout, side: int) -> _LungField:
    centre, half_width = layout.lung_x[side], layout.lung_half_width[side]
    apex, base, dome = layout.lung_apex_y[side], layout.lung_base_y[side], layout.dome_height[side]
    relative_x = (grid.x - centre) / half_width
    # The diaphragm domes up in the middle, leaving sharp costophrenic and cardiophrenic angles.
    floor = base - dome * np.clip(1.0 - relative_x**2, 0.0, 1.0)
    height = (grid.y - apex) / (floor - apex)
    width = half_width * np.sqrt(np.clip(height * (2.0 - height), 0.0, 1.0))
    across = (grid.x - centre) / np.maximum(width, 1e-3)
    inside = (height >= 0.0) & (height <= 1.0) & (np.abs(across) < 1.0)
    lateral = -1.0 if side == 0 else 1.0
    return _LungField(inside, height, across, width, lateral, centre, half_width, base, dome)


def _heart_geometry(layout: _CXRLayout, enlarged: bool) -> tuple[float, float, float, float, float]:
    """(cardiothoracic ratio, centre x, centre y, half-width, half-height) of the heart shadow.

    The heart is centred to the image right of the midline, so it extends more to the patient's left.
    """
    ratio = layout.ratio_enlarged if enlarged else layout.ratio_normal
    half_width = ratio * layout.thorax_width / 2.0
    half_height = layout.heart_half_height * (1.08 if enlarged else 1.0)
    return ratio, layout.heart_offset * half_width, layout.heart_y, half_width, half_height


def _ellipsoid_path(squared_radius: np.ndarray) -> np.ndarray:
    """Relative X-ray path length through an ellipsoid at a given squared normalised radius."""
    return np.sqrt(np.clip(1.0 - squared_radius, 0.0, 1.0))


@dataclass(frozen=True)
class _CXRAnatomy:
    attenuation: np.ndarray  # float32 (H, W), line integral of attenuation, no findings
    lungs: tuple[_LungField, _LungField]
    heart: np.ndarray  # bool (H, W)
    knob: np.ndarray  # bool (H, W)
    cardiothoracic_ratio: float


def _build_cxr_anatomy(grid: _CXRGrid, layout: _CXRLayout, rng: np.random.Generator,
                       cardiomegaly: bool, aortic_enlargement: bool) -> _CXRAnatomy:
    shape = grid.shape
    y, x = grid.y, grid.x
    texture = _smooth_field(rng, shape, (7, 7))
    markings_a = _smooth_field(rng, shape, (14, 14))
    markings_b = _smooth_field(rng, shape, (14, 14))

    neck_to_shoulder = _smoothstep((y - layout.shoulder_y + 0.12) / 0.22)
    body_half_width = layout.neck_half_width + (layout.body_half_width - layout.neck_half_width) * neck_to_shoulder
    body = _ellipsoid_path((x / body_half_width) ** 2)
    attenuation = 0.55 * body * (1.0 + 0.05 * texture)
    attenuation += 0.3 * body * _smoothstep((y - 0.3) / 0.4)

    ratio, heart_x, heart_y, heart_half_width, heart_half_height = _heart_geometry(layout, cardiomegaly)
    heart_radius = ((x - heart_x) / heart_half_width) ** 2 + ((y - heart_y) / heart_half_height) ** 2
    heart_path = _ellipsoid_path(heart_radius)
    attenuation += 0.75 * heart_path

    lungs = (_lung_field(grid, layout, 0), _lung_field(grid, layout, 1))
    for lung in lungs:
        air = _ellipsoid_path(lung.across**2) * _smoothstep(lung.height / 0.12) * lung.inside
        # Vessel shadows fan out from the hila and fade towards the periphery.
        hilar = np.clip(1.0 - 0.8 * np.abs(lung.across - (-lung.lateral) * 0.6), 0.0, 1.0)
        lines = np.maximum(np.exp(-(markings_a / 0.12) ** 2), 0.6 * np.exp(-(markings_b / 0.1) ** 2))
        # The heart displaces lung, so less air lies in front of and behind it.
        attenuation -= 0.42 * air * (1.0 - 0.25 * lines * hilar) * (1.0 - 0.7 * heart_path)

    above_heart = _smoothstep((heart_y - y) / 0.2)
    attenuation += 0.35 * _ellipsoid_path((x / 0.16) ** 2) * above_heart

    knob_radius = layout.knob_radius_enlarged if aortic_enlargement else layout.knob_radius
    # An enlarged aortic knob also bulges further out to the patient's left.
    knob_x = layout.knob_x + (0.5 * (knob_radius - layout.knob_radius) if aortic_enlargement else 0.0)
    knob_distance = ((x - knob_x) ** 2 + (y - layout.knob_y) ** 2) / knob_radius**2
    attenuation += 0.3 * _ellipsoid_path(knob_distance)

    vertebra_phase = np.mod((y + 1.0) / layout.vertebra_period + layout.disc_phase, 1.0)
    discs = 1.0 - 0.4 * (vertebra_phase < 0.18)
    attenuation += 0.35 * _ellipsoid_path((x / layout.spine_half_width) ** 2) * discs

    attenuation += _rib_cage(grid, layout, body)
    return _CXRAnatomy(attenuation.astype(np.float32), lungs, heart_radius < 1.0, knob_distance < 1.0, ratio)


def _rib_cage(grid: _CXRGrid, layout: _CXRLayout, body: np.ndarray) -> np.ndarray:
    """(H, W) attenuation of the posterior ribs and the clavicles."""
    y, x = grid.y, grid.x
    distance = np.abs(x)
    # Each rib is an arch, highest about a third of the way out and falling towards the chest wall.
    arch = layout.rib_curvature * (distance - 0.3) ** 2
    phase = (y - layout.rib_first_y - arch) / layout.rib_spacing
    nearest = np.round(phase)
    thickness = max(0.22, 1.3 * grid.pixel[0] / layout.rib_spacing)
    ribs = np.exp(-(((phase - nearest) / thickness) ** 2)) * ((nearest >= 0) & (nearest <= 9))
    ribs = ribs * _smoothstep((distance - 0.05) / 0.05) * (body > 0.15)
    clavicle_centre = layout.clavicle_y - 0.12 * distance
    clavicle_thickness = max(0.025, 1.2 * grid.pixel[0])
    clavicles = np.exp(-(((y - clavicle_centre) / clavicle_thickness) ** 2)) * ((distance > 0.06) & (distance < 0.6))
    return 0.15 * ribs + 0.3 * clavicles


# ----------------------------------------------------------------------- X-ray: findings


def _pick_point(rng: np.random.Generator, candidates: np.ndarray, grid: _CXRGrid) -> tuple[float, float]:
    """(y, x) in units of a pixel drawn uniformly from a non-empty bool (H, W) mask."""
    rows, columns = np.nonzero(candidates)
    index = int(rng.integers(rows.size))
    return float(grid.y[rows[index], 0]), float(grid.x[0, columns[index]])


def _placement(lung: _LungField, anatomy: _CXRAnatomy, low: float, high: float) -> np.ndarray:
    """Where a focal finding may be centred: clear lung away from its edges and the heart."""
    preferred = lung.inside & ~anatomy.heart & (lung.height > low) & (lung.height < high) & (np.abs(lung.across) < 0.75)
    return preferred if preferred.any() else lung.inside


def _lung_opacity(grid: _CXRGrid, anatomy: _CXRAnatomy, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lung = anatomy.lungs[int(rng.integers(2))]
    centre_y, centre_x = _pick_point(rng, _placement(lung, anatomy, 0.25, 0.85), grid)
    radius_y, radius_x = rng.uniform(0.08, 0.15, 2)
    irregularity = np.clip(1.0 + 0.35 * _smooth_field(rng, grid.shape, (6, 6)), 0.3, None)
    radius = (((grid.x - centre_x) / radius_x) ** 2 + ((grid.y - centre_y) / radius_y) ** 2) * irregularity
    # Full density in the core, fading to nothing at 1.5 radii; the mask is the half-density line.
    weight = _smoothstep(1.5 - np.sqrt(radius)) * lung.inside
    return weight > 0.5, 0.35 * weight


def _nodule(grid: _CXRGrid, anatomy: _CXRAnatomy, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lung = anatomy.lungs[int(rng.integers(2))]
    centre_y, centre_x = _pick_point(rng, _placement(lung, anatomy, 0.15, 0.85), grid)
    radius = max(float(rng.uniform(0.025, 0.05)), 1.5 * max(grid.pixel))
    squared = ((grid.x - centre_x) ** 2 + (grid.y - centre_y) ** 2) / radius**2
    return squared < 1.0, 0.4 * _ellipsoid_path(squared)


def _pleural_effusion(grid: _CXRGrid, anatomy: _CXRAnatomy,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lung = anatomy.lungs[int(rng.integers(2))]
    depth = float(rng.uniform(0.15, 0.3))
    relative_x = (grid.x - lung.centre_x) / lung.half_width
    towards_middle = (1.0 - lung.lateral * relative_x) / 2.0  # 0 at the chest wall, 1 medially
    # The meniscus climbs the chest wall: the fluid surface is concave upwards.
    surface = lung.base_y - depth * (0.35 + 0.65 * (1.0 - np.clip(towards_middle, 0.0, 1.0)) ** 2)
    fluid = (np.abs(relative_x) < 1.0) & (grid.y >= surface) & (grid.y <= lung.base_y)
    edge = _smoothstep((grid.y - surface) / max(0.02, 2.0 * grid.pixel[0]) + 0.5) * fluid
    air = _ellipsoid_path(lung.across**2) * _smoothstep(lung.height / 0.12) * lung.inside
    # Fluid replaces the air that made the lung dark, then adds density of its own.
    return fluid, edge * (0.42 * air + 0.2)


def _pleural_thickening(grid: _CXRGrid, anatomy: _CXRAnatomy,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lung = anatomy.lungs[int(rng.integers(2))]
    at_apex = rng.random() < 0.3
    thickness = max(float(rng.uniform(0.02, 0.035)), 1.6 * max(grid.pixel))
    start = float(rng.uniform(0.2, 0.5))
    length = float(rng.uniform(0.2, 0.4))
    if at_apex:
        apex_y = float(np.min(np.where(lung.inside, grid.y, np.inf)))
        distance = grid.y - apex_y
        band = lung.inside & (distance < 2.0 * thickness)
    else:
        distance = lung.width * (1.0 - lung.lateral * lung.across)
        band = lung.inside & (distance < thickness) & (lung.height > start) & (lung.height < start + length)
    return band, 0.3 * band * _smoothstep(1.5 - distance / (2.0 * thickness))


def _pulmonary_fibrosis(grid: _CXRGrid, anatomy: _CXRAnatomy,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lung = anatomy.lungs[int(rng.integers(2))]
    cells = (int(rng.integers(28, 36)),) * 2
    first, second = _smooth_field(rng, grid.shape, cells), _smooth_field(rng, grid.shape, cells)
    # Zero contours of two fields cross each other and make a net of reticular lines.
    lines = np.maximum(np.exp(-(first / 0.12) ** 2), np.exp(-(second / 0.12) ** 2))
    zone = lung.inside & ~anatomy.heart & (lung.height > 0.55)
    fade_in = _smoothstep((lung.height - 0.55) / 0.15)
    return zone, 0.3 * lines * fade_in * zone


_FOCAL_FINDINGS = {
    "Lung Opacity": _lung_opacity,
    "Nodule/Mass": _nodule,
    "Pleural effusion": _pleural_effusion,
    "Pleural thickening": _pleural_thickening,
    "Pulmonary fibrosis": _pulmonary_fibrosis,
}


# ------------------------------------------------------------------------ X-ray: readers


def _reader_boxes(true_boxes: dict[str, tuple[float, float, float, float]], shape: tuple[int, int],
                  seeds: Sequence[np.random.SeedSequence]) -> list[ReaderBox]:
    """Boxes of simulated readers: each has a size bias, jitters every edge, may miss subtle findings.

    Reader 1 draws tight boxes, reader 2 loose ones, reader 3 about true size; further readers get
    a random bias. Each reader misses a subtle finding with their own probability of 10-15%.
    No reader ever boxes an absent finding. ``seeds``: one seed sequence per reader.
    """
    height, width = shape
    boxes: list[ReaderBox] = []
    for number, seed_sequence in enumerate(seeds, start=1):
        rng = np.random.default_rng(seed_sequence)
        preset = {1: 0.88, 2: 1.18, 3: 1.0}
        bias = preset.get(number, float(rng.uniform(0.9, 1.15)))
        miss_probability = float(rng.uniform(0.10, 0.15))
        for finding, (x_min, y_min, x_max, y_max) in true_boxes.items():
            missed = rng.random() < miss_probability
            noise = rng.normal(0.0, 1.0, 4)
            if missed and finding in _SUBTLE_FINDINGS:
                continue
            # Edges wander by 1.5% of the image, but by no more than a fifth of a small box, so
            # that a reader's box around a nodule still surrounds it.
            spread_x = min(0.015 * width, 0.2 * (x_max - x_min))
            spread_y = min(0.015 * height, 0.2 * (y_max - y_min))
            jitter = noise * (spread_x, spread_y, spread_x, spread_y)
            centre_x, centre_y = (x_min + x_max) / 2.0, (y_min + y_max) / 2.0
            half_x, half_y = bias * (x_max - x_min) / 2.0, bias * (y_max - y_min) / 2.0
            left = float(np.clip(centre_x - half_x + jitter[0], 0.0, width - 1.0))
            top = float(np.clip(centre_y - half_y + jitter[1], 0.0, height - 1.0))
            right = float(np.clip(centre_x + half_x + jitter[2], left + 1.0, width))
            bottom = float(np.clip(centre_y + half_y + jitter[3], top + 1.0, height))
            boxes.append(ReaderBox(f"R{number}", finding, round(left, 1), round(top, 1),
                                   round(right, 1), round(bottom, 1)))
    return boxes


# --------------------------------------------------------------------- X-ray: confounder

# A 7 x 5 bitmap of the letter R, as on a lead laterality marker.
_LETTER_R = np.array([
    [1, 1, 1, 1, 0],
    [1, 0, 0, 0, 1],
    [1, 0, 0, 0, 1],
    [1, 1, 1, 1, 0],
    [1, 0, 1, 0, 0],
    [1, 0, 0, 1, 0],
    [1, 0, 0, 0, 1],
], dtype=bool)


def _add_side_marker(image: np.ndarray, rng: np.random.Generator) -> None:
    """Paint a small laterality marker block with a bright R near an upper corner, in place."""
    height, width = image.shape
    letter_height = max(9, round(0.07 * height))
    letter_width = max(7, round(letter_height * 5 / 7))
    rows = np.arange(letter_height) * _LETTER_R.shape[0] // letter_height
    columns = np.arange(letter_width) * _LETTER_R.shape[1] // letter_width
    letter = _LETTER_R[np.ix_(rows, columns)]
    pad = max(1, letter_height // 8)
    block = np.pad(letter, pad)
    top = int(rng.integers(round(0.03 * height), round(0.08 * height) + 1))
    margin = int(rng.integers(round(0.03 * width), round(0.08 * width) + 1))
    left = margin if rng.random() < 0.5 else width - margin - block.shape[1]
    window = image[top:top + block.shape[0], left:left + block.shape[1]]
    window[...] = np.where(block, 1.0, 0.6)


# ---------------------------------------------------------------------------- X-ray: API


def _check_cxr_shape(shape: Sequence[int]) -> tuple[int, int]:
    dims = tuple(shape)
    if len(dims) != 2 or any(int(side) != side or side < _MIN_CXR_SIDE for side in dims):
        raise ValueError(f"X-ray shape must be 2 integers (H, W), each >= {_MIN_CXR_SIDE}, got {shape!r}")
    return int(dims[0]), int(dims[1])


def _present_findings(findings: Sequence[str] | str | None, prevalence: float,
                      rng: np.random.Generator) -> tuple[str, ...]:
    # The draw always happens so that the stream does not depend on whether findings were given.
    drawn = rng.random(len(CXR_FINDINGS)) < prevalence
    if findings is None:
        return tuple(name for name, present in zip(CXR_FINDINGS, drawn) if present)
    names = (findings,) if isinstance(findings, str) else tuple(findings)
    unknown = [name for name in names if name not in CXR_FINDINGS]
    if unknown:
        raise ValueError(f"unknown X-ray finding {unknown!r}; valid names are {list(CXR_FINDINGS)} "
                         f"(pass an empty list for '{NO_FINDING[0]}')")
    return tuple(name for name in CXR_FINDINGS if name in names)


def cxr_phantom(
    seed: int,
    shape: tuple[int, int] = (256, 256),
    findings: Sequence[str] | None = None,
    prevalence: float = 0.3,
    confounders: Sequence[str] = (),
    n_readers: int = 3,
) -> CXRPhantom:
    """A synthetic frontal (PA) chest X-ray of shape (H, W) with findings, masks and readers' boxes.

    Args:
        seed: non-negative integer; the phantom is a pure function of all the arguments.
        shape: (H, W) pixels, each >= 64; field of view 350 mm, so a pixel is 350 / H by 350 / W mm.
        findings: names from ``CXR_FINDINGS`` to place exactly; None draws each finding
            independently with probability ``prevalence``.
        prevalence: probability in [0, 1] of each finding when ``findings`` is None.
        confounders: names from ``CXR_CONFOUNDERS`` ("side_marker": an R marker near an upper
            corner). They change only their own pixels.
        n_readers: number of simulated readers (>= 1), "R1".."Rn".

    Returns:
        CXRPhantom with ``image`` float32 (H, W) in [0, 1], labels, true masks and boxes, and
        the readers' boxes.

    Raises:
        ValueError: bad seed, shape, finding or confounder name, prevalence or reader count.
    """
    seed = _check_seed(seed)
    shape = _check_cxr_shape(shape)
    if not (isinstance(prevalence, (int, float, np.floating, np.integer)) and 0.0 <= prevalence <= 1.0):
        raise ValueError(f"prevalence must be a probability in [0, 1], got {prevalence!r}")
    if isinstance(n_readers, bool) or not isinstance(n_readers, (int, np.integer)) or n_readers < 1:
        raise ValueError(f"n_readers must be an integer >= 1, got {n_readers!r}")
    names = _names(confounders, CXR_CONFOUNDERS, "X-ray confounder")
    streams = _streams(seed, ("presence", "anatomy", "noise", "readers", *CXR_FINDINGS, *CXR_CONFOUNDERS))
    present = _present_findings(findings, prevalence, np.random.default_rng(streams["presence"]))

    grid = _cxr_grid(shape)
    anatomy_rng = np.random.default_rng(streams["anatomy"])
    layout = _draw_cxr_layout(anatomy_rng)
    anatomy = _build_cxr_anatomy(grid, layout, anatomy_rng, cardiomegaly="Cardiomegaly" in present,
                                 aortic_enlargement="Aortic enlargement" in present)
    attenuation = anatomy.attenuation.copy()
    masks: dict[str, np.ndarray] = {}
    for name in present:
        if name == "Cardiomegaly":
            masks[name] = anatomy.heart
        elif name == "Aortic enlargement":
            masks[name] = anatomy.knob
        else:
            mask, added = _FOCAL_FINDINGS[name](grid, anatomy, np.random.default_rng(streams[name]))
            masks[name] = mask
            attenuation += added.astype(np.float32)

    image = 1.0 - np.exp(-1.1 * np.clip(attenuation, 0.0, None))
    image += 0.01 * np.random.default_rng(streams["noise"]).standard_normal(shape, dtype=np.float32)
    image = np.clip(image, 0.0, 1.0).astype(np.float32)
    for name in names:
        _add_side_marker(image, np.random.default_rng(streams[name]))

    true_boxes = {name: _bounding_box(mask) for name, mask in masks.items()}
    readers = _reader_boxes(true_boxes, shape, streams["readers"].spawn(n_readers))
    labels = {name: name in present for name in CXR_FINDINGS}
    labels[NO_FINDING[0]] = not present
    return CXRPhantom(image=image, labels=labels, finding_masks=masks, true_boxes=true_boxes,
                      reader_boxes=readers, confounders=names, seed=seed,
                      pixel_spacing_mm=(_CXR_FIELD_OF_VIEW_MM / shape[0], _CXR_FIELD_OF_VIEW_MM / shape[1]),
                      cardiothoracic_ratio=anatomy.cardiothoracic_ratio)
