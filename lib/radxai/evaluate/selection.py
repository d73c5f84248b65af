"""Which (image, finding) pairs an experiment explains: the findings a model detects.

The chest X-ray work explains a class only where the finding is present and the model gives it
a probability of at least 0.7 (a true positive at that threshold); "No finding" is never
explained, as it has no region to localise. These helpers make that choice once, on
probabilities, so that no notebook compares logits with a probability threshold or a class name
with the wrong constant.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from radxai.data.phantoms import NO_FINDING

__all__ = [
    "DETECTION_PROBABILITY",
    "NO_FINDING_CLASS",
    "detected_findings",
    "most_probable_detected_finding",
]

DETECTION_PROBABILITY = 0.7
NO_FINDING_CLASS: str = NO_FINDING[0]


def _check_probabilities(
    probabilities: ArrayLike, labels: ArrayLike, class_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(labels, dtype=np.float64)
    if scores.ndim != 2 or scores.shape != truth.shape:
        raise ValueError(f"probabilities and labels must both be (N, K); got {scores.shape} and {truth.shape}")
    if scores.shape[1] != len(class_names):
        raise ValueError(f"{scores.shape[1]} outputs but {len(class_names)} class names")
    if np.isnan(scores).any():
        raise ValueError("probabilities hold NaN")
    if scores.size and (scores.min() < 0.0 or scores.max() > 1.0):
        raise ValueError(
            f"probabilities must lie in [0, 1]; got values from {scores.min():.3g} to "
            f"{scores.max():.3g} (logits? use radxai.train.predict_probabilities)"
        )
    return scores, truth


def detected_findings(
    probabilities: ArrayLike,
    labels: ArrayLike,
    class_names: Sequence[str],
    *,
    probability_threshold: float = DETECTION_PROBABILITY,
    excluded_classes: Sequence[str] = (NO_FINDING_CLASS,),
) -> np.ndarray:
    """Boolean (N, K): finding k is present in image n and the model detects it.

    Args:
        probabilities: (N, K) model probabilities in [0, 1] (not logits: values outside [0, 1]
            are refused).
        labels: (N, K) ground truth, 1 (present) or 0.
        class_names: the K class names in output order.
        probability_threshold: a finding counts as detected at probability >= this value
            (the X-ray work's 0.7 by default).
        excluded_classes: class names never selected; each must be one of ``class_names``
            (a misspelt or wrongly typed name would otherwise exclude nothing).

    Raises:
        ValueError: shapes disagree, probabilities outside [0, 1] or NaN, a threshold outside
            (0, 1], or an excluded class that is not a class name.
    """
    scores, truth = _check_probabilities(probabilities, labels, class_names)
    if not 0.0 < probability_threshold <= 1.0:
        raise ValueError(f"probability_threshold must lie in (0, 1]; got {probability_threshold!r}")
    names = list(class_names)
    unknown = [name for name in excluded_classes if name not in names]
    if unknown:
        raise ValueError(f"excluded classes {unknown!r} are not among the class names {names}")
    selected = (truth > 0.5) & (scores >= probability_threshold)
    for name in excluded_classes:
        selected[:, names.index(name)] = False
    return selected


def most_probable_detected_finding(
    probabilities: ArrayLike,
    labels: ArrayLike,
    class_names: Sequence[str],
    *,
    probability_threshold: float = DETECTION_PROBABILITY,
    excluded_classes: Sequence[str] = (NO_FINDING_CLASS,),
) -> tuple[np.ndarray, np.ndarray]:
    """For each image with at least one detected finding, its most probable detected finding.

    Same arguments as :func:`detected_findings`. Returns ``(images, classes)``: int arrays (M,)
    of the selected image indices (increasing) and the class explained for each.
    """
    selected = detected_findings(
        probabilities,
        labels,
        class_names,
        probability_threshold=probability_threshold,
        excluded_classes=excluded_classes,
    )
    scores = np.where(selected, np.asarray(probabilities, dtype=np.float64), -np.inf)
    images = np.flatnonzero(selected.any(axis=1))
    return images, scores[images].argmax(axis=1)
