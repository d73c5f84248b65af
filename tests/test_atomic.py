"""Atomic writes: an interrupted write never leaves a damaged file under the final name."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from radxai.data import atomic


def test_a_write_replaces_the_file_and_keeps_its_mode(tmp_path):
    target = tmp_path / "table.csv"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    atomic.write_bytes_atomically(b"new", target)
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["table.csv"]


def test_a_new_file_is_readable_by_all_and_text_creates_its_folder(tmp_path):
    target = tmp_path / "sub" / "notes.txt"
    atomic.write_text_atomically(target, "é\n")
    assert target.read_text(encoding="utf-8") == "é\n" and (target.stat().st_mode & 0o777) == 0o644


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing/file\.bin: the folder .*missing does not exist"):
        atomic.write_bytes_atomically(b"x", tmp_path / "missing" / "file.bin")


def test_a_failure_mid_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / "volume.nii.gz"
    target.write_bytes(b"good")

    def failing_fsync(descriptor):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_bytes_atomically(b"half of a new file", target)
    assert target.read_bytes() == b"good"
    assert [path.name for path in tmp_path.iterdir()] == ["volume.nii.gz"]


def test_a_process_killed_mid_write_leaves_the_old_file_under_the_final_name(tmp_path):
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"good")
    ready = tmp_path / "ready"
    # The child writes 64 MiB, then stops before the rename until it is killed (SIGKILL: no
    # cleanup runs), as a power cut at the worst moment would.
    child = textwrap.dedent(f"""
        import os, pathlib, time
        from radxai.data import atomic
        def stall(source, destination):
            pathlib.Path({str(ready)!r}).touch()
            time.sleep(60)
        atomic.os.replace = stall
        atomic.write_bytes_atomically(os.urandom(64 << 20), {str(target)!r})
    """)
    process = subprocess.Popen([sys.executable, "-c", child])
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert ready.exists(), "the child never reached the rename"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert target.read_bytes() == b"good"
    leftovers = [path.name for path in tmp_path.iterdir() if path.name not in ("checkpoint.pt", "ready")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".checkpoint.pt.")  # hidden: readers skip it
