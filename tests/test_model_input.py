"""Tests of radxai.data.model_input: what a checkpoint records about its input, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from radxai.data import preprocess
from radxai.data.model_input import CT_CLASS_NAMES, ModelInput, ModelInputError


def test_a_ct_record_prepares_a_scan_as_training_did_and_survives_a_round_trip() -> None:
    model_input = ModelInput.for_ct((8, 12, 12), "covid")
    hu = np.random.default_rng(0).uniform(-1200, 600, size=(10, 20, 20))
    np.testing.assert_array_equal(model_input.prepare(hu)[0, 0], preprocess.preprocess_ct(hu, (8, 12, 12), "covid"))
    assert ModelInput.from_dict(model_input.as_dict(), "model.pt") == model_input
    assert model_input.class_index("COVID-19 (CT-1 to CT-4)") == 1 and model_input.class_index("0") == 0
    assert model_input.class_names == CT_CLASS_NAMES


def test_a_missing_or_incomplete_record_says_what_is_missing() -> None:
    with pytest.raises(ModelInputError, match=r"old\.pt does not record how scans become its input"):
        ModelInput.from_dict(None, "old.pt")
    record = ModelInput.for_xray((32, 32), ["A", "B"]).as_dict()
    del record["class_names"]
    with pytest.raises(ModelInputError, match=r"model\.pt: its input record lacks class_names"):
        ModelInput.from_dict(record, "model.pt")


def test_bad_records_scans_and_classes_are_refused() -> None:
    with pytest.raises(ModelInputError, match="unknown modality 'mri'"):
        ModelInput("mri", (8, 8), ("a",), "one logit per class (multi-label, sigmoid)")
    with pytest.raises(ModelInputError, match="needs its HU window"):
        ModelInput("ct", (8, 8, 8), CT_CLASS_NAMES, "one logit: class 1 scores it, class 0 its negative")
    xray = ModelInput.for_xray((32, 32), ["A", "B"])
    with pytest.raises(ModelInputError, match=r"takes an \(H, W\) image; got an array of shape \(4, 32, 32\)"):
        xray.prepare(np.zeros((4, 32, 32)))
    with pytest.raises(ModelInputError, match="unknown class 'C'; classes: A, B"):
        xray.class_index("C")
    with pytest.raises(ModelInputError, match=r"class index 2 is outside 0\.\.1"):
        xray.class_index(2)
