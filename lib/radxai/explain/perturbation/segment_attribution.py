"""Attributions to segments: what Kernel SHAP and LIME share.

Both methods play the same game per sample: the players are the sample's S segments
(superpixels or supervoxels, `radxai.explain.segments`); a coalition is an on/off vector; the
value of a coalition is the explained output of every class (`radxai.explain.perturbation.
scoring`) of the image whose "off" segments come from a baseline (`radxai.explain.baselines`).
A solver (Kernel SHAP's regression, LIME's weighted ridge) turns sampled coalitions into one
value per class and segment. This module prepares the games, runs a solver on each sample,
and builds both results:

- `SegmentAttribution` (from `kernel_shap_values`, `lime_values`): every class's value of
  every segment, with the bookkeeping (model evaluations, seconds).
- `Attribution` for `explain()`: the target class's values painted on the segments.
  raw (N, *spatial) = each voxel's segment value (signed); heatmaps = ReLU(raw) min-max scaled
  per sample, as for CAMs: the regions that raise the target's output, strongest = 1; a map
  without a positive segment is all zeros (negative evidence is in raw, and in every class's
  values of `SegmentAttribution`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from radxai.explain.backends import Backend
from radxai.explain.baselines import baseline
from radxai.explain.explanation import Attribution
from radxai.explain.perturbation.scoring import ClassScorer, SegmentGame, target_function_of
from radxai.explain.segments import (
    check_segments,
    paint_segments,
    segment_counts,
    slic_segments,
)
from radxai.explain.targets import TargetSpec
from radxai.explain.upsample import minmax

__all__ = [
    "SegmentAttribution",
    "SegmentOptions",
    "SegmentSolver",
    "attribute_segments",
    "explain_segments",
]


@dataclass(frozen=True, eq=False)
class SegmentAttribution:
    """Every class's value of every segment, for a batch of N samples.

    values: (N, K, S) float64, K classes (2 for a single-logit model: classes 0 and 1; 1 for
        a callable target), S the largest segment count; values[n, :, S_n:] are NaN for a
        sample with fewer segments. Units: those of the explained output (`output`).
    base_values: (N, K) the value without any segment: for Kernel SHAP f(all segments off),
        so values[n, k].sum() = scores[n, k] - base_values[n, k]; for LIME the local linear
        model's intercept.
    scores: (N, K) f(x), the explained output of every class for the unperturbed input.
    segments: (N, *spatial) int64, the labels 0..S_n - 1 the values refer to.
    segment_counts: (N,) S_n.
    method: "kernel_shap" or "lime". output: the explained output ("logit",
        "probability", "sigmoid").
    model_evaluations: samples passed through the model. seconds: wall-clock time.
    """

    values: np.ndarray
    base_values: np.ndarray
    scores: np.ndarray
    segments: np.ndarray
    segment_counts: np.ndarray
    method: str
    output: str
    model_evaluations: int
    seconds: float

    def class_attributions(self, class_index: int) -> np.ndarray:
        """Class `class_index`'s signed values painted on the segments: (N, *spatial) float32,
        each voxel the value of its segment (green/red maps of positive/negative evidence)."""
        classes = self.values.shape[1]
        if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)):
            raise TypeError(f"class_index must be an int; got {class_index!r}")
        if not 0 <= class_index < classes:
            raise ValueError(f"class_index {class_index} is out of range: 0..{classes - 1}")
        return paint_segments(self.values[:, class_index], self.segments)


class SegmentSolver(Protocol):
    """A method's per-sample solver (Kernel SHAP, LIME)."""

    def check(self, counts: np.ndarray) -> None:
        """Raise ValueError if the method's options cannot explain samples with `counts` (N,)
        segments; runs before any model evaluation."""

    def __call__(self, game: SegmentGame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values (K, S), base values (K,), scores f(x) (K,)) of one sample's game."""


@dataclass(frozen=True)
class SegmentOptions:
    """Where the segments come from and what an "off" segment becomes.

    segments: int labels of the spatial shape (one segmentation for all samples) or
        (N, *spatial), see `radxai.explain.segments.check_segments`; None computes SLIC
        segments of each sample with n_segments, compactness and sigma
        (`radxai.explain.segments.slic_segments`).
    baseline, constant, blur_kernel: the baseline (`radxai.explain.baselines.baseline`:
        "zero", "constant", "mean", "blur").
    """

    segments: np.ndarray | None = None
    n_segments: int = 50
    compactness: float = 0.1
    sigma: float = 1.0
    baseline: str = "mean"
    constant: float = 0.0
    blur_kernel: int = 11

    def segments_for(self, x: np.ndarray) -> np.ndarray:
        """The segments (N, *spatial) of the batch x (N, C, *spatial)."""
        if self.segments is None:
            return slic_segments(x, n_segments=self.n_segments, compactness=self.compactness, sigma=self.sigma)
        return check_segments(self.segments, x.shape)

    def reference_for(self, x: np.ndarray) -> np.ndarray:
        """The baseline (N, C, *spatial) of the batch x."""
        return baseline(x, self.baseline, constant=self.constant, blur_kernel=self.blur_kernel)


def attribute_segments(
    scorer: ClassScorer,
    x: np.ndarray,
    options: SegmentOptions,
    solver: SegmentSolver,
    method: str,
) -> SegmentAttribution:
    """Run `solver` on every sample of x (N, C, *spatial): every class, every segment.

    Segments, the solver's check and the baseline come before any model evaluation, so bad
    options fail fast. model_evaluations counts the scorer's backend during this call.
    """
    started = time.perf_counter()
    evaluations_before = scorer.backend.evaluations
    segments, counts, reference = _prepare(x, options, solver)
    return _solve_all(scorer, x, segments, counts, reference, solver, method, started, evaluations_before)


def explain_segments(
    backend: Backend,
    x: np.ndarray,
    target: TargetSpec,
    options: SegmentOptions,
    solver: SegmentSolver,
    *,
    method: str,
    output: str,
    batch_size: int,
) -> Attribution:
    """The `explain()` result of a segment method: the target class's values as heatmaps.

    See the module docstring for heatmaps and raw; scores are the target logits (or callable
    values) at x, resolved with one model evaluation per sample.
    """
    scorer = ClassScorer(backend, output, target_function_of(target), batch_size)
    started = time.perf_counter()
    evaluations_before = backend.evaluations
    segments, counts, reference = _prepare(x, options, solver)
    resolved = scorer.resolve(x, target)
    attribution = _solve_all(scorer, x, segments, counts, reference, solver, method, started, evaluations_before)
    # Each sample's target class among the K, as (N, 1, S) for take_along_axis.
    chosen = np.take_along_axis(attribution.values, resolved.classes[:, None, None], axis=1)
    raw = paint_segments(chosen[:, 0], segments)
    heatmaps = minmax(np.maximum(raw, 0.0))
    return Attribution(heatmaps, raw, resolved.targets, None, resolved.scores)


def _prepare(
    x: np.ndarray, options: SegmentOptions, solver: SegmentSolver
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    segments = options.segments_for(x)
    counts = segment_counts(segments)
    solver.check(counts)
    return segments, counts, options.reference_for(x)


def _solve_all(
    scorer: ClassScorer,
    x: np.ndarray,
    segments: np.ndarray,
    counts: np.ndarray,
    reference: np.ndarray,
    solver: SegmentSolver,
    method: str,
    started: float,
    evaluations_before: int,
) -> SegmentAttribution:
    widest = int(counts.max())
    values, base_values, scores = [], [], []
    for sample in range(len(x)):
        game = SegmentGame(
            scorer,
            x[sample],
            reference[sample],
            segments[sample],
            int(counts[sample]),
            scorer.batch_size,
        )
        sample_values, sample_base, sample_scores = solver(game)
        padded = np.full((sample_values.shape[0], widest), np.nan)
        padded[:, : game.count] = sample_values
        values.append(padded)
        base_values.append(sample_base)
        scores.append(sample_scores)
    return SegmentAttribution(
        values=np.stack(values),
        base_values=np.stack(base_values).astype(np.float64),
        scores=np.stack(scores).astype(np.float64),
        segments=segments,
        segment_counts=counts,
        method=method,
        output=scorer.output,
        model_evaluations=scorer.backend.evaluations - evaluations_before,
        seconds=time.perf_counter() - started,
    )
