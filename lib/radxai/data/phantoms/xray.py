"""Synthetic frontal chest X-ray phantoms: findings named as in VinDr-CXR with their true masks
and boxes, and the boxes of simulated readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from radxai.data.phantoms.common import (
    _bounding_box,
    _check_seed,
    _jitter,
    _names,
    _shift,
    _smooth_field,
    _smoothstep,
    _streams,
)

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

_CXR_FIELD_OF_VIEW_MM = 350.0
_MIN_CXR_SIDE = 64


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


def _build_cxr_anatomy(
    grid: _CXRGrid, layout: _CXRLayout, rng: np.random.Generator, cardiomegaly: bool, aortic_enlargement: bool
) -> _CXRAnatomy:
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
        lines = np.maximum(np.exp(-((markings_a / 0.12) ** 2)), 0.6 * np.exp(-((markings_b / 0.1) ** 2)))
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


def _pleural_effusion(grid: _CXRGrid, anatomy: _CXRAnatomy, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
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


def _pleural_thickening(
    grid: _CXRGrid, anatomy: _CXRAnatomy, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
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


def _pulmonary_fibrosis(
    grid: _CXRGrid, anatomy: _CXRAnatomy, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    lung = anatomy.lungs[int(rng.integers(2))]
    cells = (int(rng.integers(28, 36)),) * 2
    first, second = _smooth_field(rng, grid.shape, cells), _smooth_field(rng, grid.shape, cells)
    # Zero contours of two fields cross each other and make a net of reticular lines.
    lines = np.maximum(np.exp(-((first / 0.12) ** 2)), np.exp(-((second / 0.12) ** 2)))
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


def _reader_boxes(
    true_boxes: dict[str, tuple[float, float, float, float]],
    shape: tuple[int, int],
    seeds: Sequence[np.random.SeedSequence],
) -> list[ReaderBox]:
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
            boxes.append(
                ReaderBox(f"R{number}", finding, round(left, 1), round(top, 1), round(right, 1), round(bottom, 1))
            )
    return boxes


# --------------------------------------------------------------------- X-ray: confounder

# A 7 x 5 bitmap of the letter R, as on a lead laterality marker.
_LETTER_R = np.array(
    [
        [1, 1, 1, 1, 0],
        [1, 0, 0, 0, 1],
        [1, 0, 0, 0, 1],
        [1, 1, 1, 1, 0],
        [1, 0, 1, 0, 0],
        [1, 0, 0, 1, 0],
        [1, 0, 0, 0, 1],
    ],
    dtype=bool,
)


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
    window = image[top : top + block.shape[0], left : left + block.shape[1]]
    window[...] = np.where(block, 1.0, 0.6)


# ---------------------------------------------------------------------------- X-ray: API


def _check_cxr_shape(shape: Sequence[int]) -> tuple[int, int]:
    dims = tuple(shape)
    if len(dims) != 2 or any(int(side) != side or side < _MIN_CXR_SIDE for side in dims):
        raise ValueError(f"X-ray shape must be 2 integers (H, W), each >= {_MIN_CXR_SIDE}, got {shape!r}")
    return int(dims[0]), int(dims[1])


def _present_findings(
    findings: Sequence[str] | str | None, prevalence: float, rng: np.random.Generator
) -> tuple[str, ...]:
    # The draw always happens so that the stream does not depend on whether findings were given.
    drawn = rng.random(len(CXR_FINDINGS)) < prevalence
    if findings is None:
        return tuple(name for name, present in zip(CXR_FINDINGS, drawn) if present)
    names = (findings,) if isinstance(findings, str) else tuple(findings)
    unknown = [name for name in names if name not in CXR_FINDINGS]
    if unknown:
        raise ValueError(
            f"unknown X-ray finding {unknown!r}; valid names are {list(CXR_FINDINGS)} "
            f"(pass an empty list for '{NO_FINDING[0]}')"
        )
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
    anatomy = _build_cxr_anatomy(
        grid,
        layout,
        anatomy_rng,
        cardiomegaly="Cardiomegaly" in present,
        aortic_enlargement="Aortic enlargement" in present,
    )
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
    return CXRPhantom(
        image=image,
        labels=labels,
        finding_masks=masks,
        true_boxes=true_boxes,
        reader_boxes=readers,
        confounders=names,
        seed=seed,
        pixel_spacing_mm=(_CXR_FIELD_OF_VIEW_MM / shape[0], _CXR_FIELD_OF_VIEW_MM / shape[1]),
        cardiothoracic_ratio=anatomy.cardiothoracic_ratio,
    )
