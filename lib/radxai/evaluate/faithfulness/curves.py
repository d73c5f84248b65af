"""Deletion and insertion curves: remove (or restore) the top-ranked voxels step by step and
follow the target's probability."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from radxai.evaluate.faithfulness.common import (
    Baseline,
    _as_baseline,
    _check_class_target,
    _check_count,
    _check_heatmaps,
    _check_link,
    _evaluate_in_batches,
    _Scorer,
)
from radxai.explain.backends import detect_backend
from radxai.explain.front_door import as_batch
from radxai.explain.targets import resolve_targets

KINDS = ("deletion", "insertion")


@dataclass(frozen=True, eq=False)
class PerturbationCurve:
    """A deletion or insertion curve for each of N samples.

    kind: "deletion" or "insertion".
    fractions: (K + 1,) the fraction of each sample's voxels removed (deletion) or inserted
        (insertion) at each step, from 0 to 1.
    scores: (N, K + 1) the probability of each sample's target class at each step.
    auc: (N,) the trapezoid area under each sample's curve over the fraction, in [0, 1].
    target: the class scored for each sample.
    baseline: the baseline's label (`Baseline.label`).
    model_evaluations: samples passed through the model, the unperturbed inputs included
        (N (K + 1) for N samples and K steps).
    seconds: wall-clock time of the whole call.

    `input_scores` and `baseline_scores` are the curve's two ends, the same for every map of
    the same samples and baseline; `baseline_scored_as_target` flags the samples whose curve
    measures the baseline rather than the map.
    """

    kind: str
    fractions: np.ndarray
    scores: np.ndarray
    auc: np.ndarray
    target: list[int]
    baseline: str
    model_evaluations: int
    seconds: float

    @property
    def input_scores(self) -> np.ndarray:
        """(N,) the probability of each sample's target class on the unperturbed input: the
        deletion curve's first point, the insertion curve's last."""
        return self.scores[:, 0] if self.kind == "deletion" else self.scores[:, -1]

    @property
    def baseline_scores(self) -> np.ndarray:
        """(N,) the probability of each sample's target class on its baseline, the fully
        perturbed input: the deletion curve's last point, the insertion curve's first."""
        return self.scores[:, -1] if self.kind == "deletion" else self.scores[:, 0]

    def baseline_scored_as_target(self, *, positive_probability: float = 0.5) -> np.ndarray:
        """(N,) bool: the model scores the sample's baseline as its target class, probability
        >= positive_probability (in (0, 1]). Such a sample's curve cannot fall below (deletion)
        or start below (insertion) that level whatever the map: leave it out of conclusions."""
        if not 0 < positive_probability <= 1:
            raise ValueError(f"positive_probability must be in (0, 1]; got {positive_probability}")
        return self.baseline_scores >= positive_probability

    def to_frame(self) -> pd.DataFrame:
        """The curves as a tidy table: one row per sample and step, columns kind, baseline,
        sample, target, step, fraction, score."""
        samples, points = self.scores.shape
        return pd.DataFrame(
            {
                "kind": self.kind,
                "baseline": self.baseline,
                "sample": np.repeat(np.arange(samples), points),
                "target": np.repeat(np.asarray(self.target, dtype=np.int64), points),
                "step": np.tile(np.arange(points), samples),
                "fraction": np.tile(self.fractions, samples),
                "score": self.scores.reshape(-1),
            }
        )


def perturbation_curve(
    model: Any,
    x: np.ndarray,
    heatmaps: np.ndarray,
    kind: str,
    target: int | Sequence[int] | np.ndarray | None = None,
    *,
    steps: int = 50,
    baseline: str | Baseline = "zero",
    batch_size: int = 16,
    seed: int = 0,
    link: str = "sigmoid",
) -> PerturbationCurve:
    """The deletion or insertion curve of each sample of x for its map (see the module docstring).

    model: a torch.nn.Module or Keras model returning logits (N,) or (N, K).
    x: (N, C, *spatial) finite inputs, spatial (H, W) or (D, H, W).
    heatmaps: (N, *spatial) importance per voxel (or (*spatial) for N = 1), finite.
    kind: "deletion" or "insertion".
    target: an int class, one int per sample, or None for each sample's predicted class.
    steps: K, the number of equal steps, 1 <= K <= the voxels per sample.
    baseline: a baseline name or a `Baseline` (e.g. Baseline("blur", blur_kernel=21)); the
        region or reference of a `Baseline` has one entry per sample of x, in order.
    batch_size: perturbed inputs per model call (memory ~ batch_size inputs); the result does
        not depend on it.
    seed: the seed of the tie-breaking order.
    link: "sigmoid" or "softmax", how logits become probabilities.

    Raises ValueError for an unknown kind, link or baseline, maps whose shape does not match x,
    a baseline region or reference that does not fit x (before any model evaluation), a step
    count outside [1, V], a batch size below 1, a target out of range, or a model that returns
    non-finite logits; TypeError for a callable target.
    """
    started = time.perf_counter()
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    inputs = as_batch(x)
    importance = _check_heatmaps(heatmaps, inputs)
    replacement = _as_baseline(baseline)
    _check_link(link)
    _check_count("batch_size", batch_size)
    n, _, *spatial = inputs.shape
    voxels = math.prod(spatial)
    _check_count("steps", steps)
    if steps > voxels:
        raise ValueError(
            f"steps = {steps} is more than the {voxels} voxels of each sample (spatial shape "
            f"{tuple(spatial)}); every step must remove at least one voxel"
        )
    _check_class_target(target, n)
    # The baseline of the whole batch, sample for sample (its region or reference included),
    # before any model evaluation; the chunks below only pick from it.
    flat_inputs = inputs.reshape(n, inputs.shape[1], voxels)
    flat_baseline = replacement.of(inputs).reshape(flat_inputs.shape)
    scorer = _Scorer(detect_backend(model), link)
    original_logits = scorer.logits(inputs, "the unperturbed inputs")
    target_classes = resolve_targets(target, original_logits, n).classes
    original = scorer.probabilities(original_logits)[np.arange(n), target_classes]

    order = voxel_order(importance, seed)
    counts = (np.arange(steps + 1) * voxels) // steps
    # Deletion goes from the input towards the baseline, insertion the other way; the
    # unperturbed input's score (already known) is the first point or the last.
    if kind == "deletion":
        start, source, known_step = flat_inputs, flat_baseline, 0
        evaluated_steps = range(1, steps + 1)
    else:
        start, source, known_step = flat_baseline, flat_inputs, steps
        evaluated_steps = range(steps)

    def perturbed() -> Iterator[tuple[tuple[int, int], np.ndarray]]:
        """((sample, step), input (C, V)) for every evaluated step, each built from the
        previous one of its sample by changing only the newly covered voxels."""
        for sample in range(n):
            current = start[sample].copy()
            covered = 0
            for step in evaluated_steps:
                newly = order[sample, covered : counts[step]]
                current[:, newly] = source[sample][:, newly]
                covered = counts[step]
                yield (sample, step), current

    scores = np.empty((n, steps + 1), dtype=np.float64)
    scores[:, known_step] = original
    description = f"{kind} inputs ({replacement.label} baseline)"
    for keys, probabilities in _evaluate_in_batches(perturbed(), scorer, inputs.shape[1:], batch_size, description):
        for row, (sample, step) in enumerate(keys):
            scores[sample, step] = probabilities[row, target_classes[sample]]

    fractions = counts / voxels
    return PerturbationCurve(
        kind=kind,
        fractions=fractions,
        scores=scores,
        auc=np.trapezoid(scores, fractions, axis=1),
        target=[int(value) for value in target_classes],
        baseline=replacement.label,
        model_evaluations=scorer.backend.evaluations,
        seconds=time.perf_counter() - started,
    )


def baseline_check(
    curves: Mapping[str, Mapping[str, PerturbationCurve]], *, positive_probability: float = 0.5
) -> pd.DataFrame:
    """Does the model score the baseline as the target class? One row per kind and method.

    curves: kind -> method -> `PerturbationCurve` (the mapping `plot_perturbation_curves` of
    `radxai.viz.faithfulness` draws). positive_probability: the probability in (0, 1] at or
    above which a baseline counts as scored as the target class.

    Returns a table indexed by (kind, method), the index of a `summarise_means` AUC table of
    the same curves, with columns baseline (label), samples, input_score and baseline_score
    (means over samples of `PerturbationCurve.input_scores` and `baseline_scores`),
    baseline_scored_as_target (how many samples' baselines the model scores at or above
    positive_probability) and flagged (that count > 0). Exclude flagged rows from conclusions,
    e.g. ``auc.drop(check.index[check["flagged"]])``, or the flagged samples of one curve with
    `PerturbationCurve.baseline_scored_as_target`.

    Raises ValueError for no curves or a positive_probability outside (0, 1].
    """
    rows = [
        {
            "kind": kind,
            "method": method,
            "baseline": curve.baseline,
            "samples": len(curve.scores),
            "input_score": curve.input_scores.mean(),
            "baseline_score": curve.baseline_scores.mean(),
            "baseline_scored_as_target": int(
                curve.baseline_scored_as_target(positive_probability=positive_probability).sum()
            ),
        }
        for kind, by_method in curves.items()
        for method, curve in by_method.items()
    ]
    if not rows:
        raise ValueError("baseline_check needs at least one curve")
    table = pd.DataFrame(rows).set_index(["kind", "method"])
    table["flagged"] = table["baseline_scored_as_target"] > 0
    return table


def deletion_curve(
    model: Any,
    x: np.ndarray,
    heatmaps: np.ndarray,
    target: int | Sequence[int] | np.ndarray | None = None,
    *,
    steps: int = 50,
    baseline: str | Baseline = "zero",
    batch_size: int = 16,
    seed: int = 0,
    link: str = "sigmoid",
) -> PerturbationCurve:
    """`perturbation_curve` with kind "deletion": the most important voxels are replaced by
    the baseline first; a low AUC means a faithful map."""
    return perturbation_curve(
        model,
        x,
        heatmaps,
        "deletion",
        target,
        steps=steps,
        baseline=baseline,
        batch_size=batch_size,
        seed=seed,
        link=link,
    )


def insertion_curve(
    model: Any,
    x: np.ndarray,
    heatmaps: np.ndarray,
    target: int | Sequence[int] | np.ndarray | None = None,
    *,
    steps: int = 50,
    baseline: str | Baseline = "zero",
    batch_size: int = 16,
    seed: int = 0,
    link: str = "sigmoid",
) -> PerturbationCurve:
    """`perturbation_curve` with kind "insertion": starting from the baseline, the most
    important voxels of the input are put back first; a high AUC means a faithful map."""
    return perturbation_curve(
        model,
        x,
        heatmaps,
        "insertion",
        target,
        steps=steps,
        baseline=baseline,
        batch_size=batch_size,
        seed=seed,
        link=link,
    )


def random_heatmaps(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Maps (N, *spatial) of independent uniform [0, 1) values for a batch x (N, C, *spatial):
    the random-order reference of deletion and insertion. Same seed, same maps."""
    shape = np.shape(x)
    if len(shape) not in (4, 5):
        raise ValueError(f"x must be a batch (N, C, H, W) or (N, C, D, H, W); got shape {tuple(shape)}")
    generator = np.random.default_rng(seed)
    return generator.random((shape[0], *shape[2:])).astype(np.float32)


def voxel_order(heatmaps: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, V) flat voxel indices of each map (N, *spatial), most important first.

    Ties are broken by one seeded permutation of the V positions, shared by all samples (see
    the module docstring), so equal values come out in a random but repeatable order.
    """
    values = np.asarray(heatmaps, dtype=np.float64)
    flat = values.reshape(values.shape[0], -1)
    permutation = np.random.default_rng(seed).permutation(flat.shape[1])
    # A stable sort of the permuted values keeps tied voxels in permutation order.
    ranks = np.argsort(-flat[:, permutation], axis=1, kind="stable")
    return permutation[ranks]
