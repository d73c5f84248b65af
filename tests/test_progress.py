"""Tests of radxai.progress: epoch lines with elapsed and remaining time, only where asked for."""

from __future__ import annotations

import io

from radxai import progress


def test_durations_read_as_seconds_minutes_or_hours() -> None:
    assert progress.format_duration(42.4) == "42 s"
    assert progress.format_duration(185) == "3 min 05 s"
    assert progress.format_duration(3720) == "1 h 02 min"
    assert progress.format_duration(-1) == "0 s"


def test_an_epoch_line_gives_losses_elapsed_and_an_upper_bound_of_the_time_left() -> None:
    reporter = progress.EpochProgress("cnn3d", 10, stream=io.StringIO())
    line = reporter.line(4, 120.0, train_loss=0.5, validation_loss=0.25)
    assert line == (
        "    cnn3d: epoch 4/10 · train loss 0.5000 · validation loss 0.2500 · 2 min 00 s elapsed"
        " · at most 3 min 00 s left"
    )
    assert "left" not in reporter.line(10, 300.0, train_loss=0.1)


def test_epochs_are_written_to_the_given_stream() -> None:
    stream = io.StringIO()
    progress.EpochProgress("unet_classifier", 2, stream=stream).epoch_done(1, train_loss=0.3)
    assert stream.getvalue().startswith("    unet_classifier: epoch 1/2 · train loss 0.3000 · ")


def test_lines_go_to_the_progress_file_only_when_the_run_names_one(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(progress.PROGRESS_VARIABLE, raising=False)
    reporter = progress.EpochProgress("cnn3d", 3)
    assert reporter.path is None
    reporter.epoch_done(1, train_loss=0.5)  # nowhere to write: nothing happens
    path = tmp_path / "progress.log"
    monkeypatch.setenv(progress.PROGRESS_VARIABLE, str(path))
    reporter = progress.EpochProgress("cnn3d", 3)
    reporter.epoch_done(1, train_loss=0.5)
    reporter.epoch_done(2, train_loss=0.25)
    lines = path.read_text().splitlines()
    assert [line.split(" · ")[0] for line in lines] == ["    cnn3d: epoch 1/3", "    cnn3d: epoch 2/3"]
