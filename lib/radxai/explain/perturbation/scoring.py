"""Scoring perturbed copies of an input: every class's output, in batches, through a Backend.

Kernel SHAP, LIME and occlusion all ask the same question many times: what does the model
output for this input with some regions replaced by a baseline? This module answers it once:

- `ClassScorer` runs batches through any `radxai.explain.backends.Backend` (torch or Keras)
  and returns the explained output of every class, so one model call serves all classes. The
  backend counts every sample it runs (`Backend.evaluations`).
- `SegmentGame` is one sample's game over its segments: a coalition (which segments are
  "on") becomes an image whose "off" segments are taken from the baseline, and a matrix of
  coalitions is composed and scored `batch_size` images at a time.

The explained output (`OUTPUTS`), per class k of a model with logits z:
    "logit"        z_k, the score every radxai method explains (`radxai.explain.targets`);
                   for a single-logit model the classes are 0 and 1 with values -z and z.
    "probability"  softmax(z)_k; for a single-logit model 1 - sigmoid(z) and sigmoid(z). What
                   the 3D COVID-19 work's Kernel SHAP explained (the classifier's softmax).
    "sigmoid"      sigmoid(z_k) per class: the probabilities of a multi-label model.
A callable target (`radxai.explain.targets`) is explained as its own values, one "class";
it only takes output="logit".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from radxai.explain.backends import Backend
from radxai.explain.targets import Targets, TargetSpec, logits_of, resolve_targets

__all__ = [
    "OUTPUTS",
    "ClassScorer",
    "ResolvedTargets",
    "SegmentGame",
    "check_batch_size",
    "check_seed",
    "reject_layer",
    "target_function_of",
]

OUTPUTS = ("logit", "probability", "sigmoid")


@dataclass(frozen=True, eq=False)
class ResolvedTargets:
    """The targets of an explained batch of N samples.

    targets: the resolved `Targets`. scores: (N,) the target logits (negated for class 0 of
    a single-logit model) or the callable's values, as `Explanation.scores` reports them.
    classes: (N,) int, the index of each sample's target among the scorer's classes.
    values: (N, K) the explained output of every class at the unperturbed input.
    """

    targets: Targets
    scores: np.ndarray
    classes: np.ndarray
    values: np.ndarray


class ClassScorer:
    """The explained output (see the module docstring) of every class for batches of inputs.

    backend: runs the model and counts evaluations. output: one of `OUTPUTS`.
    target_function: a callable target whose values are explained instead of the classes
    (then output must be "logit"), or None. batch_size: samples per model call.
    """

    def __init__(
        self,
        backend: Backend,
        output: str = "logit",
        target_function: Callable[[Any], Any] | None = None,
        batch_size: int = 32,
    ) -> None:
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; outputs: {', '.join(OUTPUTS)}")
        if target_function is not None and output != "logit":
            raise ValueError(
                f"a callable target is explained as its own values; output={output!r} needs "
                "class targets (use output='logit' with a callable target)"
            )
        check_batch_size(batch_size)
        self.backend = backend
        self.output = output
        self.target_function = target_function
        self.batch_size = batch_size

    def values(self, x: np.ndarray) -> np.ndarray:
        """The explained output (B, K) float64 of every class for inputs x (B, C, *spatial),
        run in model calls of at most `batch_size` samples."""
        if self.target_function is not None:
            scores = [self.backend.scores(chunk, self.target_function).scores for chunk in self._chunks(x)]
            return np.concatenate(scores).astype(np.float64)[:, None]
        return self.class_values(self.logits(x))

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The model's logits (B, L) float64 for inputs x (B, C, *spatial), batched."""
        logits = []
        for chunk in self._chunks(x):
            recorder = _LogitRecorder()
            self.backend.scores(chunk, recorder)
            assert recorder.logits is not None
            logits.append(recorder.logits.reshape(len(chunk), -1))
        return np.concatenate(logits)

    def class_values(self, logits: np.ndarray) -> np.ndarray:
        """Logits (B, L) -> the explained output (B, K) of every class (K = 2 when L = 1)."""
        if logits.shape[1] == 1:
            logit = logits[:, 0]
            if self.output == "logit":
                return np.stack([-logit, logit], axis=1)
            return np.stack([special.expit(-logit), special.expit(logit)], axis=1)
        if self.output == "logit":
            return logits
        if self.output == "probability":
            return special.softmax(logits, axis=1)
        return special.expit(logits)

    def resolve(self, x: np.ndarray, target: TargetSpec) -> ResolvedTargets:
        """Resolve `target` for the batch x (N, C, *spatial): one model evaluation per sample.

        A target of None is each sample's predicted class (from its logits, as everywhere in
        `radxai.explain`).
        """
        n = len(x)
        if self.target_function is not None:
            values = self.values(x)
            return ResolvedTargets(
                targets=resolve_targets(self.target_function, None, n),
                scores=values[:, 0].astype(np.float32),
                classes=np.zeros(n, dtype=np.int64),
                values=values,
            )
        logits = self.logits(x)
        targets = resolve_targets(target, logits, n)
        assert targets.classes is not None and targets.columns is not None
        assert targets.signs is not None
        scores = logits[np.arange(n), targets.columns] * targets.signs
        return ResolvedTargets(
            targets=targets,
            scores=scores.astype(np.float32),
            classes=targets.classes.astype(np.int64),
            values=self.class_values(logits),
        )

    def _chunks(self, x: np.ndarray) -> list[np.ndarray]:
        return [x[start : start + self.batch_size] for start in range(0, len(x), self.batch_size)]


def target_function_of(target: TargetSpec) -> Callable[[Any], Any] | None:
    """The callable of a callable target (given or already resolved), else None."""
    if isinstance(target, Targets):
        return target.function
    if callable(target):
        return target
    return None


class _LogitRecorder:
    """A callable target that keeps the model's whole logit output.

    The Backend protocol returns one score per sample; the perturbation methods want every
    class's logit from the same model call, so this target records them as it scores.
    """

    def __init__(self) -> None:
        self.logits: np.ndarray | None = None

    def __call__(self, output: Any) -> Any:
        logits = logits_of(output)
        shape = tuple(logits.shape)
        if len(shape) not in (1, 2):
            raise ValueError(
                f"model logits have shape {shape}; expected (N,) or (N, K); for other outputs "
                "pass a callable target returning (N,) scores"
            )
        if hasattr(logits, "detach"):  # a torch tensor, possibly on a GPU
            self.logits = np.asarray(logits.detach().cpu(), dtype=np.float64)
        else:
            self.logits = np.asarray(logits, dtype=np.float64)
        return logits[:, 0] if len(shape) == 2 else logits


@dataclass(frozen=True, eq=False)
class SegmentGame:
    """One sample's game over its segments (the players).

    scorer: runs the model. image, reference: (C, *spatial) the sample and its baseline
    (`radxai.explain.baselines`). segments: (*spatial) int labels 0..count - 1. batch_size:
    composed images per model call.
    """

    scorer: ClassScorer
    image: np.ndarray
    reference: np.ndarray
    segments: np.ndarray
    count: int
    batch_size: int

    def compose(self, coalitions: np.ndarray) -> np.ndarray:
        """Images (M, C, *spatial) for coalitions (M, count) bool: segment s is taken from the
        image where coalitions[m, s] is True ("on") and from the reference otherwise."""
        on = np.asarray(coalitions, dtype=bool)[:, self.segments]
        return np.where(on[:, None], self.image, self.reference).astype(np.float32)

    def score(self, coalitions: np.ndarray) -> np.ndarray:
        """The explained output (M, K) of every class for coalitions (M, count) bool; the
        images are composed and scored `batch_size` at a time, so memory stays bounded."""
        chosen = np.asarray(coalitions, dtype=bool)
        if chosen.ndim != 2 or chosen.shape[1] != self.count:
            raise ValueError(f"coalitions must be (M, {self.count}) for {self.count} segments; got {chosen.shape}")
        return np.concatenate(
            [
                self.scorer.values(self.compose(chosen[start : start + self.batch_size]))
                for start in range(0, len(chosen), self.batch_size)
            ]
        )

    def score_images(self, images: np.ndarray) -> np.ndarray:
        """The explained output (B, K) of already composed images (B, C, *spatial)."""
        return self.scorer.values(np.asarray(images, dtype=np.float32))


def check_batch_size(batch_size: Any) -> None:
    """ValueError unless batch_size is a positive int."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")


def check_seed(seed: Any) -> None:
    """ValueError unless seed is an int in [0, 2**32) (what numpy's RandomState accepts)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (0 <= seed < 2**32):
        raise ValueError(f"seed must be an int in [0, 2**32); got {seed!r}")


def reject_layer(method: str, layer: str | None) -> None:
    """Perturbation methods explain the input: ValueError for any layer."""
    if layer is not None:
        raise ValueError(f"{method} perturbs the input and takes no layer; got layer={layer!r}")
