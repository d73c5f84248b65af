"""Checks of the committed notebooks that nbval cannot make: parameters, outputs, paths."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SMOKE = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())["parameters"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_parameter_defaults_are_the_smoke_profile(notebook: Path) -> None:
    defaults = {name: spec["default"] for name, spec in papermill.inspect_notebook(str(notebook)).items()}
    assert "run_dir" in defaults
    for name in set(defaults) & set(SMOKE):
        assert ast.literal_eval(defaults[name]) == SMOKE[name], f"{notebook.name}: {name}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_committed_outputs_are_complete_small_and_free_of_local_paths(notebook: Path) -> None:
    content = nbformat.read(notebook, as_version=4)
    code_cells = [cell for cell in content.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code_cells), "notebook not fully executed"
    assert not any(output.get("output_type") == "error" for cell in code_cells for output in cell.outputs)
    text = json.dumps([cell.outputs for cell in code_cells])
    assert str(ROOT) not in text and "/tmp/" not in text and "/root/" not in text
    assert notebook.stat().st_size < 3_000_000
    assert content.cells[0].cell_type == "markdown"
    assert "parameters" in code_cells[0].metadata.get("tags", [])


PROFILES = sorted((ROOT / "params").glob("*.yaml"))


@pytest.mark.parametrize("profile", PROFILES, ids=[path.stem for path in PROFILES])
def test_every_profile_parameter_reaches_a_notebook(profile: Path) -> None:
    # papermill injects names a notebook does not declare without complaint, so a typo in a
    # profile would silently leave the smoke default in place.
    content = yaml.safe_load(profile.read_text())
    declared = {path.stem: set(papermill.inspect_notebook(str(path))) for path in NOTEBOOKS}
    everywhere = set().union(*declared.values())
    assert not set(content["parameters"]) - everywhere, f"{profile.name}: declared by no notebook"
    for stem, overrides in (content.get("notebooks") or {}).items():
        assert stem in declared, f"{profile.name}: no notebook {stem}"
        assert not set(overrides) - declared[stem], f"{profile.name}: {stem} does not declare them"


@pytest.mark.parametrize("profile", PROFILES, ids=[path.stem for path in PROFILES])
def test_every_3d_cnn_input_of_a_profile_survives_the_networks_pooling(profile: Path) -> None:
    # A shape below the 3D CNN's minimum only fails when the notebook trains, deep into a run
    # (the default profile's focal phantoms once stopped notebook 09 that way).
    from radxai.models.cnn3d import minimum_input_size
    from radxai.pipeline import load_profile, notebook_parameters

    chosen = load_profile(profile.stem, profile.parent)
    for notebook in NOTEBOOKS:
        defaults = {
            name: ast.literal_eval(spec["default"]) for name, spec in papermill.inspect_notebook(str(notebook)).items()
        }
        values = {
            **defaults,
            **{name: value for name, value in notebook_parameters(chosen, notebook.stem).items() if name in defaults},
        }
        if "cnn3d_padding" not in values:
            continue
        smallest = minimum_input_size(values["cnn3d_padding"])
        for name in ("ct_input_shape", "focal_shape"):
            if name in values:
                assert min(values[name]) >= smallest, (
                    f"{profile.name}, {notebook.stem}: {name} {values[name]} is below the 3D CNN's "
                    f"{smallest} voxels per axis with {values['cnn3d_padding']!r} padding"
                )
