"""Shared test settings: property tests draw the same examples on every run, so a test run is
as reproducible as the library (set HYPOTHESIS_PROFILE=explore to search with fresh examples)."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import settings

settings.register_profile("reproducible", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reproducible"))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Run each test module's tiny models on one thread: on a busy 2-core machine, waiting
    threads spin and cost more than they save on models this small."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def pytorch_forward_passes():
    """Unit tests run forward passes in PyTorch: their tiny models are scored a few times each,
    where exporting to ONNX costs more than it saves. tests/test_engines.py names its engines."""
    from radxai.explain.engines import use_engine

    with use_engine("torch"):
        yield
