"""Shared test settings: property tests draw the same examples on every run, so a test run is
as reproducible as the library (set HYPOTHESIS_PROFILE=explore to search with fresh examples)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("reproducible", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reproducible"))
