"""What an explanation returns: `Explanation` (public) and `Attribution` (a method's result)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from radxai.explain.targets import Targets

__all__ = ["Explanation", "Attribution"]


@dataclass(frozen=True, eq=False)
class Explanation:
    """The explanation of a batch of N inputs (N, C, *spatial), spatial = (H, W) or (D, H, W).

    heatmaps: (N, *spatial) float32 at input resolution, in [0, 1] per sample (a map with no
        positive evidence is all zeros). CAMs: ReLU, interpolation to the input size, min-max.
        Gradient methods: absolute value of `raw`, min-max.
    raw: the un-normalised, signed attribution, float32:
        - CAMs: (N, *s) at the layer's resolution, the map before ReLU and normalisation,
          sum_f w_f A_f (Grad-CAM, Grad-CAM++, Score-CAM) or sum_f W_f * A_f elementwise
          (HiResCAM, LayerCAM).
        - Gradient methods: (N, *spatial) at input resolution, one value per pixel/voxel:
          for saliency, guided backpropagation and DeconvNet the gradient in the channel
          where it is largest in magnitude; for gradient x input and Integrated Gradients the
          attribution summed over channels (so IG's raw sums to f(x) - f(baseline)); for
          guided Grad-CAM the guided gradient times the upsampled Grad-CAM map.
        - SmoothGrad: the mean of the wrapped method's raw over the noisy copies.
        - Kernel SHAP / LIME: (N, *spatial), each voxel the value of its segment for the
          target (signed; Kernel SHAP's values summed over segments = f(x) - f(all off)).
        - Occlusion: (N, *spatial), the mean drop of the target's output over the windows
          covering each voxel.
    method: the registered method name.
    target: the class explained for each sample (list of N ints) or the name of the callable
        target.
    layer: the layer explained (resolved name), or None for methods of the input.
    scores: (N,) the target scores that were differentiated or probed: logits (the negated
        logit for class 0 of a single-logit model) or the callable's values. SmoothGrad
        reports their mean over the noisy copies.
    model_evaluations: samples passed through the model (a batch of B counts B), including
        any dry run to find a default layer.
    seconds: wall-clock time of the whole `explain` call.
    """

    heatmaps: np.ndarray
    raw: np.ndarray
    method: str
    target: list[int] | str
    layer: str | None
    scores: np.ndarray
    model_evaluations: int
    seconds: float

    @property
    def probabilities(self) -> np.ndarray:
        """(N,) the model's probability of each sample's explained class, sigmoid(`scores`).

        The models explained here are sigmoid models (multi-label or single-logit), so the
        sigmoid of a class's logit is its probability, and sigmoid of the negated logit is the
        probability of class 0 of a single-logit model. SmoothGrad's is the sigmoid of the mean
        logit over the noisy copies. Raises ValueError for a callable target, whose values are
        not logits.
        """
        if isinstance(self.target, str):
            raise ValueError(
                f"the explanation's target is the callable {self.target!r}; its "
                "scores are not logits, so they have no probability"
            )
        return expit(np.asarray(self.scores, dtype=np.float64))


@dataclass(frozen=True, eq=False)
class Attribution:
    """What a registered method returns; `explain` adds the bookkeeping of `Explanation`.

    heatmaps (N, *spatial) in [0, 1]; raw as in `Explanation.raw`; targets resolved; layer name
    or None; scores (N,).
    """

    heatmaps: np.ndarray
    raw: np.ndarray
    targets: Targets
    layer: str | None
    scores: np.ndarray
