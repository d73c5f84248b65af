"""lime's image explainer with its perturbed images composed in batches (LIME for 2D images).

Imported on first use by `radxai.explain.perturbation.lime_segments`, since importing lime
takes seconds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from lime import lime_image

__all__ = ["BatchedLimeImageExplainer"]


class BatchedLimeImageExplainer(lime_image.LimeImageExplainer):
    """lime's image explainer with its perturbed images composed in batches.

    lime 0.2.0.1's ``data_labels`` copies the image and loops over the off segments once per
    sample (slow for hundreds of samples of a 224 x 224 image) under a progress bar (noise in
    notebooks). This override draws the same on/off vectors from the same random state and
    gives the classifier the same images, `batch_size` at a time.
    """

    def data_labels(
        self,
        image: np.ndarray,
        fudged_image: np.ndarray,
        segments: np.ndarray,
        classifier_fn: Callable[[np.ndarray], np.ndarray],
        num_samples: int,
        batch_size: int = 10,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(on/off vectors (num_samples, S), classifier outputs (num_samples, K)) for an RGB
        image (H, W, 3), its "off" image and segments (H, W)."""
        segment_count = np.unique(segments).shape[0]
        data = self.random_state.randint(0, 2, num_samples * segment_count).reshape((num_samples, segment_count))
        data[0, :] = 1
        labels = []
        for start in range(0, num_samples, batch_size):
            on = data[start : start + batch_size].astype(bool)[:, segments]
            labels.append(classifier_fn(np.where(on[..., None], image, fudged_image)))
        return data, np.concatenate(labels)
