"""Kernel SHAP (Lundberg & Lee 2017) on superpixels and supervoxels, with the shap package.

The features are a sample's S segments, each on (the input's voxels) or off (the baseline's
voxels). shap's ``KernelExplainer`` explains the function coalition -> f(composed image)
around the all-on vector (the input) against one background, the all-off vector (the whole
image at the baseline), so the SHAP values of every class sum to f(x) - f(all segments off)
(efficiency). shap hands over its coalitions as one matrix; they are composed into images and
scored `batch_size` at a time (`radxai.explain.perturbation.scoring.SegmentGame`).
Regularisation is off (``l1_reg=False``), so every segment gets its value.

Samples. Kernel SHAP solves a weighted least-squares problem for S - 1 unknowns (the last
value follows from efficiency). shap adds each coalition together with its complement (for
every coalition size but the middle one), and the rows of a coalition and of its complement
in that problem are negatives of each other, so a pair adds one equation at most: fewer than
2 (S - 1) samples usually leave the values underdetermined (for even S the middle-size
coalitions come unpaired, so a lucky draw can do with fewer), and `samples` below
``minimum_kernel_shap_samples(S)`` = 2 (S - 1), a conservative floor, raises ValueError
before any model evaluation. shap never needs more than the 2^S - 2 coalitions besides the
empty and the full one (it enumerates them all when samples reaches that). samples=None is
shap's own default, 2 S + 2048. A regression that is still singular (an unlucky draw near the
minimum) raises ValueError: the design's rank is checked after shap's fit, whether or not
shap noticed.

Cost, in model evaluations per sample: min(samples, 2^S - 2) coalitions + 1 (the
background, f(all off)) + 1 (shap's f(x)); `explain()` adds one per sample to resolve the
target. Randomness: shap draws from numpy's global random state; it is seeded with `seed`
for each sample (the same image gives the same values alone or in a batch) and restored
afterwards, so the caller's random stream is untouched.

shap is imported on first use: with scikit-learn and numba it takes seconds, which users of
the other methods of `radxai.explain` should not pay.
"""

from __future__ import annotations

import warnings
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

__all__ = ["kernel_shap", "kernel_shap_values", "minimum_kernel_shap_samples"]

_SINGULAR_WARNING = "Linear regression equation is singular"


def minimum_kernel_shap_samples(segment_count: int) -> int:
    """The fewest `samples` Kernel SHAP accepts for `segment_count` segments: 2 (S - 1)
    (see the module docstring); 0 for one segment, whose value is f(x) - f(off) exactly."""
    return max(0, 2 * (int(segment_count) - 1))


@dataclass(frozen=True)
class KernelShapSolver:
    """Kernel SHAP on one sample's segments. samples: coalitions to evaluate (None: shap's
    default 2 S + 2048). seed: seeds numpy's global random state for shap's draws."""

    samples: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples is not None and (
            isinstance(self.samples, bool) or not isinstance(self.samples, (int, np.integer)) or self.samples < 1
        ):
            raise ValueError(f"samples must be a positive int or None; got {self.samples!r}")
        check_seed(self.seed)

    def check(self, counts: np.ndarray) -> None:
        """ValueError if samples is below `minimum_kernel_shap_samples` of the largest
        segment count."""
        largest = int(np.max(counts))
        needed = minimum_kernel_shap_samples(largest)
        if self.samples is not None and self.samples < needed:
            raise ValueError(
                f"Kernel SHAP needs samples >= 2 * (S - 1) = {needed} for S = {largest} "
                f"segments; got samples={self.samples} (raise samples, or use fewer "
                "segments)"
            )

    def __call__(self, game: SegmentGame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values (K, S), f(all off) (K,), f(x) (K,)) of one sample."""
        with warnings.catch_warnings():
            # shap 0.51 sets matplotlib colormap extremes the deprecated way at import: a
            # warning about shap's code, not the caller's.
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            import shap

        def coalition_values(coalitions: np.ndarray) -> np.ndarray:
            return game.score(coalitions > 0.5)

        state = np.random.get_state()
        try:
            np.random.seed(self.seed)
            with warnings.catch_warnings():
                # shap falls back to least squares on an exactly singular system and warns;
                # the rank check below refuses that design and the nearly singular ones alike.
                warnings.filterwarnings("ignore", message=_SINGULAR_WARNING)
                explainer = shap.KernelExplainer(coalition_values, np.zeros((1, game.count)))
                values = explainer.shap_values(
                    np.ones((1, game.count)),
                    nsamples="auto" if self.samples is None else int(self.samples),
                    l1_reg=False,
                    silent=True,
                )
        finally:
            np.random.set_state(state)
        _check_regression_rank(explainer, game.count, self.samples)
        # shap returns (1, S, K) for the one explained row.
        return (
            np.asarray(values, dtype=np.float64)[0].T,
            np.asarray(explainer.expected_value, dtype=np.float64).reshape(-1),
            np.asarray(explainer.fx, dtype=np.float64).reshape(-1),
        )


def _check_regression_rank(explainer: Any, count: int, samples: int | None) -> None:
    """ValueError unless shap's least-squares problem determined all S - 1 free values.

    shap warns only when ``np.linalg.solve`` fails; a normal matrix that is singular in exact
    arithmetic but not in floating point is solved silently into meaningless values (that
    still add up to f(x) - f(all off)), so the rank of the design is checked here. shap
    eliminates the last segment's value by efficiency: the design is each used coalition minus
    its last column.
    """
    if count < 2:
        return
    used = explainer.maskMatrix[explainer.kernelWeights > 0]
    design = used[:, :-1] - used[:, -1:]
    if np.linalg.matrix_rank(design) < count - 1:
        raise ValueError(
            f"Kernel SHAP's regression is singular with samples={samples} for {count} "
            "segments: the sampled coalitions do not determine every value; raise samples"
        )


@register_method("kernel_shap")
def kernel_shap(
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
    samples: int | None = None,
    output: str = "logit",
    batch_size: int = 32,
    seed: int = 0,
) -> Attribution:
    """Kernel SHAP values of the target class on segments, as an explanation.

    x: (N, C, *spatial). segments: int labels (*spatial) or (N, *spatial), or None for SLIC
    with n_segments, compactness, sigma (`radxai.explain.segments.slic_segments`).
    baseline ("zero", "constant", "mean", "blur"), constant, blur_kernel: what an "off"
    segment becomes (`radxai.explain.baselines`). samples: coalitions per sample (None:
    2 S + 2048; at least 2 (S - 1)). output: "logit", "probability" or "sigmoid"
    (`radxai.explain.perturbation.scoring`). batch_size: images per model call. seed: shap's
    random draws.

    raw (N, *spatial): each voxel's segment SHAP value for the target (signed; they sum to
    f(x) - f(all off) over the segments); heatmaps: ReLU(raw) min-max scaled per sample. scores:
    the target logits. For every class's values use `kernel_shap_values`.
    """
    reject_layer("kernel_shap", layer)
    return explain_segments(
        backend,
        x,
        target,
        SegmentOptions(segments, n_segments, compactness, sigma, baseline, constant, blur_kernel),
        KernelShapSolver(samples, seed),
        method="kernel_shap",
        output=output,
        batch_size=batch_size,
    )


def kernel_shap_values(
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
    samples: int | None = None,
    output: str = "logit",
    batch_size: int = 32,
    seed: int = 0,
) -> SegmentAttribution:
    """Kernel SHAP values of every class and segment of a batch x (N, C, *spatial).

    model: a torch module or Keras model. The options are those of `kernel_shap`. Returns a
    `SegmentAttribution` with values (N, K, S) where values[n, k].sum() = scores[n, k] -
    base_values[n, k] (f(x) - f(all segments off)), and the model evaluations and seconds.
    """
    backend = detect_backend(model)
    return attribute_segments(
        ClassScorer(backend, output, None, batch_size),
        as_batch(x),
        SegmentOptions(segments, n_segments, compactness, sigma, baseline, constant, blur_kernel),
        KernelShapSolver(samples, seed),
        method="kernel_shap",
    )
