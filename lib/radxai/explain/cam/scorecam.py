"""Score-CAM (Wang et al. 2020): feature maps weighted by how much they alone raise the score.

Each feature map A_f of a sample is interpolated to the input size and min-max normalised to
a mask H_f in [0, 1]; the model scores the input masked by it, x * H_f. The weight is the
paper's increase of confidence (its eq. 4) on the target score S (the logit, as for every
method here, rather than the softmax probability of the authors' code):

    w_f = S(x * H_f) - S(x_b),   x_b = 0 (the input with every mask value 0),
    map = ReLU(sum_f w_f A_f).

No gradients are used. Cost, counted in model evaluations: N for the capture, N * F masked
inputs and N baselines, run in batches of `batch_size` masked inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from radxai.explain.cam.base import BaseCAM, CAMContext
from radxai.explain.registry import register_method
from radxai.explain.upsample import minmax, resize

__all__ = ["ScoreCAM"]


@register_method("scorecam")
@dataclass
class ScoreCAM(BaseCAM):
    """Score-CAM. Option batch_size: masked inputs per forward pass (memory ~ batch_size
    inputs)."""

    batch_size: int = 32
    needs_gradients: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"scorecam batch_size must be a positive int, got {self.batch_size!r}")

    def weights_or_map(self, activations: np.ndarray, gradients: np.ndarray | None, context: CAMContext) -> np.ndarray:
        """Weights (N, F): increase of the target score from the baseline, per masked input."""
        inputs, backend, targets = context.inputs, context.backend, context.targets
        n, _, *spatial = inputs.shape
        features = activations.shape[1]
        baseline = backend.scores(np.zeros_like(inputs), targets).scores
        weights = np.empty((n, features), dtype=np.float32)
        for sample in range(n):
            # Masks are made per batch: all F masks of a CT volume at once would not fit.
            for start in range(0, features, self.batch_size):
                stop = min(start + self.batch_size, features)
                masks = minmax(resize(activations[sample, start:stop], spatial))
                masked = inputs[sample] * masks[:, None]
                copies = targets.rows(np.full(stop - start, sample))
                weights[sample, start:stop] = backend.scores(masked, copies).scores - baseline[sample]
        return weights
