"""Tests of radxai.data.orientation: any voxel order to the phantoms' and back, exactly."""

from __future__ import annotations

import itertools

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from radxai.data.orientation import PHANTOM_AXIS_CODES, to_phantom_order
from radxai.data.volume import Volume, affine_to_spacing

ORDERS = list(itertools.permutations(range(3)))


def volume_with(order: tuple[int, int, int], flips: tuple[bool, bool, bool], angle: float = 0.0) -> Volume:
    """A (4, 5, 6) volume whose voxel axes point along permuted, flipped, slightly rotated world axes."""
    directions = np.eye(3)[:, list(order)] * np.where(flips, -1.0, 1.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ directions @ np.diag([0.8, 0.9, 2.0])
    affine[:3, 3] = [-30.0, 12.5, 7.0]
    array = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    return Volume(array, affine, affine_to_spacing(affine))


@given(
    order=st.sampled_from(ORDERS),
    flips=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    angle=st.floats(-0.5, 0.5),
)
def test_reordering_reaches_the_phantoms_axes_keeps_world_positions_and_undoes_exactly(order, flips, angle) -> None:
    volume = volume_with(order, flips, angle)
    reordered, reordering = to_phantom_order(volume)
    assert nib.orientations.aff2axcodes(reordered.affine) == PHANTOM_AXIS_CODES
    # Every voxel keeps its world position: the voxel holding value v sits at the same place.
    value = 37
    before = np.argwhere(volume.array == value)[0][::-1]  # (k, j, i) -> (i, j, k)
    after = np.argwhere(reordered.array == value)[0][::-1]
    np.testing.assert_allclose(volume.affine @ [*before, 1], reordered.affine @ [*after, 1], atol=1e-9)
    np.testing.assert_array_equal(reordering.undo(reordered.array), volume.array)


def test_undo_refuses_an_array_of_another_shape() -> None:
    _, reordering = to_phantom_order(volume_with((2, 1, 0), (False, True, False)))
    with pytest.raises(ValueError, match=r"cannot put an array of shape \(1, 2, 3\) back on the scan's grid"):
        reordering.undo(np.zeros((1, 2, 3)))
