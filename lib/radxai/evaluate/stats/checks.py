"""Input checks of the statistics: every public function validates at its edge and names the problem."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _preview(values: NDArray) -> list:
    """Up to five distinct offending values, for error messages."""
    return np.unique(values)[:5].tolist()


def _check_binary(values: NDArray, name: str) -> NDArray[np.int64]:
    """Return ``values`` as int64 after checking every entry is 0 or 1."""
    is_binary = np.isin(values, [0, 1])
    if not is_binary.all():
        raise ValueError(f"{name} must be 0 or 1; found {_preview(values[~is_binary])}")
    return values.astype(np.int64)


def _check_no_nan(values: NDArray[np.float64], name: str) -> None:
    nan_positions = np.flatnonzero(np.isnan(values.ravel()))
    if nan_positions.size:
        raise ValueError(
            f"{name} contain NaN at {nan_positions.size} position(s) (first at flat index {nan_positions[0]})"
        )


def _as_float_scores(scores: ArrayLike, name: str = "scores") -> NDArray[np.float64]:
    try:
        score_array = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numbers: {error}") from error
    _check_no_nan(score_array, name)
    return score_array


def _binary_labels_and_scores(labels: ArrayLike, scores: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Validate a binary problem: labels (N,) in {0, 1} and scores (N,) without NaN, N >= 1."""
    label_array = np.asarray(labels)
    score_array = _as_float_scores(scores)
    if label_array.ndim != 1 or score_array.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D (N,); got shapes {label_array.shape} and {score_array.shape}")
    if label_array.shape != score_array.shape:
        raise ValueError(f"labels and scores differ in length: {label_array.size} labels, {score_array.size} scores")
    if label_array.size == 0:
        raise ValueError("labels and scores are empty")
    return _check_binary(label_array, "labels"), score_array


def _multilabel_labels_and_values(
    labels: ArrayLike, values: ArrayLike, class_names: Sequence[str], values_name: str
) -> tuple[NDArray[np.int64], NDArray]:
    """Validate a multi-label problem: labels (N, K) in {0, 1}, values (N, K), K class names."""
    label_array = np.asarray(labels)
    value_array = np.asarray(values)
    if label_array.ndim != 2 or value_array.ndim != 2:
        raise ValueError(
            f"labels and {values_name} must be 2-D (N, K); got shapes {label_array.shape} and {value_array.shape}"
        )
    if label_array.shape != value_array.shape:
        raise ValueError(f"labels and {values_name} differ in shape: {label_array.shape} vs {value_array.shape}")
    if len(class_names) != label_array.shape[1]:
        raise ValueError(
            f"class_names has {len(class_names)} names but labels have {label_array.shape[1]} classes (columns)"
        )
    return _check_binary(label_array, "labels"), value_array


def check_confidence(confidence: float) -> None:
    """ValueError unless ``confidence`` lies strictly between 0 and 1."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1; got {confidence}")


def check_resamples(resamples: int) -> None:
    """ValueError unless ``resamples`` is a whole number >= 1 (``True`` is refused, not read as 1)."""
    if isinstance(resamples, bool) or int(resamples) != resamples or resamples < 1:
        raise ValueError(f"resamples must be a positive whole number; got {resamples}")
