"""Tests of radxai.models.keras_backend."""

from __future__ import annotations

import subprocess
import sys


def test_import_keras_is_silent_and_sets_deterministic_tensorflow() -> None:
    script = (
        "import os\nos.environ.pop('TF_ENABLE_ONEDNN_OPTS', None)\nos.environ.pop('TF_CPP_MIN_LOG_LEVEL', None)\n"
        "from radxai.models.keras_backend import import_keras\nkeras = import_keras()\n"
        "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], keras.backend.backend())"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0 tensorflow"
    assert result.stderr == ""


def test_settings_already_in_the_environment_are_kept() -> None:
    script = (
        "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '1'\n"
        "from radxai.models.keras_backend import import_keras\nimport_keras()\n"
        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "1"
