"""Cases per second of `radxai explain-cohort`: in-process serial loop, Dask with 1 and 2 workers.

Case: `COUNT` synthetic CT studies at the default profile's size (D, H, W) = (48, 96, 96), the
default profile's 3D CNN (width 0.125, valid padding, untrained but seeded: the cost does not
depend on the weights), methods Grad-CAM and HiResCAM, heatmaps written as NIfTI on each study's
grid, localisation scored where a study has a lesion. Every kind explains the same cases into a
fresh folder:

    serial      explain_cohort(workers=0): the cases one after another in this process (torch on
                all cores)
    serial_1_thread  the same on one torch thread, as each Dask worker runs its case
    dask_1      a LocalCluster of 1 worker process (1 thread), one task per case
    dask_2      a LocalCluster of 2 worker processes (1 thread each)
    startup_k   starting a LocalCluster of k workers that import what a case needs, and stopping
                it, without a case: subtracted from dask_k, it leaves what the cases cost

The Dask kinds include starting and stopping their cluster (workers import torch and radxai),
which is what a user of the command waits for; the serial kind pays the model load once, the
Dask kinds once per worker. Reported: seconds per kind (median of `ROUNDS` interleaved rounds),
cases per second, and the ratios dask_1 / serial (the Dask overhead) and serial / dask_2 (the
speed-up of two workers), with the load average before and after.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

import torch

from bench.timing import interleaved_rounds
from radxai import cohort, models
from radxai.cluster import dask_client
from radxai.data import datasets
from radxai.data.model_input import ModelInput

COUNT = 96
SHAPE = (48, 96, 96)
METHODS = ["gradcam", "hirescam"]
ROUNDS = 2
RESULTS = Path(__file__).parent / "results" / "cohort.json"


def run() -> str:
    """Measure, write bench/results/cohort.json, return the markdown table."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        datasets.write_synthetic_ct(folder / "data", count=COUNT, shape=SHAPE, seed=0)
        torch.manual_seed(0)
        checkpoint = folder / "model.pt"
        models.save(
            models.build("cnn3d", width=0.125, padding="valid"),
            checkpoint,
            model_input=ModelInput.for_ct(SHAPE, "covid").as_dict(),
        )
        cases = cohort.cohort_cases("synthetic", folder / "data")

        def kind(workers: int):
            def explain_all() -> int:
                out = folder / f"out-{workers}"
                shutil.rmtree(out, ignore_errors=True)
                table = cohort.explain_cohort(cases, checkpoint, METHODS, out, workers=workers, progress=False)
                return int((table.status == "done").sum())

            return explain_all

        def serial_on_one_thread() -> int:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return kind(0)()
            finally:
                torch.set_num_threads(threads)

        def startup(workers: int):
            def start_and_stop() -> int:
                client, cluster = dask_client(workers=workers, scheduler=None, timeout=10)
                try:
                    client.run(_import_what_a_case_needs)
                finally:
                    client.close()
                    cluster.close()
                return 0

            return start_and_stop

        seconds, outputs = interleaved_rounds(
            {
                "serial": kind(0),
                "serial_1_thread": serial_on_one_thread,
                "dask_1": kind(1),
                "dask_2": kind(2),
                "startup_1": startup(1),
                "startup_2": startup(2),
            },
            ROUNDS,
        )
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    # Past the start of the cluster (worker processes importing torch and radxai), what each case costs.
    steady = {workers: medians[f"dask_{workers}"] - medians[f"startup_{workers}"] for workers in (1, 2)}
    report = {
        "description": __doc__.split("\n\n")[0],
        "cases": COUNT,
        "shape": list(SHAPE),
        "methods": METHODS,
        "rounds": ROUNDS,
        "seconds": seconds,
        "rows_done": outputs,
        "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    lines = ["| kind | median s | cases per second |", "|---|---|---|"]
    lines += [
        f"| {name} | {value:.1f} | {COUNT / value:.2f} |"
        for name, value in medians.items()
        if not name.startswith("startup")
    ]
    lines += [
        f"| start and stop a cluster of {workers} (no case) | {medians[f'startup_{workers}']:.1f} | |"
        for workers in (1, 2)
    ]
    lines += [
        f"| dask_{workers} past the cluster start | {steady[workers]:.1f} | {COUNT / steady[workers]:.2f} |"
        for workers in (1, 2)
    ]
    lines.append(
        f"\ndask_1 / serial on one thread (a worker's thread count) = "
        f"{medians['dask_1'] / medians['serial_1_thread']:.2f} with the cluster's start, "
        f"{steady[1] / medians['serial_1_thread']:.2f} past it; dask_1 / serial on all cores = "
        f"{medians['dask_1'] / medians['serial']:.2f}; "
        f"speed-up of 2 workers (serial / dask_2) = {medians['serial'] / medians['dask_2']:.2f}, "
        f"{medians['serial'] / steady[2]:.2f} past the start; "
        f"{COUNT} cases of {SHAPE}, {', '.join(METHODS)}; load average before "
        f"{load_before[0]:.2f}, after {report['load_average_1_5_15_min']['after'][0]:.2f}."
    )
    return "\n".join(lines)


def _import_what_a_case_needs() -> None:
    """What a worker imports before its first case (torch and radxai's explanation path)."""
    import radxai.cohort  # noqa: F401
    import radxai.scan_explanation  # noqa: F401
