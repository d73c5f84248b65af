"""Interactive exploration of scans and their explanations in JupyterLab (ipywidgets).

Three explorers:

- `explore(volume, explanations, masks)`: a CT volume (D, H, W) in HU with one heatmap per
  method; plane, slice, method, overlay opacity, colour map, display window, contours, and a
  readout of HU and heatmap value at a chosen voxel.
- `threshold_explorer(explanation, mask)`: a threshold or top-fraction slider binarising one
  map (2D or 3D) against a mask, with IoU and Dice of the whole map updated live; the 3D
  COVID-19 work's 0.3 and 0.7 marked.
- `radiograph_explorer(image, heatmaps, boxes)`: an X-ray with a heatmap per class, the
  readers' boxes and the boxes around the top fraction of the map, with their IoU.

Every picture is drawn by a plain function of a state (`draw_volume_view`,
`draw_threshold_view`, `draw_radiograph_view`) with `radxai.viz.views`, so the static figures of
the notebooks and the interactive views agree, and the drawing is tested without a browser.
The widgets only hold the state and redraw. Displayed in a notebook, an explorer offers the
live widget to a front end that has one and a PNG of its current state (and one line of text)
to one that has not: papermill and nbval record the PNG and the text, GitHub shows the PNG.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

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


def _check_masks(shape: tuple[int, ...], masks: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    checked = {}
    for name, mask in (masks or {}).items():
        mask = np.asarray(mask)
        if mask.shape != shape:
            raise ValueError(f"the {name} mask has shape {mask.shape} but the image has shape {shape}")
        checked[name] = mask > 0
    return checked


def _check_choice(value: str, choices: Sequence[str], name: str) -> None:
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


def _slice_size(shape: Sequence[int], plane: str) -> tuple[int, int, int]:
    """(number of slices, rows, columns) of ``plane`` for a (D, H, W) shape."""
    depth, height, width = shape
    return {"axial": (depth, height, width), "coronal": (height, depth, width), "sagittal": (width, depth, height)}[
        plane
    ]


def resolve_position(
    shape: Sequence[int], state: VolumeViewState, masks: Mapping[str, np.ndarray] | None = None
) -> tuple[int, int, int]:
    """The (slice, row, column) that ``state`` shows in a (D, H, W) volume; out-of-range raises ValueError."""
    _check_choice(state.plane, PLANES, "plane")
    count, rows, columns = _slice_size(shape, state.plane)
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
    _check_choice(state.method, list(explanations), "method")
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
        _check_choice(self.mode, BINARISATION_MODES, "mode")
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


def _format_score(value: float) -> str:
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
        _check_choice(state.plane, PLANES, "plane")
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
        f"{label} (orange) vs mask (blue), {where}\nIoU {_format_score(scores['IoU'])}, "
        f"Dice {_format_score(scores['Dice'])} over the whole map",
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
    _check_choice(state.class_name, list(heatmaps), "class")
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
        else f"top {100 * state.top_fraction:g}%: {len(predicted)} boxes, box IoU {_format_score(score)}"
    )
    axes.set_title(f"{state.class_name}: {detail}\n(dashed: readers' boxes, solid: top-fraction boxes)", fontsize=9)
    return {"predicted_boxes": predicted, "box_iou": score, "artist": artist}


# ------------------------------------------------------------------------------ widgets


def _png_of(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


class _Explorer(ABC):
    """Controls around one drawing function: ``state`` is the current state, ``widget`` the
    ipywidgets box, ``figure()`` the matplotlib figure of the state and ``status()`` one line
    saying what it shows (the readout, the scores)."""

    description = "explorer"

    def __init__(self, state: Any) -> None:
        self.state = state
        self._widget = None
        self._image = None
        self._status = None

    @abstractmethod
    def figure(self) -> Figure:
        """The matplotlib figure of the current state."""

    @abstractmethod
    def status(self) -> str:
        """One line saying what the current state shows."""

    def set_state(self, **changes: Any) -> None:
        """Change the state (e.g. ``slice_index=12``) and redraw the live view."""
        self.state = dataclasses.replace(self.state, **changes)
        if self._image is not None:
            self._image.value = _png_of(self.figure())
            self._status.value = self.status()

    @abstractmethod
    def controls(self) -> list[Any]:
        """The ipywidgets controls, each bound to a field of the state."""

    @property
    def widget(self):
        """The ipywidgets VBox: the controls, the status line, the rendered image."""
        if self._widget is None:
            import ipywidgets

            self._image = ipywidgets.Image(value=_png_of(self.figure()), format="png")
            self._status = ipywidgets.Label(value=self.status())
            self._widget = ipywidgets.VBox([*self.controls(), self._status, self._image])
        return self._widget

    def _bind(self, control: Any, field: str, convert=lambda value: value) -> Any:
        control.observe(lambda change: self.set_state(**{field: convert(change["new"])}), names="value")
        return control

    def __repr__(self) -> str:
        return self.description

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        # The live widget for a front end that has a widget manager; a PNG of the current state
        # and a line of text for one that has not (papermill, nbval, a notebook on GitHub).
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        bundle["image/png"] = base64.b64encode(_png_of(self.figure())).decode("ascii")
        bundle["text/plain"] = self.description
        return bundle


class VolumeExplorer(_Explorer):
    """`explore`'s viewer; see there."""

    def __init__(
        self,
        volume: np.ndarray,
        explanations: Mapping[str, np.ndarray | None],
        masks: Mapping[str, np.ndarray] | None,
        spacing: Sequence[float],
        state: VolumeViewState,
    ) -> None:
        self.volume = np.asarray(volume, dtype=np.float32)
        if self.volume.ndim != 3:
            raise ValueError(f"explore needs a (D, H, W) volume; got shape {self.volume.shape}")
        self.explanations = prepare_explanations(self.volume.shape, explanations)
        self.masks = _check_masks(self.volume.shape, masks)
        self.spacing = tuple(float(size) for size in spacing)
        super().__init__(state)
        resolve_position(self.volume.shape, state, self.masks)  # a bad initial state fails here
        missing = [method for method, heatmap in self.explanations.items() if heatmap is None]
        self.description = (
            f"volume explorer: {self.volume.shape} voxels, methods "
            f"{', '.join(self.explanations)}"
            + (f" (no map: {', '.join(missing)})" if missing else "")
            + f"; masks {', '.join(self.masks) or 'none'}; showing {state.method}, {state.plane}"
        )

    def figure(self) -> Figure:
        figure, axes = plt.subplots(figsize=(6.0, 5.4), constrained_layout=True)
        drawn = draw_volume_view(
            axes, self.volume, self.explanations, self.state, masks=self.masks, spacing=self.spacing
        )
        if drawn["artist"] is not None:
            figure.colorbar(drawn["artist"], ax=axes, shrink=0.8, label=f"{self.state.method} (normalised)")
        return figure

    def status(self) -> str:
        values = readout(self.volume, self.explanations, self.state, self.masks)
        slice_index = resolve_position(self.volume.shape, self.state, self.masks)[0]
        heat = "no map" if values["heatmap"] is None else f"{values['heatmap']:.3f}"
        return (
            f"{self.state.plane} slice {slice_index} · {self.state.method} · voxel {values['voxel']}: "
            f"{values['HU']:.0f} HU, map {heat}"
        )

    def set_state(self, **changes: Any) -> None:
        if "plane" in changes and changes["plane"] != self.state.plane:
            # A new plane starts at its own centre: the old slice and voxel may not exist there.
            changes = {"slice_index": None, "voxel": None, **changes}
        super().set_state(**changes)
        if self._widget is not None:
            count, rows, columns = _slice_size(self.volume.shape, self.state.plane)
            slice_index, row, column = resolve_position(self.volume.shape, self.state, self.masks)
            for control, high, value in (
                (self._slice, count - 1, slice_index),
                (self._row, rows - 1, row),
                (self._column, columns - 1, column),
            ):
                with control.hold_trait_notifications():
                    control.max, control.value = high, value

    def controls(self) -> list[Any]:
        import ipywidgets

        count, rows, columns = _slice_size(self.volume.shape, self.state.plane)
        slice_index, row, column = resolve_position(self.volume.shape, self.state, self.masks)
        self._slice = ipywidgets.IntSlider(value=slice_index, min=0, max=count - 1, description="slice")
        self._row = ipywidgets.IntSlider(value=row, min=0, max=rows - 1, description="row")
        self._column = ipywidgets.IntSlider(value=column, min=0, max=columns - 1, description="column")
        self._slice.observe(lambda change: self.set_state(slice_index=change["new"]), names="value")
        for control in (self._row, self._column):
            control.observe(lambda change: self.set_state(voxel=(self._row.value, self._column.value)), names="value")
        window = ipywidgets.Dropdown(options=[*WINDOWS_HU, "custom"], value="lung", description="window")
        custom = ipywidgets.FloatRangeSlider(
            value=self.state.window, min=-1200, max=1200, step=10, description="HU range"
        )
        window.observe(lambda change: self.set_state(window=WINDOWS_HU.get(change["new"], custom.value)), names="value")
        custom.observe(
            lambda change: window.value == "custom" and self.set_state(window=tuple(change["new"])), names="value"
        )
        plane = ipywidgets.Dropdown(options=PLANES, value=self.state.plane, description="plane")
        method = ipywidgets.Dropdown(options=list(self.explanations), value=self.state.method, description="method")
        return [
            ipywidgets.HBox([self._bind(plane, "plane"), self._bind(method, "method")]),
            self._slice,
            ipywidgets.HBox(
                [
                    self._bind(
                        ipywidgets.FloatSlider(
                            value=self.state.opacity, min=0, max=1, step=0.05, description="opacity"
                        ),
                        "opacity",
                    ),
                    self._bind(
                        ipywidgets.Dropdown(options=COLOUR_MAPS, value=self.state.colour_map, description="colour map"),
                        "colour_map",
                    ),
                ]
            ),
            ipywidgets.HBox([window, custom]),
            ipywidgets.HBox(
                [
                    self._row,
                    self._column,
                    self._bind(ipywidgets.Checkbox(value=self.state.contours, description="contours"), "contours"),
                ]
            ),
        ]


class ThresholdExplorer(_Explorer):
    """`threshold_explorer`'s viewer; see there."""

    def __init__(
        self,
        explanation: np.ndarray,
        mask: np.ndarray,
        image: np.ndarray | None,
        spacing: Sequence[float] | None,
        state: ThresholdState,
    ) -> None:
        self.explanation = np.asarray(explanation, dtype=np.float32)
        self.mask = np.asarray(mask) > 0
        if self.mask.shape != self.explanation.shape:
            raise ValueError(f"the mask has shape {self.mask.shape} but the map has shape {self.explanation.shape}")
        if image is not None and np.shape(image) != self.explanation.shape:
            raise ValueError(f"the image has shape {np.shape(image)} but the map has shape {self.explanation.shape}")
        self.image, self.spacing = image, spacing
        super().__init__(state)
        self.description = (
            f"threshold explorer: map {self.explanation.shape}, mask of {int(self.mask.sum())} "
            f"voxels; {state.scheme().label}"
        )

    def status(self) -> str:
        scores = threshold_scores(self.explanation, self.mask, self.state)
        return f"{self.state.scheme().label}: IoU {_format_score(scores['IoU'])}, Dice {_format_score(scores['Dice'])}"

    def figure(self) -> Figure:
        figure, axes = plt.subplots(1, 2, figsize=(10.5, 4.2), constrained_layout=True)
        draw_threshold_view(axes, self.explanation, self.mask, self.state, image=self.image, spacing=self.spacing)
        return figure

    def controls(self) -> list[Any]:
        import ipywidgets

        mode = ipywidgets.ToggleButtons(options=BINARISATION_MODES, value=self.state.mode, description="binarise")
        value = ipywidgets.FloatSlider(value=self.state.value, min=0.01, max=0.99, step=0.01, description="value")
        self._bind(mode, "mode")
        self._bind(value, "value")
        controls = [mode, value]
        if self.explanation.ndim == 3:
            controls.append(
                self._bind(ipywidgets.Dropdown(options=PLANES, value=self.state.plane, description="plane"), "plane")
            )
        return controls


class RadiographExplorer(_Explorer):
    """`radiograph_explorer`'s viewer; see there."""

    def __init__(
        self,
        image: np.ndarray,
        heatmaps: Mapping[str, np.ndarray | None],
        boxes: Mapping[str, np.ndarray] | None,
        state: RadiographState,
    ) -> None:
        self.image = np.asarray(image, dtype=np.float32)
        if self.image.ndim != 2:
            raise ValueError(f"radiograph_explorer needs an (H, W) image; got shape {self.image.shape}")
        self.heatmaps = prepare_explanations(self.image.shape, heatmaps)
        self.boxes = dict(boxes or {})
        super().__init__(state)
        self.description = (
            f"radiograph explorer: {self.image.shape} pixels, classes {', '.join(self.heatmaps)}; "
            f"showing {state.class_name}, top {100 * state.top_fraction:g}%"
        )

    def status(self) -> str:
        heatmap = self.heatmaps[self.state.class_name]
        if heatmap is None:
            return f"{self.state.class_name}: no map"
        readers = np.asarray(self.boxes.get(self.state.class_name, np.zeros((0, 4))), dtype=float).reshape(-1, 4)
        score = box_metrics.reader_box_iou(box_metrics.boxes_from_heatmap(heatmap, self.state.top_fraction), readers)
        return f"{self.state.class_name}, top {100 * self.state.top_fraction:g}%: box IoU {_format_score(score)}"

    def figure(self) -> Figure:
        figure, axes = plt.subplots(figsize=(5.6, 5.4), constrained_layout=True)
        drawn = draw_radiograph_view(axes, self.image, self.heatmaps, self.state, boxes=self.boxes)
        if drawn["artist"] is not None:
            figure.colorbar(drawn["artist"], ax=axes, shrink=0.8, label="heatmap (normalised)")
        return figure

    def controls(self) -> list[Any]:
        import ipywidgets

        return [
            self._bind(
                ipywidgets.Dropdown(options=list(self.heatmaps), value=self.state.class_name, description="class"),
                "class_name",
            ),
            self._bind(
                ipywidgets.FloatSlider(
                    value=self.state.top_fraction, min=0.01, max=0.5, step=0.01, description="top fraction"
                ),
                "top_fraction",
            ),
            self._bind(
                ipywidgets.FloatSlider(value=self.state.opacity, min=0, max=1, step=0.05, description="opacity"),
                "opacity",
            ),
        ]


def explore(
    volume: np.ndarray,
    explanations: Mapping[str, np.ndarray | None],
    masks: Mapping[str, np.ndarray] | None = None,
    *,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    method: str | None = None,
    plane: str = "axial",
) -> VolumeExplorer:
    """A viewer of a CT volume with its explanations; display it as a cell's last value.

    Args:
        volume: (D, H, W) in HU.
        explanations: method name -> heatmap (D, H, W) in [0, 1] (another 3D shape is resampled
            with a warning; None: no map for this volume, the viewer says so).
        masks: name -> bool (D, H, W), e.g. ``{"lesion": ..., "lungs": ...}``, drawn as contours.
        spacing: (dz, dy, dx) in mm, for the aspect ratio of coronal and sagittal slices.
        method: the method shown first (default: the first); plane: "axial", "coronal" or "sagittal".
    """
    state = VolumeViewState(method=method or next(iter(explanations), ""), plane=plane)
    return VolumeExplorer(volume, explanations, masks, spacing, state)


def threshold_explorer(
    explanation: np.ndarray,
    mask: np.ndarray,
    *,
    image: np.ndarray | None = None,
    spacing: Sequence[float] | None = None,
    value: float = 0.5,
    mode: str = "threshold",
) -> ThresholdExplorer:
    """A threshold (or top-fraction) slider on one map (H, W) or (D, H, W) in [0, 1] against a mask
    of the same shape, with live IoU and Dice; ``image`` (same shape) is shown underneath."""
    return ThresholdExplorer(explanation, mask, image, spacing, ThresholdState(value=value, mode=mode))


def radiograph_explorer(
    image: np.ndarray,
    heatmaps: Mapping[str, np.ndarray | None],
    *,
    boxes: Mapping[str, np.ndarray] | None = None,
    class_name: str | None = None,
    top_fraction: float = 0.05,
) -> RadiographExplorer:
    """A viewer of an X-ray (H, W) with a heatmap per class (H, W) in [0, 1], the readers' boxes
    per class ((R, 4) pixels, ``(x_min, y_min, x_max, y_max)``) and the top-fraction boxes with their IoU."""
    state = RadiographState(class_name=class_name or next(iter(heatmaps), ""), top_fraction=top_fraction)
    return RadiographExplorer(image, heatmaps, boxes, state)
