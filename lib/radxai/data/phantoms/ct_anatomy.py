"""The anatomy of the synthetic chest CT phantoms: the grid, the randomly drawn layout (body,
table, spine, ribs, mediastinum, lungs) and the healthy HU volume with its organ labels.

`radxai.data.phantoms.ct` builds a phantom on it (lesions, confounders, the public API); the
split keeps each module to one job. Names stay private to the phantoms package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from radxai.data.phantoms.common import _HALF_FIELD_MM, _jitter, _shift, _smooth_field

ORGAN_LABELS: dict[str, int] = {"right_lung": 1, "left_lung": 2, "mediastinum": 3}
_CT_FIELD_OF_VIEW_MM = (300.0, 350.0, 350.0)


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
    return (x / (layout.body_half_width - inset)) ** 2 + ((y - layout.body_y) / (half_depth - inset)) ** 2


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


def _mediastinum_mask(grid: _CTGrid, layout: _CTLayout, inside_cavity: np.ndarray, spine_front: float) -> np.ndarray:
    """bool (D, H, W): the central band between sternum and spine, the heart, and the aorta."""
    z, y, x = grid.z, grid.y, grid.x
    heart_z, heart_y, heart_x = layout.heart_center
    radius_z, radius_y, radius_x = layout.heart_radii
    heart = ((z - heart_z) / radius_z) ** 2 + ((y - heart_y) / radius_y) ** 2 + ((x - heart_x) / radius_x) ** 2 < 1.0
    band = (np.abs(x) < layout.mediastinum_half_width) & (y > layout.sternum_y) & (y < spine_front) & (z < heart_z)
    aorta_y = layout.spine_y - 0.35 * layout.vertebra_radius
    aorta_x = layout.vertebra_radius + layout.aorta_radius + _units(2.0)
    aorta = (np.hypot(grid.plane_x - aorta_x, grid.plane_y - aorta_y) < layout.aorta_radius) & (z > 0.22)
    return (heart | band | aorta) & inside_cavity


def _lung_radius_squared(grid: _CTGrid, layout: _CTLayout, side: int, deformation: np.ndarray) -> np.ndarray:
    """(D, H, W) squared normalised radius of one lung's ellipsoid, tapering to the apex; < 1 inside."""
    # A circular profile gives the rounded apex of a real lung.
    below_apex = np.clip((grid.z - layout.lung_apex_z[side]) / layout.lung_taper_z, 1e-3, 1.0)
    taper = np.sqrt(below_apex * (2.0 - below_apex))
    half_width = layout.lung_half_width[side] * taper
    half_depth = layout.lung_half_depth * taper
    return (
        ((grid.x - layout.lung_x[side]) / half_width) ** 2 + ((grid.y - layout.lung_y) / half_depth) ** 2 + deformation
    )


def _lung_mask(
    grid: _CTGrid, layout: _CTLayout, side: int, radius_squared: np.ndarray, allowed: np.ndarray
) -> np.ndarray:
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
    return [max(2, round(extent / cell_mm)) for extent in field_of_view_mm[-len(shape) :]]


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
    trachea = (np.hypot(grid.plane_x, grid.plane_y - (spine_front - _units(22.0))) < layout.trachea_radius)[None] & (
        grid.z < layout.carina_z
    )
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
