"""What the CT and X-ray phantoms share: seeded random streams, smooth random fields, small geometry helpers."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

# In-plane CT and X-ray geometry is written in "units" of half the 350 mm field of view, so that
# -1..+1 spans the image; CT positions along D are fractions of the 300 mm length.
_HALF_FIELD_MM = 175.0


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _streams(seed: int, purposes: Sequence[str]) -> dict[str, np.random.SeedSequence]:
    """One independent seed sequence per purpose; appending purposes never changes earlier ones."""
    children = np.random.SeedSequence(seed).spawn(len(purposes))
    return dict(zip(purposes, children))


def _names(given: Sequence[str] | str | None, valid: Sequence[str], what: str) -> tuple[str, ...]:
    """Validated names in the canonical order of ``valid``; a bare string counts as one name."""
    if given is None:
        return ()
    names = (given,) if isinstance(given, str) else tuple(given)
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise ValueError(f"unknown {what} {unknown!r}; valid names are {list(valid)}")
    return tuple(name for name in valid if name in names)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    """0 for t <= 0, 1 for t >= 1, a C1 ramp between; keeps edges soft without blurring."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _cubic_bspline(t: np.ndarray) -> np.ndarray:
    t = np.abs(t)
    return np.where(t < 1.0, 2.0 / 3.0 - t**2 + t**3 / 2.0, np.where(t < 2.0, (2.0 - t) ** 3 / 6.0, 0.0))


@functools.lru_cache(maxsize=64)
def _upsampling_matrix(n_out: int, n_cells: int) -> np.ndarray:
    """(n_out, n_cells + 3) cubic B-spline weights from a padded coarse grid to n_out samples.

    Rows are scaled to unit norm so that white noise on the coarse grid becomes a field with unit
    variance at every sample (plain B-spline smoothing would ripple in variance with the grid).
    """
    position = 1.0 + (np.arange(n_out) + 0.5) * n_cells / n_out
    weights = _cubic_bspline(position[:, None] - np.arange(n_cells + 3)[None, :])
    # Tails below 1e-6 would become float32 denormals, which slow matrix products many times over.
    weights[weights < 1e-6] = 0.0
    weights /= np.sqrt((weights**2).sum(axis=1, keepdims=True))
    weights = weights.astype(np.float32)
    weights.flags.writeable = False  # shared through the cache
    return weights


def _smooth_field(rng: np.random.Generator, shape: Sequence[int], cells: Sequence[int]) -> np.ndarray:
    """float32 random field of ``shape``, zero mean and unit variance, correlated over one cell.

    Noise drawn on a coarse grid of ``cells`` per axis is upsampled separably with cubic B-spline
    weights (small matrix products), which is far cheaper than filtering a full-size noise array.
    """
    cells = [max(2, int(count)) for count in cells]
    field = rng.standard_normal([count + 3 for count in cells], dtype=np.float32)
    # Last axis first, each step one contiguous matrix product, so no strided copies are needed.
    for axis in reversed(range(field.ndim)):
        matrix = _upsampling_matrix(int(shape[axis]), cells[axis])
        before = math.prod(field.shape[:axis])
        after = math.prod(field.shape[axis + 1 :])
        if after == 1:
            product = field.reshape(before, -1) @ matrix.T
        else:
            product = matrix @ field.reshape(before, field.shape[axis], after)
        field = product.reshape(field.shape[:axis] + (matrix.shape[0],) + field.shape[axis + 1 :])
    return field


def _jitter(rng: np.random.Generator, value: float, relative: float = 0.1) -> float:
    return float(value * (1.0 + rng.uniform(-relative, relative)))


def _shift(rng: np.random.Generator, value: float, amount: float) -> float:
    return float(value + rng.uniform(-amount, amount))


def _bounding_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """(x_min, y_min, x_max, y_max) pixel edges of a non-empty 2D mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    return (float(columns[0]), float(rows[0]), float(columns[-1] + 1), float(rows[-1] + 1))
