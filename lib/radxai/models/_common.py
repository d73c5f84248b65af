"""Helpers shared by the architectures: width scaling and input-shape checks."""

from __future__ import annotations

import torch

_SPATIAL_AXIS_NAMES = {2: ("H", "W"), 3: ("D", "H", "W")}


def scaled(base: int, width: float) -> int:
    """Number of filters or units for a layer of `base` units under a width multiplier.

    round(base * width), never below 1, so that very small profiles still build.
    """
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    return max(1, round(base * width))


def layout(spatial_dims: int) -> str:
    """The expected tensor layout as text, e.g. "(N, C, D, H, W)" for spatial_dims=3."""
    return "(N, C, " + ", ".join(_SPATIAL_AXIS_NAMES[spatial_dims]) + ")"


def check_input(
    x: torch.Tensor,
    *,
    model: str,
    channels: int,
    spatial_dims: int,
    minimum_size: int = 1,
    multiple: int = 1,
) -> None:
    """Raise ValueError unless x is (N, channels, *spatial) with every spatial size valid.

    minimum_size: smallest allowed size of every spatial axis. multiple: every spatial size
        must be divisible by it.
    The message names the model, the expected layout with its constraints and the received
    shape, so that a caller sees at once which axis is wrong.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model} expects a torch.Tensor, got {type(x).__name__}")
    names = _SPATIAL_AXIS_NAMES[spatial_dims]
    constraints = [f"C={channels}"]
    if minimum_size > 1:
        constraints.append(f"each of {', '.join(names)} >= {minimum_size}")
    if multiple > 1:
        constraints.append(f"each of {', '.join(names)} divisible by {multiple}")
    expected = f"{layout(spatial_dims)} with {' and '.join(constraints)}"
    valid = (
        x.ndim == spatial_dims + 2
        and x.shape[1] == channels
        and all(size >= minimum_size for size in x.shape[2:])
        and all(size % multiple == 0 for size in x.shape[2:])
    )
    if not valid:
        raise ValueError(f"{model} expects input {expected}; got shape {tuple(x.shape)}")
