"""Run the benchmarks of this package and print their tables: ``python -m bench [name ...]``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
from pathlib import Path

PREFIX = "bench_"
SUMMARY = Path(__file__).parent / "results" / "README.md"
_HEADER = (
    "# Benchmark results\n\nWritten by `make bench` (`python -m bench [name ...]`); each section "
    "is replaced when its benchmark runs again. The JSON files beside this one hold every "
    "measurement.\n\n"
)


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
    parser.add_argument("names", nargs="*", metavar="name", help=f"benchmarks to run (default all: {names})")
    selected = parser.parse_args(argv).names or names
    unknown = sorted(set(selected) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {names}")
    for name in selected:
        module = importlib.import_module(f"bench.{PREFIX}{name}")
        table = module.run()
        print(f"## {name}\n\n{table}\n")
        write_section(name, table)


def write_section(name: str, table: str) -> None:
    """Put ``table`` under ``## name`` in bench/results/README.md, keeping the other sections."""
    text = SUMMARY.read_text() if SUMMARY.is_file() else _HEADER
    parts = re.split(r"(?m)^## ", text)
    header, sections = parts[0], {part.split("\n", 1)[0]: part for part in parts[1:]}
    sections[name] = f"{name}\n\n{table}\n\n"
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(header + "".join(f"## {sections[key]}" for key in sorted(sections)))


if __name__ == "__main__":
    main()
