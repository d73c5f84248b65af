"""Executing one notebook of a run with papermill: a kernel on local sockets, and which section runs.

`execute_notebook` runs a notebook as ``radxai reproduce`` does:

- the kernel talks over IPC (Unix domain sockets) rather than TCP on localhost, so nothing
  listens on a port and ipykernel has no reason to warn about unencrypted TCP on every notebook;
- each time a code cell of a new section starts (a markdown heading), one line names the
  notebook, the cell and the section, so a long notebook says where it is;
- the kernel is given a progress file (``RADXAI_PROGRESS_FILE``, see `radxai.progress`) that its
  training loops append their epoch lines to; a thread of this process passes each new line on,
  so the run's terminal shows them and the executed notebook does not.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from papermill.engines import NBClientEngine, papermill_engines
from traitlets import default

from radxai.progress import PROGRESS_VARIABLE

ENGINE_NAME = "radxai"


class LocalSocketKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels use IPC transport (sockets in Jupyter's runtime folder)."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        # The sockets' path prefix. jupyter_client's default may be the relative "kernel-ipc",
        # which the kernel (started in the notebook's folder) and this process would resolve in
        # different folders: an absolute, unique prefix in the runtime folder serves both.
        if self.connection_file:
            return os.path.splitext(os.path.abspath(self.connection_file))[0] + "-ipc"
        runtime = jupyter_runtime_dir()
        os.makedirs(runtime, exist_ok=True)
        return os.path.join(runtime, f"kernel-{uuid.uuid4()}-ipc")


def section_of(source: str) -> str | None:
    """The last markdown heading in a markdown cell's ``source`` (without the ``#``), or None."""
    headings = [line.lstrip("#").strip() for line in source.splitlines() if line.startswith("#")]
    return headings[-1] if headings else None


class SectionReporter:
    """Calls ``report(line)`` when a code cell of a section not reported yet starts.

    ``notebook``: the name shown in each line. Lines read
    ``"    03_cam_3d · cell 7/31 · HiResCAM vs Grad-CAM on AxialNet"``.
    """

    def __init__(self, notebook: str, cells: list[Any], report: Callable[[str], None]) -> None:
        self.notebook = notebook
        self.report = report
        self.code_cells = [index for index, cell in enumerate(cells) if cell.cell_type == "code"]
        self.sections: dict[int, str] = {}
        current = "start"
        for index, cell in enumerate(cells):
            if cell.cell_type == "markdown":
                current = section_of(cell.source) or current
            self.sections[index] = current
        self.reported: str | None = None

    def cell_started(self, cell_index: int) -> None:
        """Report the section of the code cell at ``cell_index`` if it differs from the last one."""
        section = self.sections.get(cell_index)
        if section is None or section == self.reported or cell_index not in self.code_cells:
            return
        self.reported = section
        position = self.code_cells.index(cell_index) + 1
        self.report(f"    {self.notebook} · cell {position}/{len(self.code_cells)} · {section}")


class _ReportingEngine(NBClientEngine):
    """papermill's nbclient engine, telling a `SectionReporter` when each cell starts."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        make_reporter = kwargs.pop("section_reporter", None)
        if make_reporter is not None:
            # Built from the parameterised notebook, whose injected cell shifts the indices.
            reporter = make_reporter(nb_man.nb.cells)
            cell_start = nb_man.cell_start

            def reporting_cell_start(cell, cell_index=None, **cell_kwargs):
                if cell_index is not None:
                    reporter.cell_started(cell_index)
                return cell_start(cell, cell_index, **cell_kwargs)

            nb_man.cell_start = reporting_cell_start
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


papermill_engines.register(ENGINE_NAME, _ReportingEngine)


@contextmanager
def _environment(variables: Mapping[str, str]):
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _ProgressRelay:
    """Passes the lines a kernel appends to ``path`` on to ``report``, from a thread, until stopped."""

    def __init__(self, path: Path, report: Callable[[str], None], interval: float = 0.5) -> None:
        self.path, self.report, self.interval = path, report, interval
        self._stop = threading.Event()
        self._offset = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _ProgressRelay:
        self.path.write_text("")
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._pass_on()  # whatever arrived after the last poll

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._pass_on()

    def _pass_on(self) -> None:
        with open(self.path, encoding="utf-8") as handle:
            handle.seek(self._offset)
            text = handle.read()
        complete = text[: text.rfind("\n") + 1]  # a line still being written waits for the next poll
        self._offset += len(complete.encode("utf-8"))
        for line in complete.splitlines():
            self.report(line)


def execute_notebook(
    notebook: Path,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str | None,
    report: Callable[[str], None],
) -> None:
    """Execute ``notebook`` with ``parameters`` into ``output`` (papermill), reporting sections
    and the kernel's training progress to ``report``.

    The kernel runs in the notebook's folder, on local sockets. papermill's own errors propagate
    (``PapermillExecutionError`` for a cell that raised, ``DeadKernelError`` for a kernel that died).
    """
    import papermill

    with tempfile.TemporaryDirectory(prefix="radxai-progress-") as folder:
        progress = Path(folder) / "progress.log"
        with _ProgressRelay(progress, report), _environment({PROGRESS_VARIABLE: str(progress)}):
            papermill.execute_notebook(
                str(notebook),
                str(output),
                parameters=dict(parameters),
                kernel_name=kernel_name,
                cwd=str(Path(notebook).parent),
                progress_bar=False,
                log_output=False,
                engine_name=ENGINE_NAME,
                kernel_manager_class=LocalSocketKernelManager,
                section_reporter=lambda cells: SectionReporter(Path(notebook).stem, cells, report),
            )
