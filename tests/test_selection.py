from __future__ import annotations

import numpy as np
import pytest

from radxai.data import datasets
from radxai.evaluate.selection import (
    DETECTION_PROBABILITY,
    NO_FINDING_CLASS,
    detected_findings,
    most_probable_detected_finding,
)

CLASSES = ["Aortic enlargement", "Nodule/Mass", NO_FINDING_CLASS]


def test_no_finding_is_the_datasets_no_finding_class_name() -> None:
    # The notebooks once compared class names with the (name, id) tuple, so nothing was excluded.
    assert isinstance(NO_FINDING_CLASS, str)
    assert datasets.cxr_class_names()[-1] == NO_FINDING_CLASS


def test_no_finding_is_never_selected_even_when_present_and_detected() -> None:
    probabilities = np.array([[0.1, 0.2, 0.99], [0.9, 0.1, 0.95]])
    labels = np.array([[0, 0, 1], [1, 0, 1]])
    selected = detected_findings(probabilities, labels, CLASSES)
    assert not selected[:, 2].any()
    assert selected.tolist() == [[False, False, False], [True, False, False]]


def test_the_threshold_is_inclusive_and_defaults_to_the_xray_works_0_7() -> None:
    assert DETECTION_PROBABILITY == 0.7
    probabilities = np.array([[0.7, 0.69, 0.0]])
    labels = np.array([[1, 1, 0]])
    assert detected_findings(probabilities, labels, CLASSES).tolist() == [[True, False, False]]
    detected = detected_findings(probabilities, labels, CLASSES, probability_threshold=0.5)
    assert detected.tolist() == [[True, True, False]]


def test_absent_findings_are_not_selected_however_probable() -> None:
    selected = detected_findings(np.array([[0.99, 0.99, 0.0]]), np.array([[0, 1, 0]]), CLASSES)
    assert selected.tolist() == [[False, True, False]]


def test_logits_are_refused_with_a_message_that_says_so() -> None:
    with pytest.raises(ValueError, match="logits"):
        detected_findings(np.array([[2.5, -1.0, 0.3]]), np.array([[1, 0, 0]]), CLASSES)


def test_an_excluded_class_that_is_not_a_class_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="not among the class names"):
        detected_findings(np.zeros((1, 3)), np.zeros((1, 3)), CLASSES, excluded_classes=(("No finding", 14),))


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.5])
def test_a_threshold_outside_the_unit_interval_is_an_error(threshold: float) -> None:
    with pytest.raises(ValueError, match="probability_threshold"):
        detected_findings(np.zeros((1, 3)), np.zeros((1, 3)), CLASSES, probability_threshold=threshold)


def test_shape_mismatches_are_errors() -> None:
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        detected_findings(np.zeros((2, 3)), np.zeros((3, 3)), CLASSES)
    with pytest.raises(ValueError, match="class names"):
        detected_findings(np.zeros((2, 2)), np.zeros((2, 2)), CLASSES)


def test_most_probable_detected_finding_picks_per_image_and_skips_images_without_one() -> None:
    probabilities = np.array([[0.8, 0.9, 0.99], [0.1, 0.2, 0.9], [0.95, 0.75, 0.0]])
    labels = np.array([[1, 1, 1], [0, 0, 1], [1, 1, 0]])
    images, classes = most_probable_detected_finding(probabilities, labels, CLASSES)
    assert images.tolist() == [0, 2]
    assert classes.tolist() == [1, 0]
