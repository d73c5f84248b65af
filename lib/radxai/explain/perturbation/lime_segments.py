"""LIME (Ribeiro et al. 2016) on superpixels and supervoxels, with the lime package.

LIME draws `samples` random on/off vectors over a sample's S segments (each segment on
with probability 1/2; the first vector is all on, the input itself), scores the composed
images (off segments from the baseline, `radxai.explain.baselines`), weights each vector by
the kernel sqrt(exp(-d^2 / kernel_width^2)) of its cosine distance d to the all-on vector,
and fits a weighted ridge regression (alpha 1, with intercept) per class: the coefficients
are the segments' values, the intercept is the base value. These are the defaults of lime's
``LimeImageExplainer`` (kernel width 0.25, cosine distance, ``Ridge(alpha=1)``); every
segment is kept (feature_selection "none").

- 2D images with 1 or 3 channels go through ``lime_image.LimeImageExplainer`` with our
  segmentation as its ``segmentation_fn`` and the baseline as its ``hide_color`` image. LIME
  works on RGB images: a grayscale image becomes RGB (lime's gray2rgb) and the classifier
  function maps the RGB batches back to the model's one channel. Its ``data_labels`` is
  overridden to compose the perturbed images with numpy in batches (lime's loop builds them
  one at a time and prints a progress bar) from the very same random on/off vectors.
- Volumes (and 2D images with another channel count) use ``lime_base.LimeBase`` with the same
  sampling, distance and kernel, implemented here.
Both draw from ``numpy.random.RandomState(seed)``, fresh for each sample, so the same seed
gives the same values (and a sample gives the same values alone or in a batch).

Cost, in model evaluations per sample: samples (the all-on vector included); `explain()`
adds one per sample to resolve the target.

lime (and scikit-learn with it) is imported on first use: it takes seconds, which users of
the other methods of `radxai.explain` should not pay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from radxai.explain.backends import Backend, detect_backend
from radxai.explain.explanation import Attribution
from radxai.explain.front_door import as_batch
from radxai.explain.perturbation.scoring import (
    ClassScorer,
    SegmentGame,
    check_seed,
    reject_layer,
)
from radxai.explain.perturbation.segment_attribution import (
    SegmentAttribution,
    SegmentOptions,
    attribute_segments,
    explain_segments,
)
from radxai.explain.registry import register_method
from radxai.explain.targets import TargetSpec

__all__ = ["lime_on_segments", "lime_values", "LIME_KERNEL_WIDTH"]

LIME_KERNEL_WIDTH = 0.25  # lime_image.LimeImageExplainer's default
_RGB_CHANNELS = (1, 3)


def lime_kernel(distances: np.ndarray, kernel_width: float) -> np.ndarray:
    """LIME's image kernel: sqrt(exp(-d^2 / width^2)) of distances d (any shape)."""
    return np.sqrt(np.exp(-(distances**2) / kernel_width**2))


@dataclass(frozen=True)
class LimeSolver:
    """LIME on one sample's segments. samples: on/off vectors (the all-on one included).
    kernel_width: of the cosine-distance kernel. seed: of numpy's RandomState."""

    samples: int = 1000
    kernel_width: float = LIME_KERNEL_WIDTH
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.samples, bool) or not isinstance(self.samples, (int, np.integer)) or self.samples < 2:
            raise ValueError(
                f"samples must be an int >= 2 (the input itself and at least one perturbed copy); got {self.samples!r}"
            )
        if not (isinstance(self.kernel_width, (int, float)) and self.kernel_width > 0):
            raise ValueError(f"kernel_width must be a positive number; got {self.kernel_width!r}")
        check_seed(self.seed)

    def check(self, counts: np.ndarray) -> None:
        """LIME's ridge regression takes any segment count; nothing to check."""

    def __call__(self, game: SegmentGame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values (K, S), intercepts (K,), f(x) (K,)) of one sample."""
        channels, *spatial = game.image.shape
        if len(spatial) == 2 and channels in _RGB_CHANNELS:
            return self._with_image_explainer(game)
        return self._with_lime_base(game)

    def _with_image_explainer(self, game: SegmentGame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        channels = game.image.shape[0]
        if channels == 1:
            image = game.image[0]  # lime turns a 2D image into RGB itself
            hidden = np.repeat(game.reference[0][..., None], 3, axis=-1)

            def to_model(rgb: np.ndarray) -> np.ndarray:
                return rgb[..., :1].transpose(0, 3, 1, 2)

        else:
            image = game.image.transpose(1, 2, 0)
            hidden = game.reference.transpose(1, 2, 0)

            def to_model(rgb: np.ndarray) -> np.ndarray:
                return rgb.transpose(0, 3, 1, 2)

        # The classes are known from the first model call only. lime reads `labels` after
        # scoring every image, so the first call fills in this list (and keeps f(x): the
        # first image is the input itself).
        classes: list[int] = []
        scores_at_input: list[np.ndarray] = []

        def classifier(rgb_images: np.ndarray) -> np.ndarray:
            values = game.score_images(to_model(rgb_images))
            if not classes:
                classes.extend(range(values.shape[1]))
                scores_at_input.append(values[0])
            return values

        from radxai.explain.perturbation.lime_image_batched import BatchedLimeImageExplainer

        explainer = BatchedLimeImageExplainer(
            kernel_width=self.kernel_width,
            feature_selection="none",
            random_state=np.random.RandomState(self.seed),
        )
        explanation = explainer.explain_instance(
            image,
            classifier,
            labels=classes,
            hide_color=hidden,
            top_labels=None,
            num_features=game.count,
            num_samples=self.samples,
            batch_size=game.batch_size,
            segmentation_fn=lambda _: game.segments,
            random_seed=self.seed,
        )
        values = np.zeros((len(classes), game.count))
        for class_index in classes:
            for segment, weight in explanation.local_exp[class_index]:
                values[class_index, segment] = weight
        intercepts = np.array([explanation.intercept[k] for k in classes], dtype=np.float64)
        return values, intercepts, scores_at_input[0]

    def _with_lime_base(self, game: SegmentGame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from lime import lime_base
        from sklearn.metrics import pairwise_distances

        random_state = np.random.RandomState(self.seed)
        # The draw of lime_image.LimeImageExplainer.data_labels.
        data = random_state.randint(0, 2, self.samples * game.count).reshape(self.samples, game.count)
        data[0, :] = 1
        labels = game.score(data.astype(bool))
        distances = pairwise_distances(data, data[:1], metric="cosine").ravel()
        explainer = lime_base.LimeBase(lambda d: lime_kernel(d, self.kernel_width), random_state=random_state)
        values = np.zeros((labels.shape[1], game.count))
        intercepts = np.zeros(labels.shape[1])
        for class_index in range(labels.shape[1]):
            intercept, weights, _, _ = explainer.explain_instance_with_data(
                data, labels, distances, class_index, game.count, feature_selection="none"
            )
            intercepts[class_index] = intercept
            for segment, weight in weights:
                values[class_index, segment] = weight
        return values, intercepts, labels[0]


@register_method("lime")
def lime_on_segments(
    backend: Backend,
    x: np.ndarray,
    target: TargetSpec,
    layer: str | None,
    *,
    segments: np.ndarray | None = None,
    n_segments: int = 50,
    compactness: float = 0.1,
    sigma: float = 1.0,
    baseline: str = "mean",
    constant: float = 0.0,
    blur_kernel: int = 11,
    samples: int = 1000,
    kernel_width: float = LIME_KERNEL_WIDTH,
    output: str = "logit",
    batch_size: int = 32,
    seed: int = 0,
) -> Attribution:
    """LIME values of the target class on segments, as an explanation (registered "lime").

    x: (N, C, *spatial). segments, n_segments, compactness, sigma, baseline, constant,
    blur_kernel, output, batch_size: as for `radxai.explain.perturbation.kernel_shap`.
    samples: random on/off vectors per sample (the input included). kernel_width: of
    LIME's cosine-distance kernel. seed: LIME's random draws.

    raw (N, *spatial): each voxel's segment coefficient for the target (signed); heatmaps:
    ReLU(raw) min-max scaled per sample; scores: the target logits. For every class's values
    use `lime_values`.
    """
    reject_layer("lime", layer)
    return explain_segments(
        backend,
        x,
        target,
        SegmentOptions(segments, n_segments, compactness, sigma, baseline, constant, blur_kernel),
        LimeSolver(samples, kernel_width, seed),
        method="lime",
        output=output,
        batch_size=batch_size,
    )


def lime_values(
    model: Any,
    x: np.ndarray | torch.Tensor,
    segments: np.ndarray | None = None,
    *,
    n_segments: int = 50,
    compactness: float = 0.1,
    sigma: float = 1.0,
    baseline: str = "mean",
    constant: float = 0.0,
    blur_kernel: int = 11,
    samples: int = 1000,
    kernel_width: float = LIME_KERNEL_WIDTH,
    output: str = "logit",
    batch_size: int = 32,
    seed: int = 0,
) -> SegmentAttribution:
    """LIME coefficients of every class and segment of a batch x (N, C, *spatial).

    model: a torch module or Keras model; options as for `lime_on_segments`. Returns a
    `SegmentAttribution`: values (N, K, S) the ridge coefficients, base_values the
    intercepts, scores f(x), and the model evaluations and seconds.
    """
    backend = detect_backend(model)
    return attribute_segments(
        ClassScorer(backend, output, None, batch_size),
        as_batch(x),
        SegmentOptions(segments, n_segments, compactness, sigma, baseline, constant, blur_kernel),
        LimeSolver(samples, kernel_width, seed),
        method="lime",
    )
