"""Benchmarks of radxai, run with ``python -m bench`` from the repository root (or ``make bench``).

Each module ``bench_<name>.py`` in this package is one benchmark. It provides
``run() -> str``: it measures, writes its numbers to ``bench/results/<name>.json`` and returns
a markdown table, which ``python -m bench`` prints. ``python -m bench cam`` runs only
``bench_cam``. Benchmarks are not tests: they take minutes, depend on the machine and assert
nothing; the committed JSON files record what one machine measured.
"""
