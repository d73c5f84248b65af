"""Tests of radxai.guided.mask_loss: HiResCAM attention in the graph and the two mask-loss forms."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional

from radxai import models
from radxai.guided import mask_loss


def tiny_axialnet(classes: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    return models.build("axialnet", slice_size=(16, 16), num_classes=classes, width=0.125, blocks_per_stage=(1,))


def volumes(count: int = 3) -> torch.Tensor:
    return torch.rand(count, 1, 4, 16, 16, generator=torch.Generator().manual_seed(1))


def test_axialnet_attention_is_hirescam_and_sums_to_the_score_minus_bias() -> None:
    model = tiny_axialnet()
    inputs = volumes()
    logits, attention = mask_loss.hirescam_attention(model, inputs)
    assert attention.shape == (3, 2, 4, 4, 4)
    torch.testing.assert_close(attention.flatten(2).sum(dim=2), logits - model.classifier.bias)
    # The closed form equals the definition sum_f dS_k/dA_f * A_f taken by autograd.
    captured = []
    handle = model.conv_reduce.conv3.register_forward_hook(lambda module, args, output: captured.append(output))
    reference_logits = model(inputs)
    handle.remove()
    for index in range(2):
        (gradient,) = torch.autograd.grad(reference_logits[:, index].sum(), captured[0], retain_graph=True)
        torch.testing.assert_close(attention[:, index], (gradient * captured[0]).sum(dim=1))


def test_generic_attention_on_bodycam_is_the_pooled_weight_map() -> None:
    torch.manual_seed(0)
    model = models.build("bodycam", num_classes=2, width=0.125, blocks_per_stage=(1,))
    captured = []
    handle = model.conv_reduce.conv3.register_forward_hook(lambda module, args, output: captured.append(output))
    logits, attention = mask_loss.hirescam_attention(model, volumes())
    handle.remove()
    activations = captured[0]
    cells = activations[0, 0].numel()
    expected = torch.einsum("nfghw,kf->nkghw", activations, model.classifier.weight) / cells
    torch.testing.assert_close(attention, expected)
    torch.testing.assert_close(attention.flatten(2).sum(dim=2), logits - model.classifier.bias)
    assert attention.requires_grad


def test_unknown_layer_lists_the_convolution_layers() -> None:
    with pytest.raises(ValueError, match=r"no layer 'head'.*conv_reduce\.conv3"):
        mask_loss.hirescam_attention(tiny_axialnet(), volumes(), layer="head")


def test_paper_loss_is_zero_when_attention_stays_inside_and_positive_outside() -> None:
    allowed = torch.zeros(2, 1, 2, 3, dtype=torch.bool)
    allowed[:, :, 0] = True
    inside = torch.zeros(2, 1, 2, 3)
    inside[:, :, 0] = 5.0
    inside[:, :, 1] = -2.0  # lowering the score from a forbidden region is not penalised
    assert mask_loss.mask_loss(inside, allowed, "paper").item() == 0.0
    outside = inside.clone()
    outside[0, 0, 1, 2] = 0.5
    # -log(1 - tanh(0.5)) in sample 0, nothing in sample 1, averaged over the two samples.
    expected = -math.log(1 - math.tanh(0.5)) / 2
    assert mask_loss.mask_loss(outside, allowed, "paper").item() == pytest.approx(expected, rel=1e-6)


def test_paper_loss_stays_finite_for_large_attention() -> None:
    attention = torch.full((1, 1, 1, 1), 100.0)
    loss = mask_loss.mask_loss(attention, torch.zeros(1, 1, 1, 1, dtype=torch.bool), "paper")
    assert loss.item() == pytest.approx(200.0 - math.log(2.0))


def test_reference_loss_is_mean_softplus_over_forbidden_elements() -> None:
    generator = torch.Generator().manual_seed(0)
    attention = torch.randn(2, 2, 3, 3, generator=generator)
    allowed = torch.rand(2, 2, 3, 3, generator=generator) < 0.5
    forbidden = attention[~allowed]
    expected = functional.binary_cross_entropy_with_logits(forbidden, torch.zeros_like(forbidden))
    torch.testing.assert_close(mask_loss.mask_loss(attention, allowed, "reference"), expected)
    # Never zero: zero forbidden attention still costs log 2, and raising it costs more.
    zero = mask_loss.mask_loss(torch.zeros(1, 1, 2), torch.tensor([[[True, False]]]), "reference")
    raised = mask_loss.mask_loss(torch.tensor([[[0.0, 1.0]]]), torch.tensor([[[True, False]]]), "reference")
    assert zero.item() == pytest.approx(math.log(2.0))
    assert raised > zero


@pytest.mark.parametrize("form", mask_loss.MASK_LOSS_FORMS)
def test_no_forbidden_element_costs_nothing(form: str) -> None:
    attention = torch.randn(2, 1, 3)
    assert mask_loss.mask_loss(attention, torch.ones(2, 1, 3, dtype=torch.bool), form).item() == 0.0


@pytest.mark.parametrize("form", mask_loss.MASK_LOSS_FORMS)
def test_mask_loss_gradient_reaches_the_backbone(form: str) -> None:
    model = tiny_axialnet()
    inputs = volumes()
    allowed = torch.zeros(3, 2, 4, 16, 16, dtype=torch.bool)  # absent findings: all forbidden
    terms = mask_loss.guided_mask_loss(model, inputs, torch.zeros(3, 2), allowed, form=form)
    assert terms.mask > 0
    terms.mask.backward()
    first_convolution = model.backbone.stem.conv.weight.grad
    assert first_convolution is not None and first_convolution.abs().sum() > 0
    assert torch.isfinite(first_convolution).all()


def test_total_is_classification_plus_lambda_times_mask() -> None:
    model = tiny_axialnet()
    allowed = torch.zeros(3, 2, 4, 16, 16, dtype=torch.bool)
    allowed[..., :8] = True
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    terms = mask_loss.guided_mask_loss(model, volumes(), targets, allowed, mask_weight=0.25)
    torch.testing.assert_close(terms.total, terms.classification + 0.25 * terms.mask)
    torch.testing.assert_close(terms.classification, functional.binary_cross_entropy_with_logits(terms.logits, targets))


def test_allowed_regions_that_do_not_match_the_volume_name_both_shapes() -> None:
    allowed = torch.ones(3, 2, 4, 8, 8, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"\(3, 2, 4, 8, 8\).*\(3, 1, 4, 16, 16\)"):
        mask_loss.guided_mask_loss(tiny_axialnet(), volumes(), torch.zeros(3, 2), allowed)
    with pytest.raises(ValueError, match="1 classes; the model has 2"):
        mask_loss.guided_mask_loss(
            tiny_axialnet(), volumes(), torch.zeros(3, 2), torch.ones(3, 1, 4, 16, 16, dtype=torch.bool)
        )
    with pytest.raises(ValueError, match=r"\(2, 1, 3\) do not match the attention of shape \(2, 1, 4\)"):
        mask_loss.mask_loss(torch.zeros(2, 1, 4), torch.ones(2, 1, 3, dtype=torch.bool))


@pytest.mark.parametrize("weight", [-0.1, math.nan, math.inf, True])
def test_lambda_below_zero_or_not_finite_is_rejected(weight: float) -> None:
    allowed = torch.ones(3, 2, 4, 16, 16, dtype=torch.bool)
    with pytest.raises(ValueError, match="lambda must be a finite number >= 0"):
        mask_loss.guided_mask_loss(tiny_axialnet(), volumes(), torch.zeros(3, 2), allowed, mask_weight=weight)


def test_unknown_form_lists_the_forms() -> None:
    with pytest.raises(ValueError, match="forms: paper, reference"):
        mask_loss.mask_loss(torch.zeros(1, 1, 1), torch.ones(1, 1, 1, dtype=torch.bool), "l2")
