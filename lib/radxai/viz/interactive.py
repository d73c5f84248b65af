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
`draw_threshold_view`, `draw_radiograph_view`, in `radxai.viz.explorer_views` and importable
from here) with `radxai.viz.views`, so the static figures of
the notebooks and the interactive views agree, and the drawing is tested without a browser.
The widgets only hold the state and redraw. Displayed in a notebook, an explorer offers the
live widget to a front end that has one and a PNG of its current state (and one line of text)
to one that has not: papermill and nbval record the PNG and the text, GitHub shows the PNG.
"""

from __future__ import annotations

import base64
import dataclasses
import io
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from radxai.evaluate import boxes as box_metrics
from radxai.viz.explorer_views import (
    BINARISATION_MODES,
    COLOUR_MAPS,
    COVID_WORK_THRESHOLDS,
    PLANES,
    WINDOWS_HU,
    RadiographState,
    ThresholdState,
    VolumeViewState,
    check_masks,
    draw_radiograph_view,
    draw_threshold_view,
    draw_volume_view,
    format_score,
    plane_shape,
    prepare_explanations,
    readout,
    resolve_position,
    threshold_scores,
    volume_index,
)

__all__ = [
    "BINARISATION_MODES",
    "COLOUR_MAPS",
    "COVID_WORK_THRESHOLDS",
    "PLANES",
    "WINDOWS_HU",
    "RadiographState",
    "ThresholdState",
    "VolumeViewState",
    "draw_radiograph_view",
    "draw_threshold_view",
    "draw_volume_view",
    "prepare_explanations",
    "readout",
    "resolve_position",
    "threshold_scores",
    "volume_index",
    "explore",
    "radiograph_explorer",
    "threshold_explorer",
    "RadiographExplorer",
    "ThresholdExplorer",
    "VolumeExplorer",
]


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
        self.masks = check_masks(self.volume.shape, masks)
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
            count, rows, columns = plane_shape(self.volume.shape, self.state.plane)
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

        count, rows, columns = plane_shape(self.volume.shape, self.state.plane)
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
        return f"{self.state.scheme().label}: IoU {format_score(scores['IoU'])}, Dice {format_score(scores['Dice'])}"

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
        return f"{self.state.class_name}, top {100 * self.state.top_fraction:g}%: box IoU {format_score(score)}"

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
