"""Targets: which score of the model an explanation is about.

A target is given as
- an int class, the same for every sample;
- a list or array of ints, one per sample (its length must equal the batch size N);
- a callable taking the model's raw output and returning (N,) scores;
- None: the predicted class of each sample.

The score of a class is its logit, before any sigmoid or softmax. A model with K >= 2 outputs
(softmax classes or multi-label sigmoids) accepts classes 0..K-1 and predicts the arg-max. A
single-logit binary model (output (N,) or (N, 1)) accepts class 1 (score = the logit) and
class 0 (score = the negated logit, the logit of the negative class), and predicts 1 when the
logit is positive. An output with a ``logits`` attribute (a named tuple such as
`radxai.models.UNetOutput`) is scored on those logits.

This module is framework-free: it turns a target and the logits (as numpy) into a `Targets`
record; each backend then picks the scores out of its own tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

__all__ = ["TargetSpec", "Targets", "check_target", "logits_of", "resolve_targets"]

TargetSpec = Union[int, Sequence[int], np.ndarray, Callable[[Any], Any], "Targets", None]


@dataclass(frozen=True, eq=False)
class Targets:
    """The resolved target of every sample of a batch.

    For class targets (function is None):
        classes: (N,) int, the class each sample is explained for, as the caller names it
            (for a single-logit model 0 or 1).
        columns: (N,) int, the output column whose logit gives the score.
        signs: (N,) float, +1, or -1 for class 0 of a single-logit model (negated logit).
    For a callable target, classes, columns and signs are None and `function` gives the
    scores from the model output.
    """

    classes: np.ndarray | None
    columns: np.ndarray | None
    signs: np.ndarray | None
    function: Callable[[Any], Any] | None = None

    @property
    def label(self) -> list[int] | str:
        """What `Explanation.target` reports: the classes as a list, or the callable's name."""
        if self.function is not None:
            return getattr(self.function, "__name__", repr(self.function))
        assert self.classes is not None
        return [int(value) for value in self.classes]

    def rows(self, indices: np.ndarray | Sequence[int]) -> Targets:
        """The targets of a batch made of the given rows of this one (repeats allowed).

        Used for batches of perturbed copies (noisy samples, masked inputs, path points),
        where row r is a copy of sample indices[r].
        """
        if self.function is not None:
            return self
        assert self.classes is not None and self.columns is not None and self.signs is not None
        picked = np.asarray(indices, dtype=np.intp)
        return Targets(self.classes[picked], self.columns[picked], self.signs[picked])


def check_target(target: TargetSpec, batch_size: int) -> None:
    """Reject a malformed target before any model evaluation.

    Raises TypeError for a value that is none of the accepted kinds and ValueError for a
    per-sample list whose length is not the batch size. Class ranges are checked later by
    `resolve_targets`, once the number of model outputs is known.
    """
    if target is None or callable(target) or isinstance(target, Targets) or _is_integer(target):
        return
    values = np.asarray(target)
    if values.ndim != 1 or not (values.size == 0 or np.issubdtype(values.dtype, np.integer)):
        raise TypeError(
            "target must be an int class, a list of ints (one per sample), a callable on the "
            f"model output, or None; got {target!r}"
        )
    if len(values) != batch_size:
        raise ValueError(
            f"target has {len(values)} entries but the batch has {batch_size} samples "
            "(give one class per sample, or a single int for all)"
        )


def logits_of(output: Any) -> Any:
    """The logits tensor of a model output: ``output.logits`` if it has one, else the output."""
    return getattr(output, "logits", output)


def resolve_targets(target: TargetSpec, logits: np.ndarray | None, batch_size: int) -> Targets:
    """Resolve a target against the model's logits.

    target: see the module docstring; an already resolved `Targets` is returned unchanged.
    logits: (N,) or (N, K) logits as numpy; may be None only for a callable target.
    Raises ValueError when the logits are not (N,) or (N, K), or when a class is out of range
    (the message names the class and the number of outputs).
    """
    if isinstance(target, Targets):
        return target
    if callable(target):
        return Targets(None, None, None, function=target)
    check_target(target, batch_size)
    assert logits is not None
    values = np.asarray(logits)
    if values.ndim == 2 and values.shape[0] == batch_size:
        outputs = values.shape[1]
    elif values.ndim == 1 and values.shape[0] == batch_size:
        outputs = 1
        values = values[:, None]
    else:
        raise ValueError(
            f"model logits have shape {values.shape}; expected (N,) or (N, K) with N = "
            f"{batch_size}; for other outputs pass a callable target returning (N,) scores"
        )
    if target is None:
        classes = (values[:, 0] > 0).astype(np.int64) if outputs == 1 else values.argmax(axis=1)
    elif _is_integer(target):
        classes = np.full(batch_size, int(target), dtype=np.int64)  # type: ignore[arg-type]
    else:
        classes = np.asarray(target, dtype=np.int64)
    _check_range(classes, outputs)
    if outputs == 1:
        # Class 0 of a single-logit model is scored by the negated logit (its own log-odds).
        signs = np.where(classes == 1, 1.0, -1.0)
        return Targets(classes, np.zeros(batch_size, dtype=np.int64), signs)
    return Targets(classes, classes, np.ones(batch_size))


def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_range(classes: np.ndarray, outputs: int) -> None:
    valid = (0, 1) if outputs == 1 else range(outputs)
    for value in classes:
        if int(value) not in valid:
            if outputs == 1:
                meaning = "valid targets: 0 (negative class, logit negated) and 1"
            else:
                meaning = f"valid targets: 0..{outputs - 1}"
            raise ValueError(f"target {int(value)} is out of range for a model with {outputs} output(s); {meaning}")
