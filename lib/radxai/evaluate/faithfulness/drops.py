"""Probability drops: the fall of the target's probability when the top fraction of a map is removed, per baseline."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from radxai.evaluate.faithfulness.common import (
    Baseline,
    _as_baseline,
    _check_count,
    _check_heatmaps,
    _check_link,
    _evaluate_in_batches,
    _per_sample_classes,
    _Scorer,
    _top_count,
)
from radxai.evaluate.faithfulness.curves import (
    voxel_order,
)
from radxai.explain.backends import detect_backend
from radxai.explain.front_door import as_batch

PROBABILITY_DROP_FRACTIONS = (0.02, 0.05, 0.1, 0.2, 0.5)
PROBABILITY_DROP_BASELINES = (
    Baseline("mean"),
    Baseline("blur", blur_kernel=11),
    Baseline("blur", blur_kernel=21),
)


def probability_drops(
    model: Any,
    x: np.ndarray,
    heatmaps: np.ndarray,
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

    x: (N, C, *spatial) finite inputs. heatmaps: (N, *spatial) (or (*spatial) for N = 1), the
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
    importance = _check_heatmaps(heatmaps, inputs)
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
        raise ValueError(f"class_names has {len(class_names)} names but the model has {class_count} classes")

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
            "baseline": np.repeat([replacements[which].label for _, which, _ in jobs], class_count),
            "fraction": np.repeat([float(fractions[position]) for _, _, position in jobs], class_count),
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
