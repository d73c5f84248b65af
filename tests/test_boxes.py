"""Tests of radxai.evaluate.boxes: box IoU, boxes from masks and heatmaps, reader matching."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radxai.evaluate.boxes import (
    box_iou,
    boxes_from_heatmap,
    boxes_from_mask,
    pairwise_box_iou,
    pairwise_box_overlap_as_published,
    reader_box_iou,
    reader_box_iou_as_published,
)

# --------------------------------------------------------------------------------------------
# Box IoU
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ((0, 0, 2, 2), (0, 0, 2, 2), 1.0),  # identical
        ((0, 0, 2, 2), (5, 5, 7, 7), 0.0),  # disjoint
        ((0, 0, 2, 2), (2, 0, 4, 2), 0.0),  # touching along an edge: half-open boxes
        ((0, 0, 2, 2), (2, 2, 4, 4), 0.0),  # touching at a corner
        ((0, 0, 4, 4), (1, 1, 3, 3), 4 / 16),  # nested: inner area / outer area
        ((0, 0, 2, 2), (1, 1, 3, 3), 1 / 7),  # partial overlap
        ((0, 0, 4, 2), (2, 0, 6, 2), 4 / 12),  # half overlap along x
        ((0, 0, 0, 2, 2, 2), (1, 1, 1, 3, 3, 3), 1 / 15),  # 3D partial overlap
        ((0, 0, 0, 4, 4, 4), (1, 1, 1, 3, 3, 3), 8 / 64),  # 3D nested
    ],
)
def test_box_iou_reference_cases(first: tuple, second: tuple, expected: float) -> None:
    assert box_iou(first, second) == pytest.approx(expected)


def test_box_iou_is_not_the_printed_formula_of_the_xray_work() -> None:
    # Their steps: right edge = max of the maxima, union without subtracting the
    # intersection; for these boxes that gives 2 * 2 / (4 + 4) = 0.5.
    assert box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)


def test_the_works_formula_is_available_under_its_own_name() -> None:
    # Union without subtracting the intersection: 1 / (4 + 4) for these boxes, 0.5 when identical.
    assert pairwise_box_overlap_as_published([(0, 0, 2, 2)], [(1, 1, 3, 3)])[0, 0] == pytest.approx(1 / 8)
    assert pairwise_box_overlap_as_published([(0, 0, 2, 2)], [(0, 0, 2, 2)])[0, 0] == pytest.approx(0.5)
    assert pairwise_box_overlap_as_published([(0, 0, 2, 2)], [(5, 5, 6, 6)])[0, 0] == 0.0


@given(st.lists(st.integers(0, 20), min_size=8, max_size=8))
@settings(max_examples=60, deadline=None)
def test_the_works_overlap_is_the_standard_iou_over_one_plus_it(coordinates: list[int]) -> None:
    first = (
        min(coordinates[0], coordinates[2]),
        min(coordinates[1], coordinates[3]),
        max(coordinates[0], coordinates[2]) + 1,
        max(coordinates[1], coordinates[3]) + 1,
    )
    second = (
        min(coordinates[4], coordinates[6]),
        min(coordinates[5], coordinates[7]),
        max(coordinates[4], coordinates[6]) + 1,
        max(coordinates[5], coordinates[7]) + 1,
    )
    standard = box_iou(first, second)
    assert pairwise_box_overlap_as_published([first], [second])[0, 0] == pytest.approx(standard / (1 + standard))


def test_the_works_reader_score_averages_every_pair() -> None:
    predicted = [(0, 0, 2, 2), (10, 10, 12, 12)]
    readers = [(0, 0, 2, 2)]
    # Pairs: identical (0.5) and disjoint (0): the extra blob halves the work's score.
    assert reader_box_iou_as_published(predicted, readers) == pytest.approx(0.25)
    assert reader_box_iou(predicted, readers) == pytest.approx(1.0)
    assert reader_box_iou_as_published(np.zeros((0, 4)), readers) == 0.0
    assert np.isnan(reader_box_iou_as_published(predicted, np.zeros((0, 4))))


def test_empty_boxes_give_nan_only_when_both_are_empty() -> None:
    assert np.isnan(box_iou((1, 1, 1, 3), (2, 2, 2, 2)))
    assert box_iou((1, 1, 1, 3), (0, 0, 4, 4)) == 0.0


def test_bad_boxes_are_named() -> None:
    with pytest.raises(ValueError, match=r"second_boxes\[0\].*maximum below its minimum"):
        box_iou((0, 0, 2, 2), (3, 0, 1, 2))
    with pytest.raises(ValueError, match=r"first_boxes\[1\] = \[0.0, 5.0, 1.0, 4.0\]"):
        pairwise_box_iou([(0, 0, 1, 1), (0, 5, 1, 4)], [(0, 0, 1, 1)])
    with pytest.raises(ValueError, match="4 numbers"):
        box_iou((0, 0, 1), (0, 0, 1, 1))
    with pytest.raises(ValueError, match="2D with 3D"):
        pairwise_box_iou([(0, 0, 1, 1)], [(0, 0, 0, 1, 1, 1)])
    with pytest.raises(ValueError, match="NaN"):
        box_iou((0, 0, np.nan, 1), (0, 0, 1, 1))


boxes_2d = st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(0, 10), st.integers(0, 10)).map(
    lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3])
)


@settings(max_examples=60)
@given(first=boxes_2d, second=boxes_2d)
def test_box_iou_properties(first: tuple, second: tuple) -> None:
    value = box_iou(first, second)
    both_empty = (first[2] - first[0]) * (first[3] - first[1]) == 0 and (second[2] - second[0]) * (
        second[3] - second[1]
    ) == 0
    if both_empty:
        assert np.isnan(value)
        return
    assert 0.0 <= value <= 1.0
    assert value == box_iou(second, first)
    # The same boxes as pixel masks give the same IoU.
    first_mask = np.zeros((32, 32), dtype=bool)
    second_mask = np.zeros((32, 32), dtype=bool)
    first_mask[first[1] : first[3], first[0] : first[2]] = True
    second_mask[second[1] : second[3], second[0] : second[2]] = True
    overlap = (first_mask & second_mask).sum() / (first_mask | second_mask).sum()
    assert value == pytest.approx(overlap)


def test_pairwise_iou_matches_single_pairs() -> None:
    first = [(0, 0, 2, 2), (1, 1, 4, 4)]
    second = [(0, 0, 2, 2), (3, 3, 5, 5), (0, 0, 4, 4)]
    matrix = pairwise_box_iou(first, second)
    assert matrix.shape == (2, 3)
    for row, one in enumerate(first):
        for column, other in enumerate(second):
            assert matrix[row, column] == pytest.approx(box_iou(one, other))
    assert pairwise_box_iou(np.empty((0, 4)), second).shape == (0, 3)


# --------------------------------------------------------------------------------------------
# Boxes from masks and heatmaps
# --------------------------------------------------------------------------------------------


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 5), st.integers(0, 3), st.integers(1, 5)), min_size=1, max_size=4
    )
)
def test_boxes_from_mask_recover_drawn_rectangles(rectangles: list) -> None:
    # Each rectangle lives in its own 10 x 10 cell of a 20 x 20 image, so none touch.
    mask = np.zeros((20, 20), dtype=bool)
    expected = []
    for cell, (row_offset, height, column_offset, width) in enumerate(rectangles):
        top, left = 10 * (cell // 2) + row_offset, 10 * (cell % 2) + column_offset
        mask[top : top + height, left : left + width] = True
        expected.append((left, top, left + width, top + height))
    found = boxes_from_mask(mask)
    assert sorted(map(tuple, found.tolist())) == sorted(expected)


def test_boxes_use_full_connectivity_and_fill_holes() -> None:
    mask = np.zeros((9, 9), dtype=bool)
    mask[1:8, 1:8] = True
    mask[2:7, 2:7] = False  # a ring ...
    mask[4, 4] = True  # ... with a blob in its hole: one outer contour, one box
    mask[8, 8] = True  # diagonal neighbour of the ring's corner: same component
    np.testing.assert_array_equal(boxes_from_mask(mask), [[1, 1, 9, 9]])
    assert boxes_from_mask(np.zeros((4, 4))).shape == (0, 4)


def test_boxes_from_3d_mask_list_x_y_z() -> None:
    mask = np.zeros((6, 7, 8), dtype=bool)
    mask[1:3, 2:5, 3:8] = True  # slices 1-2, rows 2-4, columns 3-7
    np.testing.assert_array_equal(boxes_from_mask(mask), [[3, 2, 1, 8, 5, 3]])
    assert boxes_from_mask(np.zeros((2, 2, 2))).shape == (0, 6)


def test_boxes_from_heatmap_find_the_hottest_rectangles() -> None:
    heatmap = np.random.default_rng(0).uniform(0, 0.5, (32, 32))
    heatmap[2:6, 3:9] = 1.0  # 24 pixels
    heatmap[20:28, 10:12] = 0.9  # 16 pixels
    boxes = boxes_from_heatmap(heatmap, 40 / 1024)
    assert sorted(map(tuple, boxes.tolist())) == [(3, 2, 9, 6), (10, 20, 12, 28)]
    np.testing.assert_array_equal(boxes_from_heatmap(heatmap, 24 / 1024), [[3, 2, 9, 6]])


# --------------------------------------------------------------------------------------------
# Matching to several readers
# --------------------------------------------------------------------------------------------


def test_reader_matching_takes_the_best_box_per_reader_then_the_mean() -> None:
    readers = [(0, 0, 4, 4), (0, 0, 4, 2)]
    predicted = [(0, 0, 4, 4), (20, 20, 30, 30)]
    # Reader 1: exact match (1.0); reader 2: best is the first box, 8 / 16.
    assert reader_box_iou(predicted, readers) == pytest.approx((1.0 + 0.5) / 2)
    # An extra far-away blob changes nothing; losing the matching box does.
    assert reader_box_iou(predicted[:1], readers) == pytest.approx(0.75)
    assert reader_box_iou(predicted[1:], readers) == 0.0


def test_reader_matching_edge_cases() -> None:
    assert reader_box_iou(np.empty((0, 4)), [(0, 0, 1, 1)]) == 0.0
    assert np.isnan(reader_box_iou([(0, 0, 1, 1)], []))
    assert reader_box_iou([(0, 0, 0, 2, 2, 2)], [(0, 0, 0, 2, 2, 2)]) == 1.0
    with pytest.raises(ValueError, match="maximum below its minimum"):
        reader_box_iou([(0, 0, 1, 1)], [(4, 4, 2, 2)])


@given(
    st.lists(
        st.tuples(st.integers(0, 10), st.integers(1, 6), st.integers(0, 10), st.integers(1, 6)), min_size=1, max_size=4
    )
)
@settings(max_examples=60, deadline=None)
def test_mask_from_integer_boxes_covers_exactly_their_pixels(corners) -> None:
    from radxai.evaluate.boxes import mask_from_boxes

    boxes = [(x, y, x + width, y + height) for x, width, y, height in corners]
    mask = mask_from_boxes(boxes, (20, 24))
    expected = np.zeros((20, 24), dtype=bool)
    for x_min, y_min, x_max, y_max in boxes:
        expected[y_min:y_max, x_min:x_max] = True
    np.testing.assert_array_equal(mask, expected)
    if len(boxes) == 1:
        np.testing.assert_array_equal(boxes_from_mask(mask), [boxes[0]])


def test_mask_from_boxes_rounds_by_pixel_centres_clips_and_does_3d() -> None:
    from radxai.evaluate.boxes import mask_from_boxes

    mask = mask_from_boxes([(0.6, -3.0, 2.4, 1.5)], (3, 4))
    np.testing.assert_array_equal(mask, [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])  # centre 1.5 is outside y < 1.5
    volume = mask_from_boxes([(1, 0, 2, 3, 1, 3)], (4, 2, 3))
    assert volume.sum() == 2 and volume[2:3, 0, 1:3].all()
    assert not mask_from_boxes(np.zeros((0, 4)), (2, 2)).any()
    with pytest.raises(ValueError, match="4 coordinates for a 3D mask"):
        mask_from_boxes([(0, 0, 1, 1)], (2, 2, 2))
    with pytest.raises(ValueError, match="maximum below its minimum"):
        mask_from_boxes([(3, 0, 1, 1)], (4, 4))
