"""The ``radxai`` command.

    radxai reproduce --profile default [--only 01,03]     run every notebook into runs/<...>/
    radxai reproduce --resume runs/<...>                  continue a failed run
    radxai reproduce --profile default --seeds 0,1,2 [--scheduler ADDR]
                                                          one run per seed and the spread across seeds
    radxai aggregate-seeds SWEEP_DIR                      remake a sweep's table across seeds
    radxai report RUN_DIR                                 the run's report: HTML, PDF, Markdown, LaTeX
    radxai compare RUN_DIR [REFERENCE_DIR]                measurements that moved (default results/default)
    radxai explain SCAN --model CKPT --out DIR [--method M]  heatmaps of one scan on its own grid
    radxai explain-cohort DATASET --root DIR --model CKPT --out DIR [--workers N | --scheduler ADDR]
                                                          a cohort's heatmaps and cohort.parquet, on Dask
    radxai notebooks refresh [--only 01]                  re-execute committed notebooks in place
    radxai data synthesize ct|cxr --root DIR [--count N]   write a synthetic dataset to disk
    radxai data verify NAME --root DIR [--write-registry]  check a real dataset's local copy
    radxai data fetch NAME --root DIR [--file F]           download a real dataset where allowed

Exit status: 0 success; 1 the command ran and found a problem (a notebook failed, measurements
moved, a dataset copy is incomplete); 2 a usage error (bad arguments or inputs, said on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from radxai import pipeline, reporting, run_comparison, seed_sweep

# The committed reference results of a default-profile run.
DEFAULT_REFERENCE = "results/default"


def _split_only(value: str | None) -> list[str] | None:
    return None if value is None else [part for part in value.split(",") if part.strip()]


def _reproduce(arguments: argparse.Namespace) -> int:
    settings = pipeline.RunSettings(
        notebooks_dir=Path(arguments.notebooks),
        params_dir=Path(arguments.params),
        runs_root=Path(arguments.runs),
        kernel_name=arguments.kernel,
    )
    run_dir = Path(arguments.resume) if arguments.resume else None
    if run_dir is not None and (arguments.only or arguments.seeds):
        print(
            "radxai reproduce: --resume continues the notebooks and the seed its run selected; do not "
            "combine it with --only or --seeds",
            file=sys.stderr,
        )
        return 2
    seeds = None
    if arguments.seeds:
        try:
            seeds = seed_sweep.parse_seeds(arguments.seeds)
        except ValueError as error:
            print(f"radxai reproduce: --seeds: {error}", file=sys.stderr)
            return 2
    elif run_dir is None:
        seeds = pipeline.load_profile(arguments.profile, settings.params_dir)["seeds"]
    if arguments.scheduler and not seeds:
        print("radxai reproduce: --scheduler runs the seeds of a sweep; give --seeds", file=sys.stderr)
        return 2
    if seeds:
        return _reproduce_seeds(arguments, settings, seeds)
    try:
        finished = pipeline.reproduce(arguments.profile, settings, only=_split_only(arguments.only), run_dir=run_dir)
    except pipeline.NotebookFailure as failure:
        print(f"radxai reproduce: {failure}", file=sys.stderr)
        print(f"continue with: radxai reproduce --resume {failure.output.parent}", file=sys.stderr)
        return 1
    print(f"run complete: {finished}")
    _print_report(finished)
    reference = Path(arguments.reference)
    if (reference / "tables" / "measurements.csv").is_file():
        try:
            print(run_comparison.compare_runs(finished, reference).summary())
        except (run_comparison.ProfileMismatchError, FileNotFoundError) as error:
            print(f"not compared with {reference}: {error}")
    else:
        print(f"not compared: {reference} holds no reference results")
    return 0


def _reproduce_seeds(arguments: argparse.Namespace, settings: pipeline.RunSettings, seeds: list[int]) -> int:
    try:
        sweep_dir = seed_sweep.reproduce_seeds(
            arguments.profile, settings, seeds, only=_split_only(arguments.only), scheduler=arguments.scheduler
        )
    except seed_sweep.SeedSweepError as error:
        print(f"radxai reproduce: {error}", file=sys.stderr)
        return 1
    record = seed_sweep.read_sweep_record(sweep_dir)
    for entry in record["runs"].values():
        _print_report(sweep_dir / entry["run"])
    # The sweep aggregated its seeds as it ended: read its table rather than aggregate again.
    import pandas as pd

    return _print_across_seeds(sweep_dir, pd.read_csv(sweep_dir / "tables" / seed_sweep.ACROSS_SEEDS_FILE))


def _print_across_seeds(sweep_dir: Path, table) -> int:
    print(f"sweep complete: {sweep_dir}")
    print(f"{len(table)} measurements across seeds: {sweep_dir / 'tables' / seed_sweep.ACROSS_SEEDS_FILE}")
    ratio = table["standard_deviation"] / table["mean_interval_width"]
    widest = table.assign(ratio=ratio).dropna(subset=["ratio"]).nlargest(5, "ratio")
    if not widest.empty:
        print("largest spread across seeds relative to a run's own interval width:")
        for row in widest.itertuples(index=False):
            print(
                f"  {row.experiment} / {row.metric} / {row.setting}: mean {row.mean:.3g}, standard deviation "
                f"{row.standard_deviation:.3g} across seeds {row.seeds}, mean interval width "
                f"{row.mean_interval_width:.3g}"
            )
    return 0


def _aggregate_seeds(arguments: argparse.Namespace) -> int:
    try:
        sweep_dir = Path(arguments.sweep_dir)
        return _print_across_seeds(sweep_dir, seed_sweep.aggregate_seeds(sweep_dir))
    except seed_sweep.SeedSweepError as error:
        print(f"radxai aggregate-seeds: {error}", file=sys.stderr)
        return 2


def _print_report(run_dir: Path) -> int:
    written = reporting.write_report(run_dir)
    print(
        f"report of {run_dir} in {written.seconds:.1f} s: {written.folder / 'index.html'}, "
        f"report.pdf, report.md, report.tex"
    )
    for problem in written.problems:
        print(f"  incomplete: {problem}")
    for layout, error in written.failures.items():
        print(f"  {layout} not written: {error}", file=sys.stderr)
    return 1 if written.failures else 0


def _report(arguments: argparse.Namespace) -> int:
    return _print_report(Path(arguments.run_dir))


def _compare(arguments: argparse.Namespace) -> int:
    try:
        comparison = run_comparison.compare_runs(
            arguments.run_dir,
            arguments.reference_dir,
            relative_tolerance=arguments.relative_tolerance,
            allow_different_profiles=arguments.allow_different_profiles,
        )
    except (FileNotFoundError, run_comparison.ProfileMismatchError) as error:
        print(f"radxai compare: {error}", file=sys.stderr)
        return 2
    print(comparison.summary())
    return 0 if comparison.passed else 1


def _refresh_notebooks(arguments: argparse.Namespace) -> int:
    import nbclient
    import nbformat

    from radxai.execution import LocalSocketKernelManager

    for notebook in pipeline.list_notebooks(Path(arguments.notebooks), _split_only(arguments.only)):
        print(f"executing {notebook.name} with its smoke defaults ...", flush=True)
        content = nbformat.read(notebook, as_version=4)
        client = nbclient.NotebookClient(
            content,
            kernel_name=arguments.kernel,
            timeout=None,
            resources={"metadata": {"path": str(notebook.parent)}},
            kernel_manager_class=LocalSocketKernelManager,
        )
        client.execute()
        nbformat.write(content, notebook)
    return 0


def _explain(arguments: argparse.Namespace) -> int:
    from radxai.data.io import ImageReadError
    from radxai.data.model_input import ModelInputError
    from radxai.models import CheckpointError
    from radxai.scan_explanation import ScanReadError, explain_scan

    try:
        record = explain_scan(
            arguments.scan,
            arguments.model,
            arguments.method or ["gradcam", "hirescam"],
            arguments.out,
            target=arguments.target,
            layer=arguments.layer,
        )
    except (FileNotFoundError, ScanReadError, ImageReadError, ModelInputError, CheckpointError, ValueError) as error:
        print(f"radxai explain: {error}", file=sys.stderr)
        return 2
    scores = ", ".join(f"{name} {value:.3f}" for name, value in record["probabilities"].items())
    print(f"{arguments.scan}: {scores}; explained {record['explained_class']!r}")
    for method, files in record["methods"].items():
        print(f"  {method}: {Path(arguments.out) / files['heatmap']} ({files['seconds']:.1f} s)")
    return 0


def _explain_cohort(arguments: argparse.Namespace) -> int:
    from radxai import cohort

    try:
        deletion = (
            cohort.DeletionSettings(arguments.deletion_steps, arguments.deletion_baseline)
            if arguments.deletion_steps
            else None
        )
        cases = cohort.cohort_cases(
            arguments.dataset, arguments.root, split=arguments.split, split_seed=arguments.split_seed
        )
        table = cohort.explain_cohort(
            cases,
            arguments.model,
            arguments.method or ["gradcam", "hirescam"],
            arguments.out,
            workers=arguments.workers,
            scheduler=arguments.scheduler,
            layer=arguments.layer,
            deletion=deletion,
            identity={
                "dataset": arguments.dataset,
                "root": str(Path(arguments.root).resolve()),
                "split": arguments.split,
                "split_seed": arguments.split_seed,
            },
        )
    except (FileNotFoundError, ValueError, cohort.CohortError) as error:
        print(f"radxai explain-cohort: {error}", file=sys.stderr)
        return 2
    failed = sorted(set(table.loc[table.status == "error", "case_id"])) if len(table) else []
    print(f"{len(cases)} cases, {len(failed)} failed: {Path(arguments.out) / cohort.TABLE}")
    for case_id in failed:
        message = table.loc[(table.case_id == case_id), "error"].iloc[0]
        print(f"  {case_id}: {message}", file=sys.stderr)
    return 1 if failed else 0


def _synthesize(arguments: argparse.Namespace) -> int:
    from radxai.data import datasets

    root = Path(arguments.root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        # Two sets in one folder mix their studies (one id under two grades), unnoticed by verify.
        print(
            f"radxai data synthesize: {root} is not an empty folder; write a synthetic set into a new or empty folder",
            file=sys.stderr,
        )
        return 2
    write = datasets.write_synthetic_ct if arguments.kind == "ct" else datasets.write_synthetic_cxr
    try:
        write(root, count=arguments.count, seed=arguments.seed)
    except (ValueError, OSError) as error:
        print(f"radxai data synthesize: {error}", file=sys.stderr)
        return 2
    print(f"wrote {arguments.count} synthetic {arguments.kind} cases to {root}")
    return 0


def _verify(arguments: argparse.Namespace) -> int:
    from radxai.data.datasets import DatasetLayoutError
    from radxai.data.manifests import ManifestError
    from radxai.data.verify import RegistryError, record_registry, verify_dataset

    if arguments.quick and arguments.write_registry:
        print("radxai data verify: --write-registry records a fully verified copy; drop --quick", file=sys.stderr)
        return 2
    options = {"image_root": Path(arguments.image_root)} if arguments.image_root else {}
    try:
        report = verify_dataset(
            arguments.name,
            Path(arguments.root),
            split_seed=arguments.split_seed,
            registry=Path(arguments.registry) if arguments.registry else None,
            read_files=not arguments.quick,
            check_hashes=not arguments.quick,
            compute_hashes=arguments.write_registry,
            **options,
        )
    except (DatasetLayoutError, ManifestError, RegistryError, ValueError) as error:
        print(f"radxai data verify: {error}", file=sys.stderr)
        return 2
    print(report.format())
    if arguments.write_registry:
        try:
            written = record_registry(report, Path(arguments.registry) if arguments.registry else None)
        except RegistryError as error:
            print(f"radxai data verify: {error}", file=sys.stderr)
            return 1
        print(f"registry written: {written} ({len(report.file_hashes)} files)")
    return 0 if report.ok else 1


def _fetch(arguments: argparse.Namespace) -> int:
    from radxai.data.fetch import DownloadError, DownloadNotPossible, fetch_dataset
    from radxai.data.manifests import ManifestError

    try:
        fetched = fetch_dataset(arguments.name, Path(arguments.root), files=arguments.file, progress=arguments.progress)
    except (DownloadNotPossible, DownloadError, ManifestError, ValueError, OSError) as error:
        print(f"radxai data fetch: {error}", file=sys.stderr)
        return 2
    for path in fetched:
        print(f"fetched {path}")
    print(f"next: radxai data verify {arguments.name} --root {arguments.root}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``radxai`` command."""
    parser = argparse.ArgumentParser(
        prog="radxai", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    reproduce = commands.add_parser("reproduce", help="run the notebooks with papermill")
    reproduce.add_argument("--profile", default="default", help="params/<profile>.yaml")
    reproduce.add_argument("--only", help="comma-separated notebook numbers or names, e.g. 01,03")
    reproduce.add_argument("--resume", metavar="RUN_DIR", help="continue a failed run")
    reproduce.add_argument("--notebooks", default="notebooks")
    reproduce.add_argument("--params", default="params")
    reproduce.add_argument("--runs", default="runs")
    reproduce.add_argument("--kernel", default=pipeline.DEFAULT_KERNEL)
    reproduce.add_argument(
        "--reference", default=DEFAULT_REFERENCE, help="reference results the finished run is compared with"
    )
    reproduce.add_argument(
        "--seeds",
        help="comma-separated seeds, e.g. 0,1,2: one run per seed (the profile's "
        "`seed`) and a table of every measurement across the seeds (default: the "
        "profile's own `seeds` list, if it has one)",
    )
    reproduce.add_argument(
        "--scheduler",
        help="with --seeds: address of a running Dask scheduler that runs one "
        "seed per task (default: the seeds one after another here)",
    )
    reproduce.set_defaults(handler=_reproduce)

    aggregate = commands.add_parser(
        "aggregate-seeds", help="remake SWEEP_DIR/tables/measurements_across_seeds.csv (after resuming a failed seed)"
    )
    aggregate.add_argument("sweep_dir", help="a sweep's folder, e.g. runs/<timestamp>-default-seeds")
    aggregate.set_defaults(handler=_aggregate_seeds)

    report = commands.add_parser("report", help="write RUN_DIR/report/ (HTML, PDF, Markdown, LaTeX)")
    report.add_argument("run_dir", help="a run directory, e.g. runs/<timestamp>-default")
    report.set_defaults(handler=_report)

    compare = commands.add_parser("compare", help="list measurements that moved against a reference; exit 1 if any did")
    compare.add_argument("run_dir")
    compare.add_argument("reference_dir", nargs="?", default=DEFAULT_REFERENCE)
    compare.add_argument(
        "--relative-tolerance",
        type=float,
        default=run_comparison.DEFAULT_RELATIVE_TOLERANCE,
        help="relative change that counts as unchanged (default %(default)g)",
    )
    compare.add_argument(
        "--allow-different-profiles", action="store_true", help="compare runs of different profiles anyway"
    )
    compare.set_defaults(handler=_compare)

    explain_command = commands.add_parser(
        "explain", help="explain one scan (NIfTI, DICOM series folder, radiograph) with a trained checkpoint"
    )
    explain_command.add_argument("scan", help="a .nii/.nii.gz file, a DICOM series folder, or a .png/.jpg/.dcm")
    explain_command.add_argument("--model", required=True, help="a radxai PyTorch checkpoint (model.pt)")
    explain_command.add_argument(
        "--method", action="append", help="an explanation method (repeatable; default gradcam and hirescam)"
    )
    explain_command.add_argument("--target", help="class name or index to explain (default: the predicted one)")
    explain_command.add_argument("--layer", help="CAM layer (default: the model's own)")
    explain_command.add_argument("--out", required=True, help="folder for the heatmaps and explanation.json")
    explain_command.set_defaults(handler=_explain)

    cohort_command = commands.add_parser(
        "explain-cohort", help="explain every CT study or radiograph of a dataset on Dask; heatmaps and cohort.parquet"
    )
    cohort_command.add_argument(
        "dataset", help="'synthetic' (CT), 'synthetic_xray' or a real dataset name (data_manifests/)"
    )
    cohort_command.add_argument("--root", required=True, help="the dataset folder")
    cohort_command.add_argument("--model", required=True, help="a radxai checkpoint for the dataset's modality")
    cohort_command.add_argument(
        "--method", action="append", help="an explanation method (repeatable; default gradcam and hirescam)"
    )
    cohort_command.add_argument("--out", required=True, help="folder for heatmaps/, rows/ and cohort.parquet")
    cohort_command.add_argument(
        "--workers",
        type=int,
        default=2,
        help="worker processes of the local Dask cluster (0: serially in this process)",
    )
    cohort_command.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    cohort_command.add_argument("--split", choices=("train", "val", "test"), help="only this split's studies")
    cohort_command.add_argument("--split-seed", type=int, default=0)
    cohort_command.add_argument("--layer", help="CAM layer (default: the model's own)")
    cohort_command.add_argument(
        "--deletion-steps",
        type=int,
        help="also a deletion curve per case and method in this many steps: "
        "deletion_auc and the baseline's probability in the table",
    )
    cohort_command.add_argument(
        "--deletion-baseline",
        choices=("blur", "mean", "zero"),
        default="blur",
        help="what deleted voxels become (default %(default)s)",
    )
    cohort_command.set_defaults(handler=_explain_cohort)

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

    verify = data_commands.add_parser(
        "verify", help="check a real dataset: missing, unreadable, counts per class, hashes"
    )
    verify.add_argument("name", help="dataset name (a manifest in data_manifests/)")
    verify.add_argument("--root", required=True, help="the dataset folder")
    verify.add_argument(
        "--write-registry", action="store_true", help="record the sha256 of every file of this verified copy"
    )
    verify.add_argument("--registry", help="registry file (default: ROOT/radxai_registry.json)")
    verify.add_argument("--quick", action="store_true", help="check presence and counts only: no decoding, no hashing")
    verify.add_argument("--image-root", help="eye_gaze: the MIMIC-CXR folder holding files/")
    verify.add_argument("--split-seed", type=int, default=0)
    verify.set_defaults(handler=_verify)

    fetch = data_commands.add_parser("fetch", help="download a real dataset where its source allows")
    fetch.add_argument("name", help="dataset name (a manifest in data_manifests/)")
    fetch.add_argument("--root", required=True, help="the dataset folder to download into")
    fetch.add_argument("--file", action="append", help="only this file of the dataset's downloads (repeatable)")
    fetch.add_argument("--progress", action="store_true", help="show a progress bar")
    fetch.set_defaults(handler=_fetch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``radxai`` console script; returns the exit status."""
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.handler(arguments)
    except (pipeline.ProfileError, pipeline.NotebookSelectionError, pipeline.RunDirectoryError) as error:
        print(f"radxai: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
