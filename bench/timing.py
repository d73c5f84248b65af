"""Interleaved timing shared by the benchmarks: every kind once per round, in a rotated order,
so a shared machine's changing load falls on all kinds alike."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any


def interleaved_rounds(
    kinds: Mapping[str, Callable[[], Any]], rounds: int
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Run every kind once per round, rotating the order by one each round.

    Returns:
        ``({kind: seconds of each round}, {kind: what its last run returned})``.
    """
    seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
    outputs: dict[str, Any] = {}
    names = list(kinds)
    for round_index in range(rounds):
        shift = round_index % len(names)
        for kind in names[shift:] + names[:shift]:
            started = time.perf_counter()
            outputs[kind] = kinds[kind]()
            seconds[kind].append(time.perf_counter() - started)
    return seconds, outputs
