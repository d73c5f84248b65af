"""Tests of radxai.pipeline and the `radxai reproduce` command on tiny generated notebooks."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from radxai import cli, pipeline, report
from radxai.data import datasets


def make_notebook(path: Path, parameters: str, body: list[str]) -> Path:
    """Write a notebook with a `parameters`-tagged cell and the given code cells."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters_cell = nbformat.v4.new_code_cell(parameters)
    parameters_cell.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters_cell] + [nbformat.v4.new_code_cell(source) for source in body]
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def project(tmp_path: Path) -> pipeline.RunSettings:
    """A project with a profile and three notebooks; 02 fails until a flag file exists."""
    notebooks = tmp_path / "notebooks"
    params = tmp_path / "params"
    notebooks.mkdir()
    params.mkdir()
    (params / "tiny.yaml").write_text(
        "description: tiny test profile\n"
        "parameters:\n  seed: 3\n  size: 5\n  unused_elsewhere: 1\n"
        "notebooks:\n  03_last: {size: 7}\n"
    )
    flag = tmp_path / "allow_second"
    counter = tmp_path / "first_ran"
    make_notebook(
        notebooks / "01_first.ipynb",
        "seed = 0\nsize = 1\nrun_dir = 'unset'",
        [
            f"open({str(counter)!r}, 'a').write('x')",
            "from pathlib import Path\nPath(run_dir, 'first.txt').write_text(f'{seed} {size}')",
        ],
    )
    make_notebook(
        notebooks / "02_second.ipynb",
        "size = 1",
        ["x = 1", f"import os\nif not os.path.exists({str(flag)!r}):\n    raise RuntimeError('flag missing')"],
    )
    make_notebook(
        notebooks / "03_last.ipynb",
        "size = 1\nrun_dir = 'unset'",
        ["from pathlib import Path\nPath(run_dir, 'last.txt').write_text(str(size))"],
    )
    return pipeline.RunSettings(
        notebooks_dir=notebooks,
        params_dir=params,
        runs_root=tmp_path / "runs",
        kernel_name=None,
        progress=lambda message: None,
    )


@pytest.mark.slow
def test_run_writes_outputs_parameters_and_hashes(project: pipeline.RunSettings, tmp_path: Path) -> None:
    (tmp_path / "allow_second").write_text("")
    run_dir = pipeline.reproduce("tiny", project)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed"
    assert (run_dir / "first.txt").read_text() == "3 5"
    assert (run_dir / "last.txt").read_text() == "7"  # per-notebook override wins
    assert record["notebooks"]["01_first.ipynb"]["seeds"] == {"seed": 3}
    assert "unused_elsewhere" not in record["notebooks"]["01_first.ipynb"]["parameters"]
    assert set(record["outputs"]) >= {"first.txt", "last.txt", "01_first.ipynb"}
    assert record["outputs"]["first.txt"] == pipeline.sha256_of_file(run_dir / "first.txt")
    assert record["packages"]["numpy"] != "not installed"
    assert re.fullmatch(r"\d+ CPU cores, (\d+ GiB|memory unknown), .+", record["machine"])
    assert record["profile"] == "tiny"


@pytest.mark.slow
def test_failure_names_notebook_and_cell_keeps_work_and_resume_continues(
    project: pipeline.RunSettings, tmp_path: Path
) -> None:
    with pytest.raises(pipeline.NotebookFailure) as caught:
        pipeline.reproduce("tiny", project)
    failure = caught.value
    assert failure.notebook == "02_second.ipynb"
    assert "flag missing" in str(failure) and "In [" in str(failure)
    run_dir = failure.output.parent
    assert failure.output.is_file()  # the partly executed notebook is kept
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed"
    assert record["failed_notebook"] == "02_second.ipynb"
    assert record["notebooks"]["02_second.ipynb"]["error"]["name"] == "RuntimeError"
    assert (run_dir / "first.txt").is_file() and not (run_dir / "last.txt").exists()

    (tmp_path / "allow_second").write_text("")
    resumed = pipeline.reproduce("ignored-on-resume", project, run_dir=run_dir)
    assert resumed == run_dir
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed" and record["resumed"] == 1
    assert (tmp_path / "first_ran").read_text() == "x"  # 01 was not executed again
    assert (run_dir / "last.txt").read_text() == "7"


@pytest.mark.slow
def test_only_runs_the_selected_notebooks(project: pipeline.RunSettings) -> None:
    run_dir = pipeline.reproduce("tiny", project, only=["03"])
    assert (run_dir / "last.txt").is_file()
    assert not (run_dir / "first.txt").exists()


def test_run_directories_are_never_reused(tmp_path: Path) -> None:
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5)
    first = pipeline.new_run_directory(tmp_path, "smoke", now=moment)
    (first / "keep.txt").write_text("earlier run")
    second = pipeline.new_run_directory(tmp_path, "smoke", now=moment)
    assert first != second and first.name == "20260102-030405-smoke"
    assert second.name == "20260102-030405-smoke-2"
    assert (first / "keep.txt").read_text() == "earlier run"


def test_unknown_profile_lists_the_available_ones(project: pipeline.RunSettings) -> None:
    with pytest.raises(pipeline.ProfileError, match=r"unknown profile 'huge'.*available profiles: tiny"):
        pipeline.load_profile("huge", project.params_dir)


def test_malformed_profile_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("parameters: [1, 2]\n")
    with pytest.raises(pipeline.ProfileError, match="broken.yaml"):
        pipeline.load_profile("broken", tmp_path)


def test_only_with_unknown_notebook_names_it(project: pipeline.RunSettings) -> None:
    assert [nb.stem for nb in pipeline.list_notebooks(project.notebooks_dir, ["01", "03_last"])] == [
        "01_first",
        "03_last",
    ]
    with pytest.raises(pipeline.NotebookSelectionError, match="'09'"):
        pipeline.list_notebooks(project.notebooks_dir, ["09"])


def test_resume_of_a_folder_without_record_is_refused(project: pipeline.RunSettings, tmp_path: Path) -> None:
    with pytest.raises(pipeline.RunDirectoryError, match="run.json"):
        pipeline.reproduce("tiny", project, run_dir=tmp_path)


def test_cli_reports_unknown_profile_without_traceback(project: pipeline.RunSettings, capsys) -> None:
    status = cli.main(
        [
            "reproduce",
            "--profile",
            "huge",
            "--params",
            str(project.params_dir),
            "--notebooks",
            str(project.notebooks_dir),
            "--runs",
            str(project.runs_root),
        ]
    )
    assert status == 2
    assert "unknown profile 'huge'" in capsys.readouterr().err
    assert not project.runs_root.exists() or not any(project.runs_root.iterdir())


def test_load_or_build_builds_once_per_parameters(tmp_path: Path) -> None:
    calls = []

    def build(folder: Path) -> None:
        calls.append(folder)
        (folder / "data.txt").write_text("built")

    first = pipeline.load_or_build(tmp_path, "thing", {"a": 1, "b": [1, 2]}, build)
    again = pipeline.load_or_build(tmp_path, "thing", {"b": [1, 2], "a": 1}, build)
    other = pipeline.load_or_build(tmp_path, "thing", {"a": 2, "b": [1, 2]}, build)
    assert first == again != other
    assert len(calls) == 2
    assert (first / "data.txt").read_text() == "built"


def test_failed_build_leaves_no_entry_and_keeps_earlier_ones(tmp_path: Path) -> None:
    kept = pipeline.load_or_build(tmp_path, "thing", {"a": 1}, lambda folder: None)

    def failing(folder: Path) -> None:
        (folder / "half.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        pipeline.load_or_build(tmp_path, "thing", {"a": 2}, failing)
    entries = sorted(path.name for path in (tmp_path / "cache").iterdir())
    assert entries == [kept.name]


@pytest.mark.slow
def test_trained_model_is_reproducible_across_builds(tmp_path: Path) -> None:
    import torch

    from radxai import models

    dataset = {"count": 8, "shape": [16, 32, 32], "seed": 0}
    arguments = {"width": 0.05, "padding": "same"}
    fit = {"epochs": 2, "batch_size": 2, "seed": 3}
    first = pipeline.trained_model(tmp_path / "a", "ct", dataset, [16, 32, 32], "cnn3d", arguments, fit)
    torch.manual_seed(12345)  # whatever the caller did to the global generators before
    second = pipeline.trained_model(tmp_path / "b", "ct", dataset, [16, 32, 32], "cnn3d", arguments, fit)
    again = pipeline.trained_model(tmp_path / "a", "ct", dataset, [16, 32, 32], "cnn3d", arguments, fit)
    assert again == first
    for (name, a), (_, b) in zip(models.load(first).state_dict().items(), models.load(second).state_dict().items()):
        assert torch.equal(a, b), name

    def losses(checkpoint: Path) -> list[tuple[float, float]]:
        return [
            (epoch["train_loss"], epoch["validation_loss"]) for epoch in pipeline.training_history(checkpoint)["epochs"]
        ]

    assert losses(first) == losses(second)


@pytest.mark.slow
def test_a_dead_kernel_is_recorded_as_a_failure(project: pipeline.RunSettings) -> None:
    make_notebook(project.notebooks_dir / "01_first.ipynb", "size = 1", ["import os\nos._exit(1)"])
    with pytest.raises(pipeline.NotebookFailure) as caught:
        pipeline.reproduce("tiny", project, only=["01"])
    assert caught.value.error_name == "DeadKernelError"
    record = json.loads((caught.value.output.parent / "run.json").read_text())
    assert record["status"] == "failed" and record["failed_notebook"] == "01_first.ipynb"


def test_dataset_spec_is_synthetic_by_default_and_names_real_datasets(tmp_path: Path) -> None:
    spec = pipeline.dataset_spec("synthetic", None, 3, count=5, shape=[8, 8])
    assert spec == {"count": 5, "shape": [8, 8], "seed": 3}
    real = pipeline.dataset_spec("pediatric_pneumonia", tmp_path, 1)
    assert real == {"name": "pediatric_pneumonia", "root": str(tmp_path.resolve()), "seed": 1}
    with pytest.raises(ValueError, match="unknown dataset 'mnist'.*mosmeddata"):
        pipeline.dataset_spec("mnist", tmp_path, 0)
    with pytest.raises(ValueError, match="needs data_root.*radxai data verify pediatric_pneumonia"):
        pipeline.dataset_spec("pediatric_pneumonia", None, 0)


def test_model_datasets_read_a_real_dataset_in_its_layout(tmp_path: Path) -> None:
    from PIL import Image

    files = {
        "train/NORMAL/IM-0115-0001.jpeg": 10,
        "train/PNEUMONIA/person1_bacteria_1.jpeg": 200,
        "val/NORMAL/NORMAL2-IM-1431-0001.jpeg": 60,
        "val/PNEUMONIA/person3_virus_4.jpeg": 220,
        "test/NORMAL/IM-0001-0001.jpeg": 80,
        "test/PNEUMONIA/person100_virus_184.jpeg": 240,
    }
    for relative, value in files.items():
        path = tmp_path / "chest_xray" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 10), value, np.uint8)).save(path, format="JPEG")
    spec = pipeline.dataset_spec("pediatric_pneumonia", tmp_path, 0)
    with pytest.raises(datasets.DatasetLayoutError, match="incomplete copy"):
        pipeline.model_datasets(tmp_path / "run", "cxr", spec, [16, 16])
    spec["allow_incomplete"] = True  # a tiny copy, far below the published counts
    splits = pipeline.model_datasets(tmp_path / "run", "cxr", spec, [16, 16])
    x, y = splits["train"][1]
    assert x.shape == (1, 16, 16)
    assert y.tolist() == [0.0, 1.0]  # NORMAL, PNEUMONIA
    assert [len(splits[name]) for name in ("train", "val", "test")] == [2, 2, 2]
    with pytest.raises(ValueError, match="'pediatric_pneumonia' is a 'cxr' dataset.*'ct'"):
        pipeline.model_datasets(tmp_path / "run", "ct", spec, [8, 16, 16])


@pytest.mark.slow
def test_cli_reproduce_ends_with_the_report_and_the_comparison(
    project: pipeline.RunSettings, tmp_path: Path, capsys
) -> None:
    (tmp_path / "allow_second").write_text("")
    reference = tmp_path / "reference"
    report.record_measurements(
        reference,
        [{"metric": "auroc", "setting": "3D CNN", "value": 0.9}],
        experiment="control",
        work="radxai",
        reference="",
        profile="tiny",
    )
    status = cli.main(
        [
            "reproduce",
            "--profile",
            "tiny",
            "--params",
            str(project.params_dir),
            "--notebooks",
            str(project.notebooks_dir),
            "--runs",
            str(project.runs_root),
            "--kernel",
            "python3",
            "--reference",
            str(reference),
        ]
    )
    output = capsys.readouterr().out
    assert status == 0
    (run_dir,) = project.runs_root.iterdir()
    assert (run_dir / "report" / "index.html").is_file() and (run_dir / "report" / "report.pdf").is_file()
    assert "report of" in output and "incomplete: tables/measurements.csv is missing" in output
    # The tiny notebooks record no measurement: the comparison says so instead of failing the run.
    assert f"not compared with {reference}" in output and "has no tables/measurements.csv" in output


def test_the_cache_key_covers_every_module_of_a_package(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "loaders_under_test"
    (package / "real").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "real" / "__init__.py").write_text("")
    loader = package / "real" / "layout.py"
    loader.write_text("ORIENTATION = 'RAS'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import loaders_under_test

    calls = []
    build = lambda folder: calls.append(folder)  # noqa: E731
    first = pipeline.load_or_build(tmp_path / "run", "model", {"a": 1}, build, code=(loaders_under_test,))
    assert pipeline.load_or_build(tmp_path / "run", "model", {"a": 1}, build, code=(loaders_under_test,)) == first
    loader.write_text("ORIENTATION = 'LPS'\n")  # editing a loader deep in the package
    edited = pipeline.load_or_build(tmp_path / "run", "model", {"a": 1}, build, code=(loaders_under_test,))
    assert edited != first and len(calls) == 2


def test_trained_models_depend_on_the_real_data_loaders() -> None:
    covered = {path.as_posix() for module in pipeline.torch_training_code() for path in pipeline.source_files(module)}
    assert any(path.endswith("radxai/data/real/mosmeddata.py") for path in covered)
    assert any(path.endswith("radxai/models/cnn3d.py") for path in covered)
    assert any(path.endswith("radxai/train.py") for path in covered)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{}", "not a run record of radxai reproduce"),
        (b"[]", "not a run record of radxai reproduce"),
        (b"\xff\xfe not utf-8", "not valid JSON"),
    ],
)
def test_resume_of_an_unreadable_record_is_refused(
    project: pipeline.RunSettings, tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "run.json").write_bytes(content)
    with pytest.raises(pipeline.RunDirectoryError, match=message):
        pipeline.reproduce("tiny", project, run_dir=tmp_path)


@pytest.mark.slow
def test_resume_refuses_a_run_whose_notebooks_are_gone_and_reruns_a_lost_output(
    project: pipeline.RunSettings, tmp_path: Path
) -> None:
    (tmp_path / "allow_second").write_text("")
    run_dir = pipeline.reproduce("tiny", project, only=["01"])
    (run_dir / "01_first.ipynb").unlink()  # the executed notebook of a completed step is lost
    pipeline.reproduce("tiny", project, run_dir=run_dir)
    assert (run_dir / "01_first.ipynb").is_file()
    assert (tmp_path / "first_ran").read_text() == "xx"  # it ran again, not "already completed"
    (project.notebooks_dir / "01_first.ipynb").unlink()
    with pytest.raises(pipeline.RunDirectoryError, match="selected 01_first.ipynb, which .* no longer has"):
        pipeline.reproduce("tiny", project, run_dir=run_dir)


def test_cli_resume_with_only_is_a_usage_error(tmp_path: Path, capsys) -> None:
    assert cli.main(["reproduce", "--resume", str(tmp_path), "--only", "01"]) == 2
    assert "do not combine it with --only" in capsys.readouterr().err


def test_writing_a_record_into_a_missing_folder_names_the_target(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"run.json: the folder .*absent does not exist"):
        pipeline.write_json_atomically({"a": 1}, tmp_path / "absent" / "run.json")


@pytest.mark.slow
def test_a_run_killed_mid_notebook_resumes_from_that_notebook(project: pipeline.RunSettings, tmp_path: Path) -> None:
    # SIGKILL leaves no chance to write "failed": run.json still says "running" for notebook 02.
    import os
    import signal
    import subprocess
    import sys
    import time

    started = tmp_path / "second_started"
    make_notebook(
        project.notebooks_dir / "02_second.ipynb",
        "size = 1",
        [f"open({str(started)!r}, 'w').write('x')\nimport time\ntime.sleep(120)"],
    )
    command = [
        sys.executable,
        "-m",
        "radxai.cli",
        "reproduce",
        "--profile",
        "tiny",
        "--kernel",
        "python3",
        "--notebooks",
        str(project.notebooks_dir),
        "--params",
        str(project.params_dir),
        "--runs",
        str(project.runs_root),
        "--reference",
        str(tmp_path / "no-reference"),
    ]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert process.poll() is None and time.monotonic() < deadline, "notebook 02 never started"
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # papermill and its kernel, at once
        process.wait()
    (run_dir,) = project.runs_root.iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "running" and record["notebooks"]["02_second.ipynb"]["status"] == "running"

    make_notebook(project.notebooks_dir / "02_second.ipynb", "size = 1", ["x = 2"])
    pipeline.reproduce("tiny", project, run_dir=run_dir)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed"
    assert all(entry["status"] == "completed" for entry in record["notebooks"].values())
    assert (tmp_path / "first_ran").read_text() == "x"  # 01 finished before the kill: not run again
    assert (run_dir / "last.txt").read_text() == "7"
