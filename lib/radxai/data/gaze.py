"""Reader eye-gaze: simulated fixations on the X-ray phantoms, and gaze heatmaps from fixations.

The eye-gaze chest X-ray set (Karargyris et al. 2021) records where a radiologist looked while
reading each image; the heatmap-generator work trains a U-Net's decoder (and its generator
heatmaps) against "static" gaze heatmaps made from those fixations. Here:

- Fixations are a float array (K, 3) with columns ``x_pixel``, ``y_pixel``,
  ``duration_seconds``, in the pixel grid of the image they were recorded on (x = column,
  y = row, continuous: pixel (row r, column c) spans [c, c + 1) x [r, r + 1), so its centre is
  (c + 1/2, r + 1/2), the convention of the phantoms' boxes). A real-data loader gives the
  same form; `rescale_fixations` moves fixations to a resized image.
- `simulate_fixations` plays a reader on a phantom: a zig-zag scanning path over the chest
  (short fixations, jittered) and, when the path passes a finding, a dwell of several longer
  fixations on the finding's true extent. Seeded; one random stream per purpose (the scan, and
  each finding by name), so adding a finding does not move the scan.
- `gaze_heatmap` sums one isotropic Gaussian per fixation, weighted by its duration, and scales
  the sum to a peak of 1, as the dataset's static heatmaps accumulate dwell time.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence

import numpy as np

from radxai.data import io
from radxai.data.datasets import CXRImage, child_seed

__all__ = [
    "FIXATION_COLUMNS",
    "simulate_fixations",
    "gaze_heatmap",
    "rescale_fixations",
    "simulated_gaze_heatmaps",
]

FIXATION_COLUMNS: tuple[str, str, str] = ("x_pixel", "y_pixel", "duration_seconds")

# The chest on a phantom radiograph, as fractions of (height, width): the scan stays inside it.
_CHEST_ROWS = (0.15, 0.85)
_CHEST_COLUMNS = (0.12, 0.88)
_SCAN_BANDS = 4
_SCAN_JITTER = 0.03  # standard deviation of a scan fixation's offset, as a fraction of the image side
# Fixation durations follow gamma distributions: scanning about 0.24 s, dwelling about 0.5 s,
# the usual orders of magnitude of search and of inspection fixations in radiology reading.
_SCAN_DURATION = (3.0, 0.08)
_DWELL_DURATION = (4.0, 0.12)


def _image_shape(shape: Sequence[int]) -> tuple[int, int]:
    values = tuple(shape)
    if len(values) != 2 or any(
        isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1 for size in values
    ):
        raise ValueError(f"shape must be (H, W) with positive integer sizes, got {shape!r}")
    return int(values[0]), int(values[1])


def _count(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {value!r}")
    return int(value)


def _scan_path(shape: tuple[int, int], count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, 2) scan positions (x, y): bands of the chest read left-right, then right-left."""
    height, width = shape
    per_band = math.ceil(count / _SCAN_BANDS) if count else 0
    band_rows = np.linspace(*_CHEST_ROWS, _SCAN_BANDS) * height
    columns = np.linspace(*_CHEST_COLUMNS, max(per_band, 1)) * width
    points = []
    for band, row in enumerate(band_rows):
        ordered = columns if band % 2 == 0 else columns[::-1]
        points.extend((column, row) for column in ordered)
    path = np.asarray(points[:count], dtype=np.float64).reshape(count, 2)
    path += rng.normal(0.0, _SCAN_JITTER, size=path.shape) * np.array([width, height])
    return np.clip(path, 0.0, np.nextafter(np.array([width, height], dtype=np.float64), 0.0))


def simulate_fixations(
    shape: Sequence[int],
    finding_masks: Mapping[str, np.ndarray],
    seed: int,
    scan_fixations: int = 24,
    dwell_fixations: int = 5,
) -> np.ndarray:
    """A simulated reader's fixations on one radiograph: float64 (K, 3), x_pixel, y_pixel, seconds.

    shape: (H, W) of the image. finding_masks: name -> bool (H, W) true extent of each present
    finding (`radxai.data.phantoms.CXRPhantom.finding_masks`, or the masks a synthetic
    dataset writes); none for a normal image. The reader scans the chest in ``scan_fixations``
    fixations (about 0.24 s each) and, at the scan point nearest each finding's centre, dwells
    on it with ``dwell_fixations`` fixations (about 0.5 s each) drawn uniformly from its mask.
    K = scan_fixations + dwell_fixations * (number of non-empty masks). The same arguments
    give the same array.
    Raises ValueError for a bad shape, seed or count, or a mask whose shape is not (H, W).
    """
    height, width = _image_shape(shape)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    scan_fixations = _count(scan_fixations, "scan_fixations")
    dwell_fixations = _count(dwell_fixations, "dwell_fixations")
    scan_rng = np.random.default_rng([int(seed), 0])
    path = _scan_path((height, width), scan_fixations, scan_rng)
    scan = np.column_stack([path, scan_rng.gamma(*_SCAN_DURATION, size=scan_fixations)])
    dwells_after: dict[int, list[np.ndarray]] = {}
    for name in sorted(finding_masks):
        mask = np.asarray(finding_masks[name], dtype=bool)
        if mask.shape != (height, width):
            raise ValueError(f"finding mask {name!r} has shape {mask.shape}; the image is {(height, width)}")
        rows, columns = np.nonzero(mask)
        if len(rows) == 0 or dwell_fixations == 0:
            continue
        rng = np.random.default_rng([int(seed), 1, zlib.crc32(name.encode())])
        chosen = rng.integers(len(rows), size=dwell_fixations)
        offsets = rng.random((dwell_fixations, 2))
        dwell = np.column_stack(
            [
                columns[chosen] + offsets[:, 0],
                rows[chosen] + offsets[:, 1],
                rng.gamma(*_DWELL_DURATION, size=dwell_fixations),
            ]
        )
        centre = np.array([columns.mean() + 0.5, rows.mean() + 0.5])
        # The reader notices a finding when the scan passes closest to it (-1: before any scan).
        nearest = int(np.argmin(((path - centre) ** 2).sum(axis=1))) if scan_fixations else -1
        dwells_after.setdefault(nearest, []).append(dwell)
    pieces = list(dwells_after.get(-1, []))
    for index in range(scan_fixations):
        pieces.append(scan[index : index + 1])
        pieces.extend(dwells_after.get(index, []))
    return np.concatenate(pieces, axis=0) if pieces else np.zeros((0, 3))


def _checked_fixations(fixations: np.ndarray) -> np.ndarray:
    values = np.asarray(fixations, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != 3:
        raise ValueError(
            f"fixations must be an array (K, 3) with columns {', '.join(FIXATION_COLUMNS)}; got shape {values.shape}"
        )
    if not np.isfinite(values).all():
        raise ValueError("fixations hold NaN or infinite values")
    if (values[:, 2] < 0).any():
        raise ValueError(f"fixation durations must be >= 0 seconds; got minimum {values[:, 2].min()}")
    return values


def gaze_heatmap(fixations: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Static gaze heatmap float32 (H, W) in [0, 1] from fixations (K, 3).

    Each fixation (x_pixel, y_pixel, duration_seconds) adds duration * exp(-d^2 / (2 sigma^2))
    at every pixel centre at distance d (in pixels) from it; the sum is divided by its maximum,
    so the most-looked-at pixel is 1. sigma: the Gaussian's standard deviation in pixels of
    ``shape``. Fixations outside the image still add their tails. No fixations (K = 0) or zero
    total duration give an all-zero map.
    Raises ValueError for fixations that are not (K, 3) finite values with durations >= 0, a
    bad shape, or sigma not > 0.
    """
    values = _checked_fixations(fixations)
    height, width = _image_shape(shape)
    if (
        isinstance(sigma, bool)
        or not isinstance(sigma, (int, float, np.integer, np.floating))
        or not (math.isfinite(sigma) and sigma > 0)
    ):
        raise ValueError(f"sigma must be a positive number of pixels, got {sigma!r}")
    x, y, duration = values[:, 0], values[:, 1], values[:, 2]
    # The Gaussian is separable: (K, H) rows times (K, W) columns, summed over fixations.
    along_columns = np.exp(-(((np.arange(width) + 0.5)[None, :] - x[:, None]) ** 2) / (2.0 * sigma**2))
    along_rows = np.exp(-(((np.arange(height) + 0.5)[None, :] - y[:, None]) ** 2) / (2.0 * sigma**2))
    heat = (along_rows * duration[:, None]).T @ along_columns
    peak = heat.max() if heat.size else 0.0
    if peak > 0:
        heat = heat / peak
    return heat.astype(np.float32)


def rescale_fixations(fixations: np.ndarray, from_shape: Sequence[int], to_shape: Sequence[int]) -> np.ndarray:
    """Fixations (K, 3) recorded on an image of ``from_shape`` (H, W), in the pixels of the
    same image resized to ``to_shape``: x scales by W_to / W_from and y by H_to / H_from (image
    edges stay edges, as `radxai.data.preprocess.resize` resamples); durations are kept."""
    values = _checked_fixations(fixations).copy()
    from_height, from_width = _image_shape(from_shape)
    to_height, to_width = _image_shape(to_shape)
    values[:, 0] *= to_width / from_width
    values[:, 1] *= to_height / from_height
    return values


def simulated_gaze_heatmaps(
    images: Sequence[CXRImage],
    shape: Sequence[int],
    sigma: float,
    seed: int = 0,
    scan_fixations: int = 24,
    dwell_fixations: int = 5,
) -> np.ndarray:
    """Simulated gaze heatmaps float32 (N, H, W) for the images of a synthetic X-ray dataset.

    images: the records of a synthetic VinDr-CXR copy (`radxai.data.real.load_dataset`); their
    true finding masks (written by `write_synthetic_cxr`) are where the simulated reader dwells,
    an image without masks is only scanned. Image i's reader is seeded with ``child_seed(seed, i)``. The fixations are
    made on the stored image and moved to ``shape`` (the model input, as `CXRImageDataset`
    resizes), where the heatmap is drawn with ``sigma`` pixels.
    """
    target = _image_shape(shape)
    heatmaps = np.zeros((len(images), *target), dtype=np.float32)
    for index, image in enumerate(images):
        stored = image.load().shape
        masks = {name: io.read_image(path) > 0.5 for name, path in sorted(image.mask_paths.items())}
        fixations = simulate_fixations(stored, masks, child_seed(seed, index), scan_fixations, dwell_fixations)
        heatmaps[index] = gaze_heatmap(rescale_fixations(fixations, stored, target), target, sigma)
    return heatmaps
