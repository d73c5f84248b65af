"""Tests of radxai.registry: one way to register and look up by name."""

from __future__ import annotations

import pytest

from radxai.registry import Registry, UnknownNameError


def test_registered_entries_are_found_and_listed_sorted() -> None:
    shapes: Registry[type] = Registry("shape")

    @shapes.register("square")
    class Square:
        pass

    shapes.register("circle")(dict)
    assert shapes.get("square") is Square and shapes.names() == ["circle", "square"]
    assert shapes.register("square")(Square) is Square  # the same entry again is harmless


def test_a_taken_name_and_an_unknown_name_are_refused_by_name() -> None:
    shapes: Registry[type] = Registry("shape")
    shapes.register("square")(list)
    with pytest.raises(ValueError, match="shape 'square' is already registered to <class 'list'>"):
        shapes.register("square")(tuple)
    with pytest.raises(UnknownNameError, match="unknown shape 'triangle'; known shapes: square"):
        shapes.get("triangle")
    with pytest.raises(UnknownNameError, match=r"unknown shape \['square'\]"):
        shapes.get(["square"])  # type: ignore[arg-type]


def test_a_registry_raises_its_own_subclass_of_the_unknown_name_error() -> None:
    class UnknownShapeError(UnknownNameError):
        pass

    with pytest.raises(UnknownShapeError):
        Registry("shape", UnknownShapeError).get("triangle")


def test_methods_and_architectures_use_it() -> None:
    from radxai.explain import registry as method_registry
    from radxai.models import registry as architecture_registry

    with pytest.raises(UnknownNameError, match="unknown method 'nothing'; known methods: .*gradcam"):
        method_registry.method_named("nothing")
    with pytest.raises(architecture_registry.UnknownArchitectureError, match="known architectures: .*cnn3d"):
        architecture_registry.builder_of("nothing")


def test_unregister_frees_the_name_for_a_new_entry() -> None:
    shapes: Registry[type] = Registry("shape")
    shapes.register("square")(list)
    shapes.unregister("square")
    assert shapes.register("square")(tuple) is tuple and shapes.get("square") is tuple
    with pytest.raises(UnknownNameError, match="unknown shape 'circle'"):
        shapes.unregister("circle")
