from __future__ import annotations

import numpy as np
import pytest

from radxai.evaluate.positive_control import evidence_mask, oracle_heatmaps


def twin_pair(spatial: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    lesion_free = rng.uniform(0, 1, (2, 2, *spatial)).astype(np.float32)
    with_lesion = lesion_free.copy()
    with_lesion[(0, 1, *(1,) * len(spatial))] += 0.5  # one channel of one voxel
    with_lesion[(1, slice(None), *(0,) * len(spatial))] -= 0.25
    return with_lesion, lesion_free


@pytest.mark.parametrize("spatial", [(4, 5), (3, 4, 5)])
def test_evidence_is_where_any_channel_differs(spatial: tuple[int, ...]) -> None:
    with_lesion, lesion_free = twin_pair(spatial)
    mask = evidence_mask(with_lesion, lesion_free)
    assert mask.shape == (2, *spatial) and mask.dtype == bool
    assert mask.sum() == 2
    assert mask[(0, *(1,) * len(spatial))] and mask[(1, *(0,) * len(spatial))]


@pytest.mark.parametrize("spatial", [(4, 5), (3, 4, 5)])
def test_oracle_map_is_the_absolute_difference_summed_over_channels(spatial: tuple[int, ...]) -> None:
    with_lesion, lesion_free = twin_pair(spatial)
    oracle = oracle_heatmaps(with_lesion, lesion_free)
    assert oracle.shape == (2, *spatial)
    assert oracle[(0, *(1,) * len(spatial))] == pytest.approx(0.5)
    assert oracle[(1, *(0,) * len(spatial))] == pytest.approx(0.5)  # 0.25 in each of two channels
    assert np.count_nonzero(oracle) == 2


def test_a_twin_identical_to_its_input_is_named() -> None:
    with_lesion, lesion_free = twin_pair((4, 5))
    with_lesion[1] = lesion_free[1]
    with pytest.raises(ValueError, match=r"samples \[1\] equal their lesion-free twins"):
        evidence_mask(with_lesion, lesion_free)


def test_shape_and_value_errors_are_named() -> None:
    with_lesion, lesion_free = twin_pair((4, 5))
    with pytest.raises(ValueError, match="same shape"):
        evidence_mask(with_lesion, lesion_free[:1])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        oracle_heatmaps(with_lesion[0], lesion_free[0])
    lesion_free[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        evidence_mask(with_lesion, lesion_free)
