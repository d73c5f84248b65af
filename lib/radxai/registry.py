"""Named registries: the one way radxai looks things up by name (architectures, explanation methods).

A `Registry` maps names to objects registered with its ``register(name)`` decorator. A second,
different object under a taken name raises ValueError, so two modules cannot silently replace
each other's entry; an unknown name raises `UnknownNameError` listing the known ones. It imports
nothing from radxai, so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Registry", "UnknownNameError"]

Entry = TypeVar("Entry")
Registered = TypeVar("Registered")


class UnknownNameError(ValueError):
    """A name no entry of a registry was registered under; the message lists the known names."""


class Registry(Generic[Entry]):
    """Entries by name for one ``kind`` of thing ("architecture", "method"), named in messages."""

    def __init__(self, kind: str, unknown_error: type[UnknownNameError] = UnknownNameError) -> None:
        self.kind = kind
        self.unknown_error = unknown_error
        self._entries: dict[str, Entry] = {}

    def register(self, name: str) -> Callable[[Registered], Registered]:
        """Decorator registering the decorated object under ``name``; ValueError if another
        object holds the name already (registering the same object again is harmless)."""

        def decorator(entry: Registered) -> Registered:
            if name in self._entries and self._entries[name] is not entry:
                raise ValueError(f"{self.kind} {name!r} is already registered to {self._entries[name]}")
            self._entries[name] = entry  # type: ignore[assignment]
            return entry

        return decorator

    def unregister(self, name: str) -> None:
        """Remove ``name`` (e.g. before a notebook cell registers a new version of its own
        method); `UnknownNameError` if nothing is registered under it."""
        self.get(name)
        del self._entries[name]

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def get(self, name: str) -> Entry:
        """The entry registered under ``name``; ``unknown_error`` (an `UnknownNameError`) naming
        the known names otherwise, also for a name that is not a string."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise self.unknown_error(
                f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(self.names())}"
            ) from None
