"""The Dask client of radxai's distributed commands: a local cluster on 127.0.0.1, or a running scheduler.

`radxai explain-cohort` (one task per study) and `radxai reproduce --seeds` (one task per seed)
share it. The local cluster has worker processes with one thread each, no dashboard, glibc's
default memory trimming, and listens on the loopback interface only; a scheduler address
reaches any cluster that a Dask deployment started (dask-jobqueue on SLURM, dask-kubernetes),
whose workers must see the same files.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["SchedulerUnreachableError", "dask_client"]


class SchedulerUnreachableError(ConnectionError):
    """No Dask scheduler answered at the given address in time."""


def dask_client(*, workers: int, scheduler: str | None, timeout: float) -> tuple[Any, Any]:
    """``(client, cluster)``: a client of the scheduler at ``scheduler`` (``cluster`` is None), or
    of a new local cluster of ``workers`` single-threaded processes (close both when done).

    Raises
    ------
    SchedulerUnreachableError
        ``scheduler`` did not answer within ``timeout`` seconds; the message names the address.
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout=f"{timeout}s"), None
        except (OSError, TimeoutError) as error:
            raise SchedulerUnreachableError(
                f"no Dask scheduler answers at {scheduler} within {timeout:g} s ({type(error).__name__})"
            ) from error
    # Dask's nanny gives its workers MALLOC_TRIM_THRESHOLD_, which switches off glibc's dynamic
    # mmap threshold: every array over 128 KiB is then mapped and faulted in afresh. radxai's
    # tasks allocate and free large arrays over and over (a CT case spent ~30% longer in a worker
    # than in this process: bench/bench_cohort.py), so the local workers keep glibc's default.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    return Client(cluster), cluster
