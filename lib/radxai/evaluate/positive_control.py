"""A positive control: inputs whose evidence is known by construction.

A synthetic patient can be rendered twice from one seed, with and without its lesions (same
anatomy, noise and confounders; `radxai.data.datasets.write_synthetic_ct` with
``lesion_free_twins``). The voxels where the two inputs differ are the only place the label can
come from, so a faithful, localising explanation of a model that learned the task must point
there: pointing game and mass accuracy well above the evidence's share of the volume, and
deleting voxels in the map's order towards the lesion-free twin must lower the score almost as
fast as deleting them in the order of the true difference (:func:`oracle_heatmaps`). A method that
fails here is broken for this model; one that passes here and fails on diffuse disease says
something about the disease, not the method.

Inputs are model inputs (N, C, *spatial), spatial (H, W) or (D, H, W), numpy, channel first.
"""

from __future__ import annotations

import numpy as np

__all__ = ["evidence_mask", "oracle_heatmaps"]


def _check_pair(inputs: np.ndarray, lesion_free_inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with_lesion = np.asarray(inputs)
    without_lesion = np.asarray(lesion_free_inputs)
    if with_lesion.shape != without_lesion.shape:
        raise ValueError(
            f"inputs {with_lesion.shape} and their lesion-free twins "
            f"{without_lesion.shape} must have the same shape (N, C, *spatial)"
        )
    if with_lesion.ndim not in (4, 5):
        raise ValueError(f"inputs must be (N, C, H, W) or (N, C, D, H, W); got shape {with_lesion.shape}")
    if not (np.isfinite(with_lesion).all() and np.isfinite(without_lesion).all()):
        raise ValueError("inputs and lesion-free twins must be finite (NaN or infinite values found)")
    return with_lesion, without_lesion


def evidence_mask(inputs: np.ndarray, lesion_free_inputs: np.ndarray) -> np.ndarray:
    """Boolean (N, *spatial): the voxels where an input differs from its lesion-free twin in any
    channel, the evidence of the label by construction.

    Raises:
        ValueError: shapes that differ or are not (N, C, *spatial), non-finite values, or a
            sample without any difference (its twin is the same input: nothing to localise).
    """
    with_lesion, without_lesion = _check_pair(inputs, lesion_free_inputs)
    mask = (with_lesion != without_lesion).any(axis=1)
    identical = np.flatnonzero(~mask.reshape(len(mask), -1).any(axis=1))
    if identical.size:
        raise ValueError(
            f"samples {identical.tolist()} equal their lesion-free twins: no evidence "
            "to localise (a negative study has no twin)"
        )
    return mask


def oracle_heatmaps(inputs: np.ndarray, lesion_free_inputs: np.ndarray) -> np.ndarray:
    """Float32 (N, *spatial): |input - twin| summed over channels, the map that orders voxels by
    how much the lesion changed them (the deletion curve's reference from above; zero outside
    the evidence, where a deletion order's ties are broken at random).

    Raises:
        ValueError: as :func:`evidence_mask`.
    """
    with_lesion, without_lesion = _check_pair(inputs, lesion_free_inputs)
    return np.abs(with_lesion.astype(np.float64) - without_lesion).sum(axis=1).astype(np.float32)
