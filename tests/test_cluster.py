"""Tests of radxai.cluster: the local Dask cluster of the distributed commands."""

from __future__ import annotations

import os

import pytest

from radxai.cluster import SchedulerUnreachableError, dask_client


def _worker_environment() -> tuple[str | None, str | None]:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")


@pytest.mark.slow
def test_local_workers_keep_glibcs_memory_trimming_and_one_thread(monkeypatch) -> None:
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    client, cluster = dask_client(workers=1, scheduler=None, timeout=10)
    try:
        environments = client.run(_worker_environment)
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    finally:
        client.close()
        cluster.close()
    assert list(environments.values()) == [(None, "1")]
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ


def test_a_scheduler_that_does_not_answer_is_named() -> None:
    with pytest.raises(SchedulerUnreachableError, match=r"no Dask scheduler answers at tcp://127.0.0.1:9 within 1 s"):
        dask_client(workers=1, scheduler="tcp://127.0.0.1:9", timeout=1)
