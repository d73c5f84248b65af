"""Training progress a person can follow from the terminal of `radxai reproduce`.

A notebook's kernel is a child process of ``radxai reproduce``: whatever a cell prints goes into
the executed notebook, not to the terminal. The kernel's own standard error (``sys.__stderr__``)
is the terminal's, so progress lines written there reach the person waiting for the run while
the notebook's outputs stay as they are. ``radxai reproduce`` sets ``RADXAI_PROGRESS=terminal``
for its kernels; anywhere else (JupyterLab, nbval, tests) the lines are not written.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

PROGRESS_VARIABLE = "RADXAI_PROGRESS"
TO_TERMINAL = "terminal"


def reports_to_terminal() -> bool:
    """Whether this process was asked to write progress lines to its own standard error."""
    return os.environ.get(PROGRESS_VARIABLE) == TO_TERMINAL


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"3 min 05 s"`` or ``"1 h 02 min"`` for a non-negative number of seconds."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class EpochProgress:
    """Writes one line per finished epoch: epoch n/N, losses, elapsed and remaining time.

    ``name``: what is trained (e.g. the architecture), ``total_epochs``: the most epochs the fit
    can run. The remaining time assumes the mean epoch so far for every epoch left, so with
    early stopping it is an upper bound ("at most"). ``stream`` None writes to the process's
    own standard error when `reports_to_terminal`, and nowhere otherwise.
    """

    def __init__(self, name: str, total_epochs: int, *, stream: TextIO | None = None) -> None:
        self.name = name
        self.total_epochs = int(total_epochs)
        self.stream = stream if stream is not None else (sys.__stderr__ if reports_to_terminal() else None)
        self.started = time.perf_counter()

    def line(self, epoch: int, elapsed: float, **losses: float) -> str:
        """The progress line after ``epoch`` (1-based) at ``elapsed`` seconds since the start."""
        remaining = elapsed / epoch * (self.total_epochs - epoch)
        parts = [f"{self.name}: epoch {epoch}/{self.total_epochs}"]
        parts += [f"{name.replace('_', ' ')} {value:.4f}" for name, value in losses.items()]
        parts.append(f"{format_duration(elapsed)} elapsed")
        if epoch < self.total_epochs:
            parts.append(f"at most {format_duration(remaining)} left")
        return "    " + " · ".join(parts)

    def epoch_done(self, epoch: int, **losses: float) -> None:
        """Report that ``epoch`` (1-based) finished with the given losses."""
        if self.stream is None:
            return
        self.stream.write(self.line(epoch, time.perf_counter() - self.started, **losses) + "\n")
        self.stream.flush()
