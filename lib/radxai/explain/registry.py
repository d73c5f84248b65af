"""Explanation methods by name.

A method is registered with `register_method(name)` and is either

- a function ``method(backend, x, target, layer, *, option=default, ...) -> Attribution``
  whose keyword-only parameters are its options, or
- a dataclass (such as a `radxai.explain.cam.BaseCAM` subclass) whose fields are its options;
  it is built with the options, then called as ``instance(backend, x, target, layer)``.

backend is a `radxai.explain.backends.Backend`, x the validated input (N, C, *spatial)
float32 numpy, target a `radxai.explain.targets.TargetSpec` and layer a name or None.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

from radxai.explain.backends import Backend
from radxai.explain.explanation import Attribution
from radxai.explain.targets import TargetSpec
from radxai.registry import Registry

__all__ = [
    "register_method",
    "unregister_method",
    "methods",
    "method_named",
    "accepted_options",
    "check_options",
    "run_method",
]

Method = TypeVar("Method", bound=Callable[..., Any])

_METHODS: Registry[Callable[..., Any]] = Registry("method")


def register_method(name: str) -> Callable[[Method], Method]:
    """Decorator registering a method function or dataclass under `name` (`radxai.registry`:
    a second, different method under a taken name raises ValueError)."""
    return _METHODS.register(name)


def unregister_method(name: str) -> None:
    """Remove the method registered under `name` (e.g. before a notebook cell registers a new
    version of its own method); `radxai.registry.UnknownNameError` if there is none."""
    _METHODS.unregister(name)


def methods() -> list[str]:
    """Sorted names of the registered methods."""
    return _METHODS.names()


def method_named(name: str) -> Callable[..., Any]:
    """The method registered under `name`; `radxai.registry.UnknownNameError` (a ValueError)
    listing the known methods otherwise."""
    return _METHODS.get(name)


def accepted_options(name: str) -> list[str]:
    """The option names method `name` accepts: dataclass fields or keyword-only parameters."""
    method = method_named(name)
    if isinstance(method, type) and dataclasses.is_dataclass(method):
        return [field.name for field in dataclasses.fields(method) if field.init]
    parameters = inspect.signature(method).parameters.values()
    return [parameter.name for parameter in parameters if parameter.kind is parameter.KEYWORD_ONLY]


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """TypeError naming the options method `name` does not accept, and those it does."""
    accepted = accepted_options(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"method {name!r} got unknown option(s) {', '.join(unknown)}; accepted options: "
            f"{', '.join(accepted) or 'none'}"
        )


def run_method(
    name: str,
    backend: Backend,
    x: np.ndarray,
    target: TargetSpec,
    layer: str | None,
    options: Mapping[str, Any],
) -> Attribution:
    """Run method `name` with its options; TypeError names unknown options and the accepted."""
    method = method_named(name)
    check_options(name, options)
    if isinstance(method, type):
        return method(**options)(backend, x, target, layer)
    return method(backend, x, target, layer, **options)
