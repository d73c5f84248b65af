"""Profiles: ``params/<name>.yaml``, the parameters of one run size, and overrides of them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


class ProfileError(ValueError):
    """A profile name that has no YAML file, or a profile file that is malformed."""


def available_profiles(params_dir: Path) -> list[str]:
    """Names of the profiles in ``params_dir`` (the stems of its ``*.yaml`` files), sorted."""
    return sorted(path.stem for path in Path(params_dir).glob("*.yaml"))


def load_profile(name: str, params_dir: Path) -> dict[str, Any]:
    """Read profile ``name`` from ``params_dir/<name>.yaml``.

    Returns ``{"name", "description", "seeds", "parameters": {...}, "notebooks": {stem: {...}}}``;
    ``seeds`` is the profile's optional list of seeds for a sweep (`radxai.seed_sweep`), else None.
    Raises ``ProfileError`` naming the profile and listing the available ones if it is unknown,
    or naming the file if its content is not a profile.
    """
    path = Path(params_dir) / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_profiles(params_dir)) or "none"
        raise ProfileError(f"unknown profile {name!r}: no {path}; available profiles: {known}")
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ProfileError(f"profile file {path} is not valid YAML: {error}") from error
    if not isinstance(content, dict) or not isinstance(content.get("parameters", {}), dict):
        raise ProfileError(f"profile file {path} must be a mapping with a 'parameters' mapping")
    notebooks = content.get("notebooks") or {}
    if not isinstance(notebooks, dict):
        raise ProfileError(f"profile file {path}: 'notebooks' must map notebook names to parameters")
    seeds = content.get("seeds")
    if seeds is not None and (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(seed, int) and seed >= 0 for seed in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise ProfileError(
            f"profile file {path}: 'seeds' must be a list of distinct non-negative integers "
            f"(one run per seed); got {seeds!r}"
        )
    return {
        "name": name,
        "description": content.get("description", ""),
        "seeds": seeds,
        "parameters": dict(content.get("parameters") or {}),
        "notebooks": {str(stem): dict(values or {}) for stem, values in notebooks.items()},
    }


def notebook_parameters(profile: Mapping[str, Any], notebook_stem: str) -> dict[str, Any]:
    """The profile's parameters for one notebook: shared parameters, then its own overrides."""
    merged = dict(profile["parameters"])
    merged.update(profile["notebooks"].get(notebook_stem, {}))
    return merged


def seeds_of(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that are seeds (their name contains ``seed``), for run.json."""
    return {key: value for key, value in parameters.items() if "seed" in key.lower()}


def with_overrides(profile: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``profile`` with ``overrides`` replacing its shared parameters and any per-notebook value
    of the same names (an override given for the whole run wins everywhere, e.g. a sweep's seed)."""
    return {
        **profile,
        "parameters": {**profile["parameters"], **overrides},
        "notebooks": {
            stem: {key: value for key, value in values.items() if key not in overrides}
            for stem, values in profile["notebooks"].items()
        },
    }
