"""Tests of radxai.evaluate.localisation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from radxai.evaluate import localisation


def test_mass_accuracy_on_a_hand_example() -> None:
    heatmap = np.array([[1.0, 3.0], [0.0, 4.0]])
    mask = np.array([[False, True], [False, True]])
    assert localisation.mass_accuracy(heatmap, mask) == pytest.approx(7 / 8)
    assert np.isnan(localisation.mass_accuracy(np.zeros((2, 2)), mask))


def test_mass_accuracy_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(3, 3\)"):
        localisation.mass_accuracy(np.ones((2, 2)), np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="non-negative"):
        localisation.mass_accuracy(-np.ones((2, 2)), np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="2 heatmaps but 1 masks"):
        localisation.batch_mass_accuracy(np.ones((2, 3, 3)), [np.ones((3, 3), bool)])


@settings(max_examples=50, deadline=None)
@given(heatmap=arrays(np.float64, (4, 5, 6), elements=st.floats(0, 10)),
       mask=arrays(bool, (4, 5, 6)))
def test_mass_inside_and_outside_add_up_to_one(heatmap: np.ndarray, mask: np.ndarray) -> None:
    inside = localisation.mass_accuracy(heatmap, mask)
    outside = localisation.mass_accuracy(heatmap, ~mask)
    if heatmap.sum() > 0:
        assert inside + outside == pytest.approx(1.0)
        assert 0.0 <= inside <= 1.0
    else:
        assert np.isnan(inside) and np.isnan(outside)


def test_batch_gives_one_value_per_map() -> None:
    maps = np.stack([np.eye(3), np.ones((3, 3))])
    masks = [np.eye(3, dtype=bool), np.eye(3, dtype=bool)]
    np.testing.assert_allclose(localisation.batch_mass_accuracy(maps, masks), [1.0, 1 / 3])
