"""Training progress a person can follow from the terminal of `radxai reproduce`.

A notebook's kernel is a child process of ``radxai reproduce``, and whatever it writes (to
``sys.stdout``, ``sys.stderr`` or the file descriptors beneath them) ipykernel puts into the
executed notebook. So progress goes another way: ``radxai reproduce`` names a file in the
variable ``RADXAI_PROGRESS_FILE``, the training loops in the kernel append their epoch lines to
it, and the runner prints what arrives there (`radxai.execution`). Anywhere else (JupyterLab,
nbval, tests) the variable is unset and no line is written.
"""

from __future__ import annotations

import os
import time
from typing import TextIO

PROGRESS_VARIABLE = "RADXAI_PROGRESS_FILE"


def progress_file() -> str | None:
    """The file this process was asked to append progress lines to, or None."""
    return os.environ.get(PROGRESS_VARIABLE) or None


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
    early stopping it is an upper bound ("at most"). ``stream`` None appends to `progress_file`
    when one is set, and writes nowhere otherwise.
    """

    def __init__(self, name: str, total_epochs: int, *, stream: TextIO | None = None) -> None:
        self.name = name
        self.total_epochs = int(total_epochs)
        self.stream = stream
        self.path = None if stream is not None else progress_file()
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
        text = self.line(epoch, time.perf_counter() - self.started, **losses) + "\n"
        if self.stream is not None:
            self.stream.write(text)
            self.stream.flush()
        elif self.path is not None:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(text)
