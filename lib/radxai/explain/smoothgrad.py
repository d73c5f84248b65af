"""SmoothGrad (Smilkov et al. 2017) around any registered method.

The wrapped ("inner") method explains n noisy copies x + e of each sample, e ~ Normal(0,
sigma^2) per pixel with sigma = noise_level * (max(x) - min(x)) of that sample; the result is
the mean over the copies:
- heatmaps = min-max of the mean of the inner heatmaps (each already in [0, 1]), so
  noise_level 0 gives the inner method's heatmaps;
- raw = the mean of the inner raw attributions (layer resolution for CAMs);
- scores = the mean of the inner target scores over the copies.
The target is resolved once on the clean input (target None: the class predicted for x, not
for each noisy copy), costing N model evaluations; the copies cost what the inner method
costs per sample, n times. Copies are explained in batches; the noise comes from
``numpy.random.default_rng(seed)``, so a seed gives the same result every time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from radxai.explain.backends import Backend
from radxai.explain.explanation import Attribution
from radxai.explain.registry import method_named, register_method, run_method
from radxai.explain.targets import TargetSpec
from radxai.explain.upsample import minmax

__all__ = ["smoothgrad"]


@register_method("smoothgrad")
def smoothgrad(
    backend: Backend,
    x: np.ndarray,
    target: TargetSpec,
    layer: str | None,
    *,
    inner: str = "saliency",
    noise_level: float = 0.15,
    samples: int = 50,
    seed: int = 0,
    batch_size: int = 16,
    inner_options: Mapping[str, Any] | None = None,
) -> Attribution:
    """Mean of method `inner` over `samples` noisy copies per sample (see module docstring).

    inner: a registered method name (not "smoothgrad"); layer and inner_options are passed
    to it. noise_level: sigma as a fraction of each sample's value range (0.1-0.2 usual).
    samples: copies per sample. seed: noise seed. batch_size: copies per call of the inner
    method.
    """
    method_named(inner)
    if inner == "smoothgrad":
        raise ValueError("smoothgrad cannot wrap itself; choose another inner method")
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"smoothgrad samples must be a positive int, got {samples!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"smoothgrad batch_size must be a positive int, got {batch_size!r}")
    if not noise_level >= 0:
        raise ValueError(f"smoothgrad noise_level must be >= 0, got {noise_level!r}")
    targets = backend.scores(x, target).targets
    n = len(x)
    flat = x.reshape(n, -1)
    sigma = (noise_level * (flat.max(axis=1) - flat.min(axis=1))).astype(np.float32)
    rng = np.random.default_rng(seed)
    copy_of = np.repeat(np.arange(n), samples)
    broadcast = (-1, *([1] * (x.ndim - 1)))
    heatmaps_sum = raw_sum = None
    score_sum = np.zeros(n, dtype=np.float64)
    for start in range(0, len(copy_of), batch_size):
        rows = copy_of[start : start + batch_size]
        noise = rng.standard_normal((len(rows), *x.shape[1:]), dtype=np.float32)
        noisy = x[rows] + sigma[rows].reshape(broadcast) * noise
        result = run_method(inner, backend, noisy, targets.rows(rows), layer, inner_options or {})
        if heatmaps_sum is None or raw_sum is None:
            heatmaps_sum = np.zeros((n, *result.heatmaps.shape[1:]), dtype=np.float64)
            raw_sum = np.zeros((n, *result.raw.shape[1:]), dtype=np.float64)
        for sample in np.unique(rows):
            mine = rows == sample
            heatmaps_sum[sample] += result.heatmaps[mine].sum(axis=0)
            raw_sum[sample] += result.raw[mine].sum(axis=0)
            score_sum[sample] += result.scores[mine].sum()
    assert heatmaps_sum is not None and raw_sum is not None
    return Attribution(
        heatmaps=minmax(heatmaps_sum / samples),
        raw=(raw_sum / samples).astype(np.float32),
        targets=targets,
        layer=result.layer,
        scores=(score_sum / samples).astype(np.float32),
    )
