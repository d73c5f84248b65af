"""Run the benchmarks of this package and print their tables: ``python -m bench [name ...]``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path

PREFIX = "bench_"


def available() -> list[str]:
    """Names of the benchmarks: the modules ``bench_<name>`` of this package, sorted."""
    folder = Path(__file__).parent
    return sorted(
        module.name.removeprefix(PREFIX)
        for module in pkgutil.iter_modules([str(folder)])
        if module.name.startswith(PREFIX)
    )


def main(argv: list[str] | None = None) -> None:
    """Run the named benchmarks (all by default) and print each one's markdown table."""
    names = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="name", help=f"benchmarks to run (default all: {names})"
    )
    selected = parser.parse_args(argv).names or names
    unknown = sorted(set(selected) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {names}")
    for name in selected:
        module = importlib.import_module(f"bench.{PREFIX}{name}")
        print(f"## {name}\n")
        print(module.run())
        print()


if __name__ == "__main__":
    main()
