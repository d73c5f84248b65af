"""Synthetic chest CT phantoms: COVID-19-like lesions sized to a MosMed grade, confounders, and
`ct_phantom`, on the anatomy in HU that `radxai.data.phantoms.ct_anatomy` draws (with the
organ labels)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from radxai.data.phantoms.common import (
    _HALF_FIELD_MM,
    _check_seed,
    _names,
    _smooth_field,
    _smoothstep,
    _streams,
)
from radxai.data.phantoms.ct_anatomy import (
    _CT_FIELD_OF_VIEW_MM,
    _VESSEL_HU,
    ORGAN_LABELS,
    _body_radius_squared,
    _build_ct_anatomy,
    _ct_grid,
    _CTAnatomy,
    _CTGrid,
    _CTLayout,
    _draw_ct_layout,
    _field_cells,
    _healthy_lung_hu,
    _units,
)

LESION_LABELS: dict[str, int] = {"ground_glass": 1, "consolidation": 2}
CT_CONFOUNDERS: tuple[str, ...] = ("marker", "blanket")

# MosMed severity grades by the share of lung volume involved: CT-0 none; CT-g for g >= 1 has
# lower < involvement <= upper.
GRADE_INVOLVEMENT: dict[int, tuple[float, float]] = {
    0: (0.0, 0.0),
    1: (0.0, 0.25),
    2: (0.25, 0.5),
    3: (0.5, 0.75),
    4: (0.75, 1.0),
}
# Drawn involvements keep clear of the grade edges so that a phantom is unambiguous about its grade.
_DRAWN_INVOLVEMENT: dict[int, tuple[float, float]] = {
    1: (0.03, 0.23),
    2: (0.27, 0.48),
    3: (0.52, 0.73),
    4: (0.77, 0.95),
}

_MIN_CT_SIDE = 16


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
        return lung_mask_of(self.organ_mask)

    @property
    def lesion_binary(self) -> np.ndarray:
        """bool (D, H, W): any lesion (ground glass or consolidation)."""
        return self.lesion_mask > 0


def lung_mask_of(organs: np.ndarray) -> np.ndarray:
    """bool, the shape of ``organs``: both lungs of an organ label volume (``ORGAN_LABELS``), e.g.
    a study's ``masks["organs"]`` at any resolution that kept the labels (nearest neighbour)."""
    return np.isin(organs, [ORGAN_LABELS["right_lung"], ORGAN_LABELS["left_lung"]])


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


def _resolve_severity(grade: int | None, involvement: float | None, rng: np.random.Generator) -> tuple[int, float]:
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
            raise ValueError(
                f"involvement {involvement} does not fit grade CT-{grade}: CT-{grade} needs involvement {span}"
            )
        return implied, float(involvement)
    grade = drawn_grade if grade is None else int(grade)
    if grade == 0:
        return 0, 0.0
    lower, upper = _DRAWN_INVOLVEMENT[grade]
    return grade, lower + unit_draw * (upper - lower)


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


def _add_lesions(
    grid: _CTGrid, layout: _CTLayout, anatomy: _CTAnatomy, target: float, grade: int, rng: np.random.Generator
) -> np.ndarray:
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
    table_top = float(
        layout.body_y + layout.body_half_depth_back + layout.table_gap - layout.table_curvature * centre_x**2
    )
    centre_y = table_top - half_y
    in_plane = (
        (np.abs(grid.plane_x - centre_x) <= half_x)
        & (np.abs(grid.plane_y - centre_y) <= half_y)
        & ~anatomy.body
        & ~anatomy.table
    )
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
    folds = 0.5 + 0.25 * (
        np.sin(2.0 * np.pi * x / wavelength_x + phase_x) + np.sin(2.0 * np.pi * z / wavelength_z + phase_z)
    )
    # Distance outside the skin, measured along the elliptical radius of the body outline.
    outside = (np.sqrt(_body_radius_squared(grid, layout, 0.0)) - 1.0) * layout.body_half_depth_front
    inner = lift + fold_height * folds
    layer = (
        (outside[None] > inner)
        & (outside[None] < inner + thickness)
        & (y < layout.body_y - 0.25 * layout.body_half_depth_front)
        & ~anatomy.body[None]
        & ~anatomy.table[None]
    )
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
    lesion_mask = _add_lesions(grid, layout, anatomy, target, grade, np.random.default_rng(streams["lesions"]))
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
    return CTPhantom(
        hu=hu,
        lesion_mask=lesion_mask,
        organ_mask=anatomy.organ_mask,
        grade=grade,
        involvement=achieved,
        spacing_mm=spacing,
        confounders=names,
        seed=seed,
    )
