"""What the interactive explorers draw, as plain functions of a frozen state, with no widget.

`draw_volume_view` (a CT volume with one heatmap per method: plane, slice, window, overlay),
`draw_threshold_view` (one heatmap binarised against a mask, IoU and Dice live) and
`draw_radiograph_view` (an X-ray with a class heatmap, readers' boxes and the boxes around its
top fraction) draw with `radxai.viz.views`, as the notebooks' static figures do, so the two
agree and the drawing is tested without a browser. `radxai.viz.interactive` wraps them in
ipywidgets.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap

from radxai.data import preprocess
from radxai.evaluate import boxes as box_metrics
from radxai.evaluate import localisation
from radxai.evaluate.binarise import Threshold, TopFraction, binarise
from radxai.slicing import take_slice
from radxai.viz import views
from radxai.viz.boxes import draw_box
from radxai.viz.style import OKABE_ITO, SEQUENTIAL_COLORMAP

PLANES = ("axial", "coronal", "sagittal")
# Display windows in HU: the radiology lung window and the mediastinal (soft tissue) window.
WINDOWS_HU: dict[str, tuple[float, float]] = {
    "lung": preprocess.WINDOWS["lung"],
    "mediastinal": preprocess.WINDOWS["mediastinum"],
}
COLOUR_MAPS = (SEQUENTIAL_COLORMAP, "inferno", "magma", "jet")
# The 3D COVID-19 work's binarisations of Grad-CAM (Table 3.7): h > 0.7 and 0.3 < h <= 0.7.
COVID_WORK_THRESHOLDS = (0.3, 0.7)
BINARISATION_MODES = ("threshold", "top fraction")


# ------------------------------------------------------------------------------- checks


def prepare_explanations(
    shape: Sequence[int], explanations: Mapping[str, np.ndarray | None]
) -> dict[str, np.ndarray | None]:
    """Each method's map on the grid ``shape`` of the image it explains.

    A map of another shape with as many dimensions is resampled (linear interpolation, values
    kept in the map's range) with a warning naming the method and both shapes; a map with a
    different number of dimensions raises ValueError naming them. A method whose value is None
    has no map for this image and stays None (the viewer says so). No method at all raises
    ValueError.
    """
    shape = tuple(int(size) for size in shape)
    if not explanations:
        raise ValueError("no explanations to show: give at least one method's map")
    prepared: dict[str, np.ndarray | None] = {}
    for method, heatmap in explanations.items():
        if heatmap is None:
            prepared[method] = None
            continue
        heatmap = np.asarray(heatmap, dtype=np.float32)
        if heatmap.ndim != len(shape):
            raise ValueError(
                f"the {method} map has shape {heatmap.shape} but the image has shape {shape}: "
                f"a {heatmap.ndim}D map cannot be shown on a {len(shape)}D image"
            )
        if heatmap.shape != shape:
            warnings.warn(
                f"the {method} map of shape {heatmap.shape} is resampled to the image's {shape} "
                "(linear interpolation) for display",
                stacklevel=3,
            )
            heatmap = preprocess.resize(heatmap, shape, order=1).astype(np.float32)
        prepared[method] = heatmap
    return prepared


def check_masks(shape: tuple[int, ...], masks: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """The named masks as bool arrays of the volume's ``shape``; ValueError naming a mask of another shape."""
    checked = {}
    for name, mask in (masks or {}).items():
        mask = np.asarray(mask)
        if mask.shape != shape:
            raise ValueError(f"the {name} mask has shape {mask.shape} but the image has shape {shape}")
        checked[name] = mask > 0
    return checked


def check_choice(value: str, choices: Sequence[str], name: str) -> None:
    """ValueError naming ``name``, ``value`` and the ``choices`` unless ``value`` is one of them."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")


# ------------------------------------------------------------------------ volume viewer


@dataclass(frozen=True)
class VolumeViewState:
    """What the volume viewer shows.

    ``slice_index`` None is the slice through the first mask's centre (the volume's centre
    without a mask); ``voxel`` is the (row, column) of the readout in the shown slice, None its
    centre. ``window`` is (low, high) in HU; ``opacity`` in [0, 1].
    """

    method: str
    plane: str = "axial"
    slice_index: int | None = None
    opacity: float = 0.45
    colour_map: str = SEQUENTIAL_COLORMAP
    window: tuple[float, float] = WINDOWS_HU["lung"]
    contours: bool = True
    voxel: tuple[int, int] | None = None


def plane_shape(shape: Sequence[int], plane: str) -> tuple[int, int, int]:
    """(number of slices, rows, columns) of ``plane`` for a (D, H, W) shape; ValueError naming an unknown plane."""
    check_choice(plane, PLANES, "plane")
    depth, height, width = shape
    return {"axial": (depth, height, width), "coronal": (height, depth, width), "sagittal": (width, depth, height)}[
        plane
    ]


def resolve_position(
    shape: Sequence[int], state: VolumeViewState, masks: Mapping[str, np.ndarray] | None = None
) -> tuple[int, int, int]:
    """The (slice, row, column) that ``state`` shows in a (D, H, W) volume; out-of-range raises ValueError."""
    check_choice(state.plane, PLANES, "plane")
    count, rows, columns = plane_shape(shape, state.plane)
    if state.slice_index is None:
        first_mask = next(iter(masks.values())) if masks else None
        slice_index = views.centre_of(first_mask, shape)[PLANES.index(state.plane)]
    else:
        slice_index = int(state.slice_index)
    if not 0 <= slice_index < count:
        raise ValueError(f"{state.plane} slice {slice_index} is outside the volume's 0..{count - 1}")
    row, column = state.voxel if state.voxel is not None else (rows // 2, columns // 2)
    if not (0 <= row < rows and 0 <= column < columns):
        raise ValueError(f"voxel (row {row}, column {column}) is outside the {state.plane} slice of {rows} x {columns}")
    return slice_index, int(row), int(column)


def volume_index(plane: str, slice_index: int, row: int, column: int) -> tuple[int, int, int]:
    """The (k, j, i) voxel of a (D, H, W) volume at (row, column) of ``plane`` slice ``slice_index``."""
    return {
        "axial": (slice_index, row, column),
        "coronal": (row, slice_index, column),
        "sagittal": (row, column, slice_index),
    }[plane]


def readout(
    volume: np.ndarray,
    explanations: Mapping[str, np.ndarray | None],
    state: VolumeViewState,
    masks: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """HU and heatmap value at the state's voxel: ``{"voxel": (k, j, i), "HU", "heatmap"}``.

    ``heatmap`` is None when the state's method has no map for this volume.
    """
    slice_index, row, column = resolve_position(volume.shape, state, masks)
    voxel = volume_index(state.plane, slice_index, row, column)
    heatmap = explanations.get(state.method)
    return {"voxel": voxel, "HU": float(volume[voxel]), "heatmap": None if heatmap is None else float(heatmap[voxel])}


def draw_volume_view(
    axes: Axes,
    volume: np.ndarray,
    explanations: Mapping[str, np.ndarray | None],
    state: VolumeViewState,
    *,
    masks: Mapping[str, np.ndarray] | None = None,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
) -> dict[str, Any]:
    """Draw ``state``'s slice of ``volume`` (D, H, W, HU) with its method's heatmap (D, H, W) in [0, 1].

    Masks (bool, (D, H, W)) are drawn as contours in the Okabe-Ito colours when
    ``state.contours`` (an empty mask draws none), the readout voxel as a cross. ``spacing``
    (dz, dy, dx) in mm sets the aspect ratio. Returns the `readout` with ``"artist"``, the
    heatmap's image (for a colourbar; None without a map).
    """
    check_choice(state.method, list(explanations), "method")
    slice_index, row, column = resolve_position(volume.shape, state, masks)
    heatmap = explanations[state.method]
    aspect = views.aspect_of(state.plane, spacing)
    grey = take_slice(volume, state.plane, slice_index)
    views.show_slice(axes, grey, window=state.window, aspect=aspect)
    artist = None
    if heatmap is not None:
        artist = axes.imshow(
            take_slice(heatmap, state.plane, slice_index),
            cmap=state.colour_map,
            alpha=state.opacity,
            vmin=0,
            vmax=1,
            aspect=aspect,
            interpolation="bilinear",
        )
    if state.contours:
        for colour, (name, mask) in zip(OKABE_ITO, (masks or {}).items()):
            cut = take_slice(mask, state.plane, slice_index)
            if cut.any():
                axes.contour(cut.astype(float), levels=[0.5], colors=colour, linewidths=0.9)
                axes.plot([], [], color=colour, label=name)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="lower right", fontsize=7, framealpha=0.6)
    axes.plot(column, row, marker="+", color="white", markersize=10, markeredgewidth=1.2)
    values = readout(volume, explanations, state, masks)
    heat_text = "no map for this volume" if values["heatmap"] is None else f"{state.method} {values['heatmap']:.3f}"
    axes.set_title(
        f"{state.plane} slice {slice_index}: {heat_text}\nvoxel {values['voxel']}: {values['HU']:.0f} HU", fontsize=9
    )
    return {**values, "artist": artist}


# --------------------------------------------------------------------- threshold viewer


@dataclass(frozen=True)
class ThresholdState:
    """How the threshold viewer binarises: ``mode`` "threshold" (h > value) or "top fraction"
    (the highest ``value`` share of voxels); ``plane`` and ``slice_index`` place a 3D map's slice
    (None: the mask's centre)."""

    value: float = 0.5
    mode: str = "threshold"
    plane: str = "axial"
    slice_index: int | None = None

    def scheme(self) -> Threshold | TopFraction:
        """The `radxai.evaluate.binarise` scheme of this state."""
        check_choice(self.mode, BINARISATION_MODES, "mode")
        return Threshold(self.value) if self.mode == "threshold" else TopFraction(self.value)


def threshold_scores(explanation: np.ndarray, mask: np.ndarray, state: ThresholdState) -> dict[str, float]:
    """IoU and Dice of the whole binarised map against ``mask`` (same shape, 2D or 3D).

    NaN (shown as "undefined") where both the binarised map and the mask are empty, as
    `radxai.evaluate.localisation.iou` and ``dice`` define it; an empty mask against a
    non-empty map scores 0.
    """
    predicted = binarise(explanation, state.scheme())
    reference = np.asarray(mask) > 0
    return {"IoU": localisation.iou(predicted, reference), "Dice": localisation.dice(predicted, reference)}


def format_score(value: float) -> str:
    """A score for a status line: three decimals, or "undefined" for NaN (e.g. IoU of two empty masks)."""
    return "undefined" if math.isnan(value) else f"{value:.3f}"


def draw_threshold_view(
    axes: Sequence[Axes],
    explanation: np.ndarray,
    mask: np.ndarray,
    state: ThresholdState,
    *,
    image: np.ndarray | None = None,
    spacing: Sequence[float] | None = None,
) -> dict[str, float]:
    """Two panels: the binarised map (filled) against the mask (contour) on ``image``, and the
    map's value histogram with the current cut and the 3D COVID-19 work's 0.3 and 0.7.

    ``explanation`` (H, W) or (D, H, W) in [0, 1]; ``mask`` bool of the same shape; ``image``
    the same shape (shown in grey, its own range) or None. Returns `threshold_scores`.
    """
    explanation = np.asarray(explanation, dtype=np.float32)
    mask = np.asarray(mask) > 0
    if mask.shape != explanation.shape:
        raise ValueError(f"the mask has shape {mask.shape} but the map has shape {explanation.shape}")
    scores = threshold_scores(explanation, mask, state)
    selected = binarise(explanation, state.scheme())
    if explanation.ndim == 3:
        check_choice(state.plane, PLANES, "plane")
        position = (
            state.slice_index
            if state.slice_index is not None
            else views.centre_of(mask, mask.shape)[PLANES.index(state.plane)]
        )
        cut = lambda array: take_slice(array, state.plane, position)  # noqa: E731
        aspect = views.aspect_of(state.plane, spacing or (1.0, 1.0, 1.0))
        where = f"{state.plane} slice {position}"
    else:
        cut, aspect, where = (lambda array: array), 1.0, "image"
    background = cut(image) if image is not None else np.zeros(cut(explanation).shape)
    views.show_slice(axes[0], background, aspect=aspect)
    axes[0].imshow(
        np.ma.masked_where(~cut(selected), cut(selected)),
        cmap=ListedColormap([OKABE_ITO[1]]),
        alpha=0.6,
        vmin=0,
        vmax=1,
        aspect=aspect,
        interpolation="nearest",
    )
    if cut(mask).any():
        axes[0].contour(cut(mask).astype(float), levels=[0.5], colors=OKABE_ITO[5], linewidths=1.0)
    label = state.scheme().label
    axes[0].set_title(
        f"{label} (orange) vs mask (blue), {where}\nIoU {format_score(scores['IoU'])}, "
        f"Dice {format_score(scores['Dice'])} over the whole map",
        fontsize=9,
    )
    axes[1].hist(explanation.ravel(), bins=50, range=(0, 1), color="0.6")
    axes[1].set_yscale("log")
    for value in COVID_WORK_THRESHOLDS:
        axes[1].axvline(value, color=OKABE_ITO[1], linestyle="--", linewidth=1)
    cut_value = (
        state.value if state.mode == "threshold" else float(explanation[selected].min()) if selected.any() else math.nan
    )
    if not math.isnan(cut_value):
        axes[1].axvline(cut_value, color=OKABE_ITO[3], linewidth=1.5)
    axes[1].set(
        xlabel="map value",
        ylabel="voxels (log scale)",
        title="values: current cut (red), the 3D COVID-19 work's 0.3 and 0.7 (dashed)",
    )
    axes[1].title.set_fontsize(9)
    return scores


# -------------------------------------------------------------------- radiograph viewer


@dataclass(frozen=True)
class RadiographState:
    """The class whose heatmap is shown, the top fraction boxed, and the overlay opacity."""

    class_name: str
    top_fraction: float = 0.05
    opacity: float = 0.45
    colour_map: str = SEQUENTIAL_COLORMAP


def draw_radiograph_view(
    axes: Axes,
    image: np.ndarray,
    heatmaps: Mapping[str, np.ndarray | None],
    state: RadiographState,
    *,
    boxes: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Draw an X-ray (H, W) with ``state.class_name``'s heatmap (H, W) in [0, 1], the readers'
    boxes of that class ((R, 4) pixels, dashed) and the boxes around the map's top fraction (solid).

    Returns ``{"predicted_boxes", "box_iou", "artist"}``: the box IoU is
    `radxai.evaluate.boxes.reader_box_iou` (NaN without reader boxes: "undefined").
    """
    check_choice(state.class_name, list(heatmaps), "class")
    heatmap = heatmaps[state.class_name]
    views.show_slice(axes, image)
    reader_boxes = np.asarray((boxes or {}).get(state.class_name, np.zeros((0, 4))), dtype=float).reshape(-1, 4)
    for box in reader_boxes:
        draw_box(axes, box, OKABE_ITO[5], linestyle="--")
    artist, predicted, score = None, np.zeros((0, 4)), math.nan
    if heatmap is not None:
        artist = axes.imshow(
            heatmap, cmap=state.colour_map, alpha=state.opacity, vmin=0, vmax=1, interpolation="bilinear"
        )
        predicted = box_metrics.boxes_from_heatmap(heatmap, state.top_fraction)
        for box in predicted:
            draw_box(axes, box, OKABE_ITO[3])
        score = box_metrics.reader_box_iou(predicted, reader_boxes)
    detail = (
        "no map for this class"
        if heatmap is None
        else f"top {100 * state.top_fraction:g}%: {len(predicted)} boxes, box IoU {format_score(score)}"
    )
    axes.set_title(f"{state.class_name}: {detail}\n(dashed: readers' boxes, solid: top-fraction boxes)", fontsize=9)
    return {"predicted_boxes": predicted, "box_iou": score, "artist": artist}
