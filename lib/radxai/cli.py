"""The ``radxai`` command.

    radxai reproduce --profile default [--only 01,03]     run every notebook into runs/<...>/
    radxai reproduce --resume runs/<...>                  continue a failed run
    radxai notebooks refresh [--only 01]                  re-execute committed notebooks in place
    radxai data synthesize ct|cxr --root DIR [--count N]   write a synthetic dataset to disk
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from radxai import pipeline


def _split_only(value: str | None) -> list[str] | None:
    return None if value is None else [part for part in value.split(",") if part.strip()]


def _reproduce(arguments: argparse.Namespace) -> int:
    settings = pipeline.RunSettings(
        notebooks_dir=Path(arguments.notebooks), params_dir=Path(arguments.params),
        runs_root=Path(arguments.runs), kernel_name=arguments.kernel,
    )
    run_dir = Path(arguments.resume) if arguments.resume else None
    if run_dir is not None and arguments.only:
        raise SystemExit("--resume continues the notebooks its run selected; do not combine it with --only")
    try:
        finished = pipeline.reproduce(arguments.profile, settings, only=_split_only(arguments.only),
                                      run_dir=run_dir)
    except pipeline.NotebookFailure as failure:
        print(f"radxai reproduce: {failure}", file=sys.stderr)
        print(f"continue with: radxai reproduce --resume {failure.output.parent}", file=sys.stderr)
        return 1
    print(f"run complete: {finished}")
    return 0


def _refresh_notebooks(arguments: argparse.Namespace) -> int:
    import nbclient
    import nbformat

    for notebook in pipeline.list_notebooks(Path(arguments.notebooks), _split_only(arguments.only)):
        print(f"executing {notebook.name} with its smoke defaults ...", flush=True)
        content = nbformat.read(notebook, as_version=4)
        client = nbclient.NotebookClient(
            content, kernel_name=arguments.kernel, timeout=None,
            resources={"metadata": {"path": str(notebook.parent)}},
        )
        client.execute()
        nbformat.write(content, notebook)
    return 0


def _synthesize(arguments: argparse.Namespace) -> int:
    from radxai.data import datasets

    root = Path(arguments.root)
    if arguments.kind == "ct":
        datasets.write_synthetic_ct(root, count=arguments.count, seed=arguments.seed)
    else:
        datasets.write_synthetic_cxr(root, count=arguments.count, seed=arguments.seed)
    print(f"wrote {arguments.count} synthetic {arguments.kind} cases to {root}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``radxai`` command."""
    parser = argparse.ArgumentParser(prog="radxai", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    reproduce = commands.add_parser("reproduce", help="run the notebooks with papermill")
    reproduce.add_argument("--profile", default="default", help="params/<profile>.yaml")
    reproduce.add_argument("--only", help="comma-separated notebook numbers or names, e.g. 01,03")
    reproduce.add_argument("--resume", metavar="RUN_DIR", help="continue a failed run")
    reproduce.add_argument("--notebooks", default="notebooks")
    reproduce.add_argument("--params", default="params")
    reproduce.add_argument("--runs", default="runs")
    reproduce.add_argument("--kernel", default=pipeline.DEFAULT_KERNEL)
    reproduce.set_defaults(handler=_reproduce)

    notebooks = commands.add_parser("notebooks", help="maintain the committed notebooks")
    notebook_commands = notebooks.add_subparsers(dest="notebook_command", required=True)
    refresh = notebook_commands.add_parser("refresh", help="re-execute in place with smoke defaults")
    refresh.add_argument("--only")
    refresh.add_argument("--notebooks", default="notebooks")
    refresh.add_argument("--kernel", default=pipeline.DEFAULT_KERNEL)
    refresh.set_defaults(handler=_refresh_notebooks)

    data = commands.add_parser("data", help="datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    synthesize = data_commands.add_parser("synthesize", help="write a synthetic dataset")
    synthesize.add_argument("kind", choices=("ct", "cxr"))
    synthesize.add_argument("--root", required=True)
    synthesize.add_argument("--count", type=int, default=20)
    synthesize.add_argument("--seed", type=int, default=0)
    synthesize.set_defaults(handler=_synthesize)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``radxai`` console script; returns the exit status."""
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.handler(arguments)
    except (pipeline.ProfileError, pipeline.NotebookSelectionError,
            pipeline.RunDirectoryError) as error:
        print(f"radxai: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
