"""Faithfulness of explanations: deletion and insertion curves, and the probability-drop analysis.

Both take a batch x (N, C, *spatial), spatial (H, W) or (D, H, W), channel first, and one map
per sample, maps (N, *spatial) (a single map (*spatial) is accepted for N = 1): one importance
value per voxel, shared by all C channels of that voxel, so removing a voxel replaces all its
channels. Higher map values mean more important. Models are PyTorch modules or Keras models,
run through `radxai.explain.backends` (batched, every sample counted as one model evaluation).

Order. Voxels are ranked by decreasing map value; ties (e.g. the zeros of a CAM after ReLU, or
a constant map) are broken by one seeded random permutation of the voxel positions, the same
for every sample, so a sample's order depends only on its map and the seed (not on the rest
of the batch), and a constant map gives a random order.

Deletion / insertion (docs/architecture.md). In K equal steps, step k covers the first floor(k V / K) voxels
of the order (V voxels per sample), so every step adds at least one voxel when K <= V.
Deletion replaces those voxels by the baseline; insertion starts from the baseline and puts
those voxels of the input back. The score at each step is the model's probability of the
target class; the curve has K + 1 points, at the covered fractions 0 = 0/V, ..., V/V = 1, and
its AUC is the trapezoid rule over the fraction. A faithful map gives a low deletion AUC (the
probability falls as soon as the important voxels go) and a high insertion AUC. As a
reference, `random_maps` gives maps whose order is random (seeded).

Probability-drop analysis (the chest X-ray work, section 5.2 and Figure 32): the top fraction
p in {0.02, 0.05, 0.1, 0.2, 0.5} of a map's voxels is replaced by the mean or a Gaussian blur
(kernel 11 or 21) of the input, and p_orig - p_new is reported for every class of the model.

Probabilities (`LINKS`). "sigmoid" (default; the models here are sigmoid models, multi-label or
single-logit): the probability of class k of a model with K >= 2 outputs is sigmoid(logit_k);
a single-logit model has classes 1, p = sigmoid(logit), and 0, 1 - p (= sigmoid(-logit), the
negated-logit convention of `radxai.explain.targets`). "softmax": softmax over the K >= 2
outputs, for a multi-class model. Targets are an int class, one int per sample, or None for
the class each sample is predicted as (on the unperturbed input); callable targets are not
accepted, as a probability needs the class.

Baselines are `radxai.explain.baselines` (zero, constant, mean, blur with OpenCV's kernel rule,
healthy_fill of a region mask, a given reference), given by name or as a `Baseline` with its
settings. The baseline's region mask or reference holds one entry per sample of the batch x
the curve is computed for, in the same order; the baseline of the whole batch is built once,
before the perturbed inputs go through the model in batches.

Checking the baseline. A removal curve is only as good as its baseline: if the model scores
the fully-perturbed input as the target class (e.g. a blurred CT volume scored as COVID-19),
deletion cannot fall and insertion starts high, whatever the map. Every curve keeps the
baseline's own score (`PerturbationCurve.baseline_scores`, the deletion curve's last point and
the insertion curve's first) beside the input's; `baseline_check` tables them per kind and
method and flags the curves whose baseline the model scores as the target class, so they can
be left out of conclusions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, softmax

from radxai.explain.backends import Backend, detect_backend
from radxai.explain.baselines import BASELINES, baseline, check_settings
from radxai.explain.front_door import as_batch
from radxai.explain.targets import check_target, logits_of, resolve_targets

__all__ = [
    "KINDS",
    "LINKS",
    "PROBABILITY_DROP_FRACTIONS",
    "PROBABILITY_DROP_BASELINES",
    "Baseline",
    "PerturbationCurve",
    "perturbation_curve",
    "baseline_check",
    "deletion_curve",
    "insertion_curve",
    "random_maps",
    "voxel_order",
    "probability_drops",
    "mean_probability_drops",
]

KINDS = ("deletion", "insertion")
LINKS = ("sigmoid", "softmax")
PROBABILITY_DROP_FRACTIONS = (0.02, 0.05, 0.1, 0.2, 0.5)


@dataclass(frozen=True, eq=False)
class Baseline:
    """What removed voxels are replaced with: a name of `radxai.explain.baselines.BASELINES`
    and its settings: `constant` (input units) for "constant", the odd `blur_kernel` size
    (voxels, OpenCV's sigma rule) for "blur"; for "healthy_fill" the `region` mask
    (N, *spatial) or (*spatial), the `healthy_ceiling` (input units, e.g. the windowed value of
    -700 HU) and the noise `seed`; for "reference" the `reference` array (N, C, *spatial).

    The arrays are stored as read-only copies, and a Baseline is compared and hashed by
    identity, as it may hold arrays. Their values and shapes are checked against the batch in
    `of` (`radxai.explain.baselines.healthy_fill`, `reference_baseline`).

    Raises ValueError for an unknown name (listing the names), a non-finite constant or
    ceiling, an invalid kernel size, a missing setting of "healthy_fill" or "reference", or a
    region, ceiling or reference given to another baseline (`check_settings`).
    """

    name: str
    constant: float = 0.0
    blur_kernel: int = 11
    region: np.ndarray | None = None
    healthy_ceiling: float | None = None
    seed: int = 0
    reference: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_settings(
            self.name, constant=self.constant, blur_kernel=self.blur_kernel, region=self.region,
            healthy_ceiling=self.healthy_ceiling, reference=self.reference,
        )
        for setting in ("region", "reference"):
            value = getattr(self, setting)
            if value is not None:
                stored = np.array(value)
                stored.flags.writeable = False
                object.__setattr__(self, setting, stored)

    @property
    def label(self) -> str:
        """The name used in tables: "zero", "mean", "blur 11", "constant -1000",
        "healthy fill <= 0.214", "reference"."""
        if self.name == "blur":
            return f"blur {self.blur_kernel}"
        if self.name == "constant":
            return f"constant {self.constant:g}"
        if self.name == "healthy_fill":
            return f"healthy fill <= {self.healthy_ceiling:.3g}"
        return self.name

    def of(self, x: np.ndarray) -> np.ndarray:
        """The baseline of a batch x (N, C, *spatial): float32, same shape. The region and
        reference belong to exactly these N samples, in order; ValueError if their shapes do
        not fit x."""
        return baseline(
            x, self.name, constant=self.constant, blur_kernel=self.blur_kernel,
            region=self.region, healthy_ceiling=self.healthy_ceiling, reference=self.reference,
            seed=self.seed,
        )


PROBABILITY_DROP_BASELINES = (
    Baseline("mean"),
    Baseline("blur", blur_kernel=11),
    Baseline("blur", blur_kernel=21),
)


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
    maps: np.ndarray,
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
    maps: (N, *spatial) importance per voxel (or (*spatial) for N = 1), finite.
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
    importance = _check_maps(maps, inputs)
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
    for keys, probabilities in _evaluate_in_batches(
        perturbed(), scorer, inputs.shape[1:], batch_size, description
    ):
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
    maps: np.ndarray,
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
        model, x, maps, "deletion", target, steps=steps, baseline=baseline,
        batch_size=batch_size, seed=seed, link=link,
    )


def insertion_curve(
    model: Any,
    x: np.ndarray,
    maps: np.ndarray,
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
        model, x, maps, "insertion", target, steps=steps, baseline=baseline,
        batch_size=batch_size, seed=seed, link=link,
    )


def random_maps(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Maps (N, *spatial) of independent uniform [0, 1) values for a batch x (N, C, *spatial):
    the random-order reference of deletion and insertion. Same seed, same maps."""
    shape = np.shape(x)
    if len(shape) not in (4, 5):
        raise ValueError(
            f"x must be a batch (N, C, H, W) or (N, C, D, H, W); got shape {tuple(shape)}"
        )
    generator = np.random.default_rng(seed)
    return generator.random((shape[0], *shape[2:])).astype(np.float32)


def voxel_order(maps: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, V) flat voxel indices of each map (N, *spatial), most important first.

    Ties are broken by one seeded permutation of the V positions, shared by all samples (see
    the module docstring), so equal values come out in a random but repeatable order.
    """
    values = np.asarray(maps, dtype=np.float64)
    flat = values.reshape(values.shape[0], -1)
    permutation = np.random.default_rng(seed).permutation(flat.shape[1])
    # A stable sort of the permuted values keeps tied voxels in permutation order.
    ranks = np.argsort(-flat[:, permutation], axis=1, kind="stable")
    return permutation[ranks]


def probability_drops(
    model: Any,
    x: np.ndarray,
    maps: np.ndarray,
    source_classes: int | Sequence[int] | np.ndarray,
    *,
    fractions: Sequence[float] = PROBABILITY_DROP_FRACTIONS,
    baselines: Sequence[str | Baseline] = PROBABILITY_DROP_BASELINES,
    class_names: Sequence[str] | None = None,
    batch_size: int = 16,
    seed: int = 0,
    link: str = "sigmoid",
) -> pd.DataFrame:
    """Probability drops of every class when the top voxels of each map are replaced.

    For each sample, baseline and fraction p, the round(p V) most important voxels of the
    sample's map (the order of `voxel_order`) are replaced by that baseline, and the model's
    probability of every class is compared with that on the unperturbed input.

    x: (N, C, *spatial) finite inputs. maps: (N, *spatial) (or (*spatial) for N = 1), the
    heatmap each sample is perturbed by. source_classes: the class each map explains (an int
    for all, or one per sample); it labels the rows and is checked against the model's
    classes. fractions: each in (0, 1], covering at least one voxel. baselines: names or
    `Baseline`s; the default is the X-ray work's mean, blur 11 and blur 21. class_names: one
    name per class, adding the columns source_name and class_name. batch_size, seed, link: as
    for `perturbation_curve`.

    Returns a tidy table with one row per sample, baseline, fraction and class (in that
    order), columns sample, source_class, baseline (its label), fraction, class, p_orig,
    p_new and drop = p_orig - p_new (positive when the class lost probability). The classes
    follow the link (module docstring): every output of a multi-label model, 0 and 1 of a
    single-logit model. ``table.attrs`` holds model_evaluations (N (1 + baselines x
    fractions)) and seconds. Average over samples with `mean_probability_drops`.

    The X-ray work perturbs an image only for the classes the model predicts for it (one map
    per predicted class): select those (image, map, class) triples before calling. Its mean
    replacement is the image's mean; "mean" here is each channel's own mean, the same for a
    grey image copied into three channels.

    Raises ValueError for maps whose shape does not match x, a fraction outside (0, 1] or
    covering no voxel, an unknown baseline or link, a baseline region or reference that does
    not fit x, a source class or class-name count that
    does not fit the model, or a model that returns non-finite logits.
    """
    started = time.perf_counter()
    inputs = as_batch(x)
    importance = _check_maps(maps, inputs)
    replacements = [_as_baseline(spec) for spec in baselines]
    _check_link(link)
    _check_count("batch_size", batch_size)
    n, _, *spatial = inputs.shape
    voxels = math.prod(spatial)
    counts = [_top_count(fraction, voxels) for fraction in fractions]
    if not replacements or not counts:
        raise ValueError("probability_drops needs at least one baseline and one fraction")
    sources = _per_sample_classes(source_classes, n)
    flat_inputs = inputs.reshape(n, inputs.shape[1], voxels)
    replaced = [spec.of(inputs).reshape(flat_inputs.shape) for spec in replacements]

    scorer = _Scorer(detect_backend(model), link)
    original = scorer.probabilities(scorer.logits(inputs, "the unperturbed inputs"))
    class_count = original.shape[1]
    for value in sources:
        if not 0 <= value < class_count:
            raise ValueError(
                f"source class {value} is out of range for a model with {class_count} classes "
                f"(valid: 0..{class_count - 1})"
            )
    if class_names is not None and len(class_names) != class_count:
        raise ValueError(
            f"class_names has {len(class_names)} names but the model has {class_count} classes"
        )

    order = voxel_order(importance, seed)
    jobs = [
        (sample, which, position)
        for sample in range(n)
        for which in range(len(replacements))
        for position in range(len(counts))
    ]

    def perturbed() -> Iterator[tuple[int, np.ndarray]]:
        """(job index, input (C, V) with the job's top voxels replaced)."""
        for index, (sample, which, position) in enumerate(jobs):
            values = flat_inputs[sample].copy()
            top = order[sample, : counts[position]]
            values[:, top] = replaced[which][sample][:, top]
            yield index, values

    new = np.empty((len(jobs), class_count), dtype=np.float64)
    for keys, probabilities in _evaluate_in_batches(
        perturbed(), scorer, inputs.shape[1:], batch_size, "inputs with their top voxels replaced"
    ):
        new[keys] = probabilities

    job_samples = np.array([sample for sample, _, _ in jobs])
    rows = pd.DataFrame(
        {
            "sample": np.repeat(job_samples, class_count),
            "source_class": np.repeat(np.asarray(sources)[job_samples], class_count),
            "baseline": np.repeat(
                [replacements[which].label for _, which, _ in jobs], class_count
            ),
            "fraction": np.repeat(
                [float(fractions[position]) for _, _, position in jobs], class_count
            ),
            "class": np.tile(np.arange(class_count), len(jobs)),
            "p_orig": original[job_samples].reshape(-1),
            "p_new": new.reshape(-1),
        }
    )
    rows["drop"] = rows["p_orig"] - rows["p_new"]
    if class_names is not None:
        names = np.asarray(class_names, dtype=object)
        rows.insert(2, "source_name", names[rows["source_class"].to_numpy()])
        rows.insert(6, "class_name", names[rows["class"].to_numpy()])
    rows.attrs["model_evaluations"] = scorer.backend.evaluations
    rows.attrs["seconds"] = time.perf_counter() - started
    return rows


def mean_probability_drops(table: pd.DataFrame) -> pd.DataFrame:
    """The mean drop over samples of a `probability_drops` table: one row per source class,
    baseline, fraction and class (names kept if present), columns drop (mean), drop_std
    (sample standard deviation, NaN for one sample) and samples; the data of the X-ray work's
    Figure 32 (one panel group per source class, one panel per baseline, one line per class)."""
    required = {"source_class", "baseline", "fraction", "class", "drop", "sample"}
    missing = sorted(required - set(table.columns))
    if missing:
        raise ValueError(f"not a probability_drops table: columns {missing} are missing")
    keys = [
        column
        for column in ("source_class", "source_name", "baseline", "fraction", "class", "class_name")
        if column in table.columns
    ]
    grouped = table.groupby(keys, sort=False)["drop"]
    summary = grouped.agg(drop="mean", drop_std="std", samples="count").reset_index()
    return summary


# ---------------------------------------------------------------------- helpers


class _Scorer:
    """Every class's logits and probabilities of batches, through a Backend.

    The Backend's `scores` returns one target score per sample; a callable target sees the
    model's whole output, so it records every logit from the same forward pass (and hands
    the Backend column 0 as the score it expects). The model runs once per sample and the
    Backend counts it.
    """

    def __init__(self, backend: Backend, link: str) -> None:
        self.backend = backend
        self.link = link

    def logits(self, batch: np.ndarray, description: str) -> np.ndarray:
        """(B, K) float64 logits of a batch (B, C, *spatial); ValueError if any is not finite."""
        recorded: list[Any] = []

        def every_logit(output: Any) -> Any:
            logits = logits_of(output)
            if getattr(logits, "ndim", None) not in (1, 2):
                raise ValueError(
                    f"model logits have shape {tuple(getattr(logits, 'shape', ()))}; "
                    "expected (N,) or (N, K)"
                )
            recorded.append(logits)
            return logits[:, 0] if logits.ndim == 2 else logits

        self.backend.scores(batch, every_logit)
        logits = _as_numpy(recorded[-1]).reshape(len(batch), -1)
        bad = int(np.count_nonzero(~np.isfinite(logits)))
        if bad:
            raise ValueError(
                f"the model returned {bad} non-finite (NaN or infinite) logits of {logits.size} "
                f"for a batch of {len(batch)} {description}"
            )
        return logits

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """(B, classes) probabilities of (B, K) logits, per the link (module docstring)."""
        if self.link == "softmax":
            if logits.shape[1] < 2:
                raise ValueError(
                    "the softmax link needs a model with at least two outputs; this one has "
                    "one logit (use link='sigmoid')"
                )
            return softmax(logits, axis=1)
        positive = expit(logits)
        if logits.shape[1] == 1:
            return np.concatenate([1.0 - positive, positive], axis=1)
        return positive


def _as_numpy(tensor: Any) -> np.ndarray:
    """A torch or TensorFlow tensor (or array) as float64 numpy."""
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu()
    return np.asarray(tensor, dtype=np.float64)


def _check_maps(maps: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """maps as (N, *spatial) float64 for inputs (N, C, *spatial), or ValueError."""
    values = np.asarray(maps, dtype=np.float64)
    n, channels, *spatial = inputs.shape
    if values.shape == tuple(spatial) and n == 1:
        values = values[None]
    if values.shape != (n, *spatial):
        raise ValueError(
            f"maps have shape {values.shape}, but input {inputs.shape} needs maps "
            f"{(n, *spatial)}: one value per voxel, shared by its {channels} channel(s)"
        )
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise ValueError(f"maps have {bad} NaN or infinite values; the order needs finite maps")
    return values


def _as_baseline(spec: str | Baseline) -> Baseline:
    if isinstance(spec, Baseline):
        return spec
    if isinstance(spec, str):
        return Baseline(spec)
    raise TypeError(f"a baseline is a name ({', '.join(BASELINES)}) or a Baseline; got {spec!r}")


def _check_link(link: str) -> None:
    if link not in LINKS:
        raise ValueError(f"unknown link {link!r}; links: {', '.join(LINKS)}")


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")


def _check_class_target(target: Any, batch_size: int) -> None:
    if callable(target):
        raise TypeError(
            "deletion and insertion score a class's probability: give target as an int "
            "class, one int per sample, or None (not a callable)"
        )
    check_target(target, batch_size)


def _per_sample_classes(classes: int | Sequence[int] | np.ndarray, n: int) -> list[int]:
    if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
        return [int(classes)] * n
    values = np.asarray(classes)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"source_classes must be an int or one int per sample; got {classes!r}")
    if len(values) != n:
        raise ValueError(f"source_classes has {len(values)} entries for {n} samples")
    return [int(value) for value in values]


def _top_count(fraction: float, voxels: int) -> int:
    """The number of voxels in the top `fraction`, rounded half up."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fractions must be in (0, 1]; got {fraction}")
    count = math.floor(fraction * voxels + 0.5)
    if count < 1:
        raise ValueError(
            f"fraction {fraction} of {voxels} voxels covers no voxel; use a larger fraction"
        )
    return count


def _evaluate_in_batches(
    items: Iterator[tuple[Any, np.ndarray]],
    scorer: _Scorer,
    sample_shape: tuple[int, ...],
    batch_size: int,
    description: str,
) -> Iterator[tuple[list[Any], np.ndarray]]:
    """Run (key, input (C, V)) items through the model `batch_size` at a time; yields each
    batch's keys and its (B, classes) probabilities. Each input is copied into the batch as
    it comes, so a producer may reuse (and keep changing) one array."""
    batch = np.empty((batch_size, *sample_shape), dtype=np.float32)
    flat = batch.reshape(batch_size, sample_shape[0], -1)
    keys: list[Any] = []
    for key, values in items:
        flat[len(keys)] = values
        keys.append(key)
        if len(keys) == batch_size:
            yield keys, scorer.probabilities(scorer.logits(batch, description))
            keys = []
    if keys:
        yield keys, scorer.probabilities(scorer.logits(batch[: len(keys)], description))
