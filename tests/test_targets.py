"""Tests of radxai.explain.targets and of target handling through explain()."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from radxai.explain import explain
from radxai.explain.targets import (
    Targets,
    check_target,
    logits_of,
    resolve_targets,
)
from radxai.models import UNetOutput, build

LOGITS = np.array([[0.5, 2.0, -1.0], [3.0, -2.0, 0.0]])


def test_int_target_applies_to_every_sample():
    targets = resolve_targets(2, LOGITS, 2)
    assert targets.label == [2, 2]
    np.testing.assert_array_equal(targets.columns, [2, 2])
    np.testing.assert_array_equal(targets.signs, [1, 1])


def test_none_target_is_the_arg_max_per_sample():
    assert resolve_targets(None, LOGITS, 2).label == [1, 0]


def test_list_target_gives_one_class_per_sample():
    assert resolve_targets(np.array([2, 0]), LOGITS, 2).label == [2, 0]


@pytest.mark.parametrize("shape", [(3,), (3, 1)])
def test_single_logit_model_class_zero_negates_the_logit(shape):
    logits = np.array([1.5, -0.5, 0.0]).reshape(shape)
    predicted = resolve_targets(None, logits, 3)
    assert predicted.label == [1, 0, 0]  # positive logit -> class 1
    np.testing.assert_array_equal(predicted.signs, [1, -1, -1])
    np.testing.assert_array_equal(resolve_targets(1, logits, 3).signs, [1, 1, 1])


def test_out_of_range_targets_name_the_target_and_the_outputs():
    with pytest.raises(ValueError, match=r"target 3 is out of range for a model with 3 output"):
        resolve_targets(3, LOGITS, 2)
    with pytest.raises(ValueError, match=r"target -1 is out of range"):
        resolve_targets([0, -1], LOGITS, 2)
    with pytest.raises(ValueError, match=r"target 2 is out of range for a model with 1 output.*0 \(negative"):
        resolve_targets(2, np.zeros(2), 2)


def test_per_sample_targets_must_match_the_batch():
    with pytest.raises(ValueError, match=r"target has 3 entries but the batch has 2 samples"):
        check_target([0, 1, 0], 2)


@pytest.mark.parametrize("target", [1.5, "pneumonia", [[0, 1]]])
def test_other_kinds_of_target_are_rejected(target):
    with pytest.raises(TypeError, match="target must be an int class"):
        check_target(target, 2)


def test_logits_of_reads_named_tuples():
    logits = torch.zeros(2, 3)
    assert logits_of(UNetOutput(logits, torch.zeros(2, 1, 4, 4))) is logits
    assert logits_of(logits) is logits


def test_callable_target_is_labelled_by_name():
    def second_logit(output):
        return output[:, 1]

    targets = resolve_targets(second_logit, None, 2)
    assert targets.label == "second_logit"
    assert targets.rows([0, 0, 1]) is targets


def test_rows_follow_the_copied_samples():
    targets = resolve_targets([2, 0], LOGITS, 2)
    copies = targets.rows([1, 1, 0])
    assert isinstance(copies, Targets)
    assert copies.label == [0, 0, 2]
    np.testing.assert_array_equal(copies.columns, [0, 0, 2])


# --------------------------------------------------------------------------- through explain


class TinyBinary(nn.Module):
    """Conv -> ReLU -> conv (cam layer) -> global average pooling -> Linear(F, outputs)."""

    cam_layer = "features.conv2"

    def __init__(self, outputs: int = 1) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(1, 4, 3, padding=1),
                activation=nn.ReLU(),
                conv2=nn.Conv2d(4, 3, 3, padding=1),
            )
        )
        self.head = nn.Linear(3, outputs)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


def test_single_logit_target_zero_explains_the_negated_logit():
    model = TinyBinary()
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    logits = model.eval()(x)[:, 0].detach().numpy()
    positive = explain(model, x, "hirescam", target=1)
    negative = explain(model, x, "hirescam", target=0)
    np.testing.assert_allclose(positive.scores, logits, rtol=1e-5)
    np.testing.assert_allclose(negative.scores, -logits, rtol=1e-5)
    np.testing.assert_allclose(negative.raw, -positive.raw, rtol=1e-5, atol=1e-7)
    # Evidence for class 1 is evidence against class 0: positive parts swap places.
    assert negative.target == [0, 0]
    assert not np.allclose(negative.heatmaps, positive.heatmaps)


def test_none_target_explains_the_predicted_class():
    model = TinyBinary(outputs=4)
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    predicted = model.eval()(x).argmax(dim=1).tolist()
    result = explain(model, x, "gradcam")
    assert result.target == predicted
    np.testing.assert_allclose(result.scores, model(x).max(dim=1).values.detach(), rtol=1e-5)


def test_named_tuple_outputs_are_scored_on_their_logits():
    torch.manual_seed(0)
    model = build("unet_classifier", width=0.0625, depth=2, num_classes=3)
    x = torch.randn(2, 1, 8, 8)
    expected = model.eval()(x).logits[:, 2].detach().numpy()
    result = explain(model, x, "hirescam", target=2)
    np.testing.assert_allclose(result.scores, expected, rtol=1e-5)


def test_callable_targets_are_differentiated_as_given():
    model = TinyBinary(outputs=3)
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(3))

    def margin(output):
        return output[:, 2] - output[:, 0]

    result = explain(model, x, "hirescam", target=margin)
    third = explain(model, x, "hirescam", target=2)
    first = explain(model, x, "hirescam", target=0)
    assert result.target == "margin"
    # HiResCAM is linear in the score's gradient, so the margin's raw map is the difference.
    np.testing.assert_allclose(result.raw, third.raw - first.raw, rtol=1e-4, atol=1e-6)


def test_callable_target_must_return_one_score_per_sample():
    with pytest.raises(ValueError, match=r"must return a tensor of shape \(2,\)"):
        explain(TinyBinary(3), torch.zeros(2, 1, 8, 8), "gradcam", target=lambda out: out)


def test_explain_rejects_out_of_range_targets():
    with pytest.raises(ValueError, match="target 4 is out of range for a model with 3 output"):
        explain(TinyBinary(3), torch.zeros(1, 1, 8, 8), "gradcam", target=4)
    with pytest.raises(ValueError, match="target has 2 entries but the batch has 1 sample"):
        explain(TinyBinary(3), torch.zeros(1, 1, 8, 8), "saliency", target=[0, 1])
