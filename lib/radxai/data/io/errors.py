"""The error every image read raises, and the path type the readers take."""

from __future__ import annotations

import os

__all__ = ["ImageReadError", "PathLike"]

PathLike = str | os.PathLike[str]


class ImageReadError(ValueError):
    """An image file is missing, damaged, of the wrong kind or has unusable content.

    The message names the file (or folder) and the problem.
    """
