"""Tests of radxai.explain.slices: choosing the slices of a CT volume from a 3D heatmap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from radxai.explain.slices import (
    informative_slices,
    select_slice,
    slice_activation,
)
from radxai.slicing import VIEW_AXES, take_slice


def hot_spot_volume() -> np.ndarray:
    """(6, 8, 10) zeros with one hot voxel at (2, 5, 7)."""
    heatmap = np.zeros((6, 8, 10))
    heatmap[2, 5, 7] = 1.0
    return heatmap


@pytest.mark.parametrize("view, expected", [("axial", 2), ("coronal", 5), ("sagittal", 7)])
def test_the_hot_voxel_lies_in_the_most_informative_slice_of_every_view(view, expected):
    heatmap = hot_spot_volume()
    assert informative_slices(heatmap, view)[0] == expected
    assert select_slice(heatmap, view) == expected
    assert take_slice(heatmap, view, expected).max() == 1.0


def test_the_mask_decides_where_the_activation_is_averaged():
    """Outside the lungs a strong artefact (e.g. the CT table) must not win."""
    heatmap = np.zeros((4, 10, 6))
    heatmap[:, 9, :] = 1.0  # the table, in coronal slice 9
    heatmap[:, 3, 2] = 0.5  # a lesion inside the lungs, in coronal slice 3
    lungs = np.zeros(heatmap.shape, dtype=bool)
    lungs[:, 2:7, 1:5] = True
    assert informative_slices(heatmap, "coronal")[0] == 9
    assert informative_slices(heatmap, "coronal", mask=lungs)[0] == 3
    activation = slice_activation(heatmap, "coronal", mask=lungs)
    assert np.all(np.isnan(activation[[0, 1, 7, 8, 9]]))
    assert activation[3] == pytest.approx(4 * 0.5 / (4 * 4))


def test_slices_are_ordered_by_activation_with_ties_to_the_lower_index():
    heatmap = np.zeros((5, 4, 4))
    heatmap[1] = 0.5
    heatmap[3] = 0.5
    heatmap[4] = 0.9
    np.testing.assert_array_equal(informative_slices(heatmap, "axial", count=3), [4, 1, 3])


@given(
    hnp.arrays(np.float64, (4, 5, 6), elements=st.floats(0, 1)),
    st.sampled_from(list(VIEW_AXES)),
)
def test_the_chosen_slices_have_the_highest_mean(heatmap, view):
    axis = VIEW_AXES[view]
    means = np.moveaxis(heatmap, axis, 0).reshape(heatmap.shape[axis], -1).mean(axis=1)
    np.testing.assert_allclose(slice_activation(heatmap, view), means, atol=1e-12)
    chosen = informative_slices(heatmap, view, count=2)
    assert means[chosen[0]] == means.max()
    assert means[chosen[0]] >= means[chosen[1]]
    others = np.delete(means, chosen)
    assert means[chosen[1]] >= others.max()


def test_a_given_index_is_taken_as_it_is():
    assert select_slice(hot_spot_volume(), "axial", index=4) == 4
    with pytest.raises(ValueError, match="axial slice 6 is outside the volume.*6 axial slices"):
        select_slice(hot_spot_volume(), "axial", index=6)
    with pytest.raises(TypeError, match="slice index must be an int"):
        select_slice(hot_spot_volume(), "axial", index=1.0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda h: informative_slices(h, "oblique"), "unknown view 'oblique'; views: axial"),
        (lambda h: informative_slices(h[None]), r"volume \(D, H, W\).*maps\[0\]"),
        (lambda h: informative_slices(h, count=0), "count must be a positive int"),
        (lambda h: informative_slices(h, "axial", count=7), "asked for 7 axial slices but only 6"),
        (lambda h: slice_activation(h, mask=np.ones((6, 8))), r"mask has shape \(6, 8\)"),
        (lambda h: slice_activation(h, mask=np.zeros(h.shape)), "the mask is empty"),
        (lambda h: slice_activation(np.where(h > 0, np.nan, h)), "NaN or infinite"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call(hot_spot_volume())


def test_slices_without_mask_voxels_are_never_chosen():
    heatmap = np.ones((3, 4, 4))
    mask = np.zeros(heatmap.shape, dtype=bool)
    mask[1, 1, 1] = True
    np.testing.assert_array_equal(informative_slices(heatmap, "axial", mask=mask), [1])
    with pytest.raises(ValueError, match="asked for 2 axial slices but only 1 hold mask voxels"):
        informative_slices(heatmap, "axial", count=2, mask=mask)
