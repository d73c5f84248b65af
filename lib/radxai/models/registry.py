"""Architectures by name: register builders, build models that remember how they were built.

A builder is any callable returning a ``torch.nn.Module`` (usually the model class). A model
made by `build` carries two attributes, ``architecture`` (the registered name) and
``arguments`` (every constructor argument, defaults included), which is all a checkpoint
needs to rebuild it (see `radxai.models.checkpoint`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from radxai.models.memory_layout import store_channels_last
from radxai.registry import Registry, UnknownNameError

__all__ = ["UnknownArchitectureError", "register", "build", "architectures"]

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])


class UnknownArchitectureError(UnknownNameError):
    """An architecture name that no builder was registered under."""


_BUILDERS: Registry[Callable[..., nn.Module]] = Registry("architecture", UnknownArchitectureError)


def register(name: str) -> Callable[[Builder], Builder]:
    """Decorator registering a model builder (class or function) under `name` (`radxai.registry`:
    a second builder under a taken name raises ValueError)."""
    return _BUILDERS.register(name)


def architectures() -> list[str]:
    """Sorted names of the registered architectures."""
    return _BUILDERS.names()


def builder_of(name: str) -> Callable[..., nn.Module]:
    """The builder registered under `name`; UnknownArchitectureError lists the known names."""
    return _BUILDERS.get(name)


def build(name: str, **arguments: Any) -> nn.Module:
    """Build the architecture registered under `name` with the given constructor arguments.

    Returns the model in training mode (as a fresh nn.Module is), with ``model.architecture``
    = name and ``model.arguments`` = all constructor arguments including defaults, and its
    convolution weights stored channels-last (`radxai.models.memory_layout`: the same values,
    in the layout the CPU kernels run fastest on). Wrong argument names raise TypeError listing
    the accepted ones.
    """
    builder = builder_of(name)
    signature = inspect.signature(builder)
    try:
        bound = signature.bind(**arguments)
    except TypeError as error:
        accepted = ", ".join(signature.parameters)
        raise TypeError(f"architecture {name!r}: {error}; accepted arguments: {accepted}") from error
    bound.apply_defaults()
    model = store_channels_last(builder(**bound.arguments))
    model.architecture = name
    model.arguments = dict(bound.arguments)
    return model
