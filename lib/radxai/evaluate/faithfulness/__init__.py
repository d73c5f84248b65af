"""Faithfulness of explanations: deletion and insertion curves, and the probability-drop analysis.

Modules: `curves` (deletion and insertion), `drops` (probability drops) and `common`
(baselines, scoring, checks); the public names are importable from here.

Both take a batch x (N, C, *spatial), spatial (H, W) or (D, H, W), channel first, and one map
per sample, heatmaps (N, *spatial) (a single map (*spatial) is accepted for N = 1): one importance
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
reference, `random_heatmaps` gives heatmaps whose order is random (seeded).

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

from radxai.evaluate.faithfulness.common import LINKS, Baseline
from radxai.evaluate.faithfulness.curves import (
    KINDS,
    PerturbationCurve,
    baseline_check,
    deletion_curve,
    insertion_curve,
    perturbation_curve,
    random_heatmaps,
    voxel_order,
)
from radxai.evaluate.faithfulness.drops import (
    PROBABILITY_DROP_BASELINES,
    PROBABILITY_DROP_FRACTIONS,
    mean_probability_drops,
    probability_drops,
)

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
    "random_heatmaps",
    "voxel_order",
    "probability_drops",
    "mean_probability_drops",
]
