"""What the PyTorch and Keras backends share: choosing the explained layer by name and checking
what the model gave back, with one wording of every error for both frameworks.

A backend mixes in `NamedLayers` and provides ``model``, ``ACTIVATION_LAYOUT`` (how a layer's
output is laid out: "(N, F, *s)" in PyTorch, "(N, *s, F)" in Keras), ``_layer_names()`` (the
names a user may pass), ``_model_description()`` (for messages), ``_last_spatial_layer(x)`` and
``_layer_listing(x)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class NamedLayers(ABC):
    """Layer choice and checks of recorded layer outputs for a backend; see the module docstring."""

    model: Any
    ACTIVATION_LAYOUT: str

    @abstractmethod
    def _layer_names(self) -> set[str]:
        """The names of the model's layers a user may pass."""

    @abstractmethod
    def _model_description(self) -> str:
        """The model as messages name it, e.g. its class name."""

    @abstractmethod
    def _last_spatial_layer(self, x: np.ndarray) -> str:
        """The default layer for input x: the last one whose output is a spatial map."""

    @abstractmethod
    def _layer_listing(self, x: np.ndarray) -> str:
        """The layers with a spatial output for input x, comma-separated, for messages."""

    def resolve_layer(self, layer: str | None, x: np.ndarray) -> str:
        """The name of the layer to explain for input x (N, C, *spatial): ``layer`` itself, or for
        None the model's ``cam_layer`` attribute if it has one, else the last spatial layer.

        Raises ValueError for a name that is not a layer of the model (listing the layers with a
        spatial output) and TypeError for a layer that is not given by name.
        """
        names = self._layer_names()
        if layer is None:
            default = getattr(self.model, "cam_layer", None)
            if default is None:
                return self._last_spatial_layer(x)
            if default not in names:
                raise ValueError(
                    f"{self._model_description()}.cam_layer = {default!r} is not a layer of "
                    f"the model; layers with a spatial output: {self._layer_listing(x)}"
                )
            return default
        if not isinstance(layer, str):
            raise TypeError(f"layer must be a layer name (str) or None, got {layer!r}")
        if layer not in names:
            raise ValueError(
                f"unknown layer {layer!r} for {self._model_description()}; "
                f"layers with a spatial output: {self._layer_listing(x)}"
            )
        return layer

    def _no_spatial_layer(self, x: np.ndarray) -> ValueError:
        """The error for a model none of whose layers gives a map for input x."""
        return ValueError(
            f"no layer of {self._model_description()} outputs a spatial map {self.ACTIVATION_LAYOUT} for "
            f"input shape {tuple(x.shape)}; pass layer= explicitly"
        )

    def _check_recorded_output(
        self, name: str, calls: int, shape: tuple[int, ...] | None, output_kind: str, x: np.ndarray
    ) -> None:
        """Raise ValueError unless layer ``name`` ran once in the forward pass and gave a map of
        x's rank and batch size: ``shape`` is its output's shape, None when it was no tensor
        (``output_kind`` then says what it was)."""
        if calls == 0:
            raise ValueError(f"layer {name!r} did not run in the forward pass")
        if calls > 1:
            raise ValueError(
                f"layer {name!r} ran {calls} times in one forward pass (a layer reused at several "
                "places); choose a layer that runs once"
            )
        if shape is None or len(shape) != x.ndim or shape[0] != x.shape[0]:
            got = output_kind if shape is None else f"shape {shape}"
            raise ValueError(
                f"layer {name!r} outputs {got}, not a map {self.ACTIVATION_LAYOUT} with {x.ndim - 2} "
                f"spatial axes for input {tuple(x.shape)}; layers with a spatial output: "
                f"{self._layer_listing(x)}"
            )


def check_logits(output: Any, logits: Any, is_tensor: bool, batch_size: int) -> None:
    """Raise ValueError unless ``logits`` (found in the model's ``output``) is a tensor
    (``is_tensor``) of shape (N,) or (N, K) with N = ``batch_size``."""
    if not is_tensor:
        raise ValueError(
            f"the model returned a {type(output).__name__} without logits; pass a callable "
            "target that returns (N,) scores from it"
        )
    if logits.ndim not in (1, 2) or logits.shape[0] != batch_size:
        raise ValueError(
            f"model logits have shape {tuple(logits.shape)}; expected (N,) or (N, K) with "
            f"N = {batch_size}; for other outputs pass a callable target returning (N,) scores"
        )


def check_callable_scores(scores: Any, is_tensor: bool, batch_size: int) -> None:
    """Raise ValueError unless a callable target's ``scores`` is a tensor (``is_tensor``) of
    shape (N,), one score per sample."""
    if not is_tensor or tuple(scores.shape) != (batch_size,):
        shape = tuple(scores.shape) if is_tensor else type(scores)
        raise ValueError(
            f"the target callable must return a tensor of shape ({batch_size},) (one score per sample); got {shape}"
        )
