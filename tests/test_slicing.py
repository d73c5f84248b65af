"""Tests of radxai.slicing: the axis each view slices and taking one slice."""

from __future__ import annotations

import numpy as np
import pytest

from radxai.slicing import VIEW_AXES, take_slice, view_axis


def test_views_take_the_documented_axes() -> None:
    volume = np.arange(6 * 8 * 10).reshape(6, 8, 10)
    np.testing.assert_array_equal(take_slice(volume, "axial", 1), volume[1])
    np.testing.assert_array_equal(take_slice(volume, "coronal", 3), volume[:, 3])
    np.testing.assert_array_equal(take_slice(volume, "sagittal", 4), volume[:, :, 4])
    channels = np.stack([volume, -volume])  # (C, D, H, W): leading axes are kept
    np.testing.assert_array_equal(take_slice(channels, "coronal", 3), channels[:, :, 3])
    assert VIEW_AXES == {"axial": 0, "coronal": 1, "sagittal": 2}
    assert [view_axis(view) for view in ("axial", "coronal", "sagittal")] == [0, 1, 2]


@pytest.mark.parametrize(
    ("volume_shape", "view", "index", "message"),
    [
        ((2, 3, 4), "oblique", 0, "unknown view 'oblique'; views: axial, coronal, sagittal"),
        ((2, 3, 4), "coronal", 3, "coronal slice 3 is outside"),
        ((2, 3, 4), "axial", -1, "axial slice -1 is outside"),
        ((3, 4), "axial", 0, r"volume \(\.\.\., D, H, W\)"),
    ],
)
def test_bad_requests_are_named(volume_shape, view, index, message) -> None:
    with pytest.raises(ValueError, match=message):
        take_slice(np.zeros(volume_shape), view, index)


def test_a_non_integer_index_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="slice index must be an int"):
        take_slice(np.zeros((2, 3, 4)), "axial", 1.0)
