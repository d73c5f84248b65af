"""Tests of radxai.execution: notebooks run on local sockets, report their sections and stream training progress."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from radxai import execution


def cells(*specs: tuple[str, str]) -> list:
    return [
        nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        for kind, source in specs
    ]


def test_section_of_takes_the_last_heading_of_a_markdown_cell() -> None:
    assert execution.section_of("# 03 · CAMs\n\nText\n## HiResCAM vs Grad-CAM\nmore") == "HiResCAM vs Grad-CAM"
    assert execution.section_of("Plain text, no heading") is None


def test_sections_are_reported_once_each_when_their_first_code_cell_starts() -> None:
    notebook = cells(
        ("markdown", "# Title"),
        ("code", "a = 1"),
        ("code", "b = 2"),
        ("markdown", "A note without a heading"),
        ("code", "c = 3"),
        ("markdown", "## Deletion curves"),
        ("code", "d = 4"),
    )
    lines: list[str] = []
    reporter = execution.SectionReporter("06_pixel_deletion", notebook, lines.append)
    for index in range(len(notebook)):
        reporter.cell_started(index)
    assert lines == ["    06_pixel_deletion · cell 1/4 · Title", "    06_pixel_deletion · cell 4/4 · Deletion curves"]


def test_a_code_cell_before_any_heading_is_in_the_start_section() -> None:
    lines: list[str] = []
    reporter = execution.SectionReporter("01", cells(("code", "x = 1"), ("markdown", "## Data")), lines.append)
    reporter.cell_started(0)
    reporter.cell_started(1)  # a markdown cell starting reports nothing
    assert lines == ["    01 · cell 1/1 · start"]


@pytest.mark.slow
def test_a_notebook_runs_on_local_sockets_and_its_progress_reaches_the_run_not_the_notebook(
    tmp_path: Path, capfd
) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = nbformat.v4.new_code_cell("epochs = 1")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [
        nbformat.v4.new_markdown_cell("## Training"),
        parameters,
        nbformat.v4.new_code_cell(
            "from radxai.progress import EpochProgress\n"
            "progress = EpochProgress('tiny net', epochs)\n"
            "progress.epoch_done(1, train_loss=0.25)\n"
            "print('in the notebook')"
        ),
    ]
    source = tmp_path / "01_tiny.ipynb"
    nbformat.write(notebook, source)
    lines: list[str] = []
    execution.execute_notebook(source, tmp_path / "out.ipynb", {"epochs": 3}, kernel_name=None, report=lines.append)
    assert "without encryption" not in capfd.readouterr().err
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    outputs = [output.get("text", "") for output in executed.cells[-1].outputs]
    assert outputs == ["in the notebook\n"]  # the epoch line went to the run, not into the notebook
    # Cell 1 is the parameters cell, 2 the one papermill injects, 3 the training cell.
    assert lines[0] == "    01_tiny · cell 1/3 · Training"
    assert lines[1].startswith("    tiny net: epoch 1/3 · train loss 0.2500 · ") and len(lines) == 2


@pytest.mark.slow
def test_a_kernel_started_in_another_folder_finds_its_sockets(tmp_path: Path, monkeypatch) -> None:
    # The kernel runs in the notebook's folder, given relative to this process's folder; a
    # relative socket path would be resolved in two places and the kernel never answer.
    import nbclient

    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os; print(os.getcwd())")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(
        notebook,
        kernel_manager_class=execution.LocalSocketKernelManager,
        startup_timeout=30,
        resources={"metadata": {"path": "notebooks"}},
    ).execute()
    assert notebook.cells[0].outputs[0]["text"].strip() == str(tmp_path / "notebooks")
