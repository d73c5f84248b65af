"""Importing Keras (TensorFlow backend) quietly and reproducibly.

TensorFlow reads two settings only when it is first imported, so every radxai entry point
that needs Keras imports it through ``import_keras``:

- ``TF_ENABLE_ONEDNN_OPTS=0``: oneDNN's custom kernels change results with the order of
  floating-point reductions across threads; without them the same seed gives the same weights.
- ``TF_CPP_MIN_LOG_LEVEL=3``: TensorFlow's C++ start-up messages carry timestamps and would
  make every executed notebook differ from its committed outputs.

Values already set in the environment are respected.
"""

from __future__ import annotations

import os
from types import ModuleType

TENSORFLOW_SETTINGS = {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "3"}


def import_keras() -> ModuleType:
    """Apply ``TENSORFLOW_SETTINGS`` (unless set) and return the ``keras`` module."""
    for name, value in TENSORFLOW_SETTINGS.items():
        os.environ.setdefault(name, value)
    import keras

    return keras
