"""The HiResCAM mask loss: L = L_class + lambda * L_mask (Draelos & Carin, sections 3.3-3.6).

Attention. For class k, the HiResCAM attention at the last convolutional layer is
a_k = sum_f dS_k/dA_f * A_f (before any ReLU or normalisation; S_k the class logit), one value
per element of the layer's grid: (N, K, *grid), e.g. (N, K, G, h, w) for AxialNet's slice
groups. It is computed inside the training graph, so the mask loss trains every weight that
shapes A (the backbone included):

- AxialNet (`radxai.models.AxialNet`) at its ``cam_layer``: the paper's closed form. The
  volume score is S_k = (1/G) sum_g w_k . z_g + b_k, so dS_k/dZ = w_k / G (equation 7) and
  a_k = (1/G) sum_f w_kf * Z_f, the elementwise product of the fully connected weights with the
  representation Z (equation 8), no gradient computation needed. Summed over the grid it is
  S_k - b_k.
- Any other model or layer: the gradient of each class logit (summed over the batch) with
  respect to the captured activations, by ``torch.autograd.grad(create_graph=True)``, one call
  per class. Summing over the batch gives each sample its own gradient only if the layers
  after ``layer`` treat samples independently (no batch norm in training mode after it), as
  the heads of AxialNet, BodyCAM, the 3D CNN and the U-Net classifier do.

Mask loss. Forbidden elements are those where the allowed region (see
`radxai.guided.allowed_regions`) is False. Two forms, named:

- ``"paper"``: L_mask = -sum_{forbidden} log(1 - a), equation 11, summed over a sample's
  forbidden elements of all classes and averaged over the batch. The equation needs a in
  [0, 1); the paper does not say how raw attention gets there. Here a = tanh(ReLU(raw)): only
  attention that raises the score counts (the ReLU of HiResCAM), and tanh maps it into [0, 1).
  Then -log(1 - a) = softplus(2 r) - log 2 with r = ReLU(raw), computed in that stable form:
  zero when no forbidden element raises the score, growing like 2 r for large attention. The
  sum makes the loss scale with the number of forbidden elements (grid size times classes).
- ``"reference"``: L_mask = mean over the batch's forbidden elements of softplus(raw), which is
  what the authors' code computes (binary cross-entropy with logits of the raw attention
  against 0). It squashes by a sigmoid instead (softplus(raw) = -log(1 - sigmoid(raw))) and
  takes the mean instead of the sum. It is never zero (softplus(0) = log 2) and keeps pushing
  forbidden attention towards minus infinity: it penalises raw attention without bound and
  also rewards forbidden regions that lower the score, where the paper's form is satisfied
  once forbidden regions stop raising it. Being a mean, its lambda means the same whatever
  the grid size.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

from radxai.explain.targets import logits_of
from radxai.guided.allowed_regions import downsample_to_grid
from radxai.models.axialnet import AxialNet

__all__ = [
    "MASK_LOSS_FORMS",
    "DEFAULT_MASK_WEIGHT",
    "MaskLossTerms",
    "hirescam_attention",
    "mask_loss",
    "classification_and_mask_loss",
    "guided_mask_loss",
]

MASK_LOSS_FORMS: tuple[str, ...] = ("paper", "reference")
DEFAULT_MASK_WEIGHT = 1.0 / 3.0  # lambda of the HiResCAM work


@dataclass(frozen=True)
class MaskLossTerms:
    """The losses of one batch, scalar tensors: ``total`` = classification + lambda * mask.

    ``logits`` (N, K) are the model's outputs for the batch, for accuracy and logging.
    """

    total: torch.Tensor
    classification: torch.Tensor
    mask: torch.Tensor
    logits: torch.Tensor


@contextmanager
def _captured_output(model: nn.Module, layer: str) -> Iterator[list[torch.Tensor]]:
    """Collects the output of ``layer`` during the block's forward pass; the hook is removed on exit."""
    modules = dict(model.named_modules())
    if layer not in modules or layer == "":
        convolutions = [
            name for name, module in model.named_modules() if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d))
        ]
        raise ValueError(
            f"{type(model).__name__} has no layer {layer!r}; convolution layers: {', '.join(convolutions)}"
        )
    outputs: list[torch.Tensor] = []
    handle = modules[layer].register_forward_hook(lambda module, args, output: outputs.append(output))
    try:
        yield outputs
    finally:
        handle.remove()


def hirescam_attention(
    model: nn.Module, inputs: torch.Tensor, layer: str | None = None, create_graph: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass: logits (N, K) and HiResCAM attention (N, K, *grid) at ``layer``.

    inputs: (N, C, *spatial). layer: a module name, or None for the model's ``cam_layer``;
    an unknown name raises ValueError listing the convolution layers. The attention is the raw
    sum_f G_f * A_f, no ReLU, no normalisation (see the module docstring for AxialNet's closed
    form). create_graph: keep the graph of the generic path's gradients (needed to train on
    the attention; the closed form is differentiable whenever autograd records).
    """
    layer = layer if layer is not None else getattr(model, "cam_layer", None)
    if layer is None:
        raise ValueError(f"{type(model).__name__} has no cam_layer; name the layer to take attention at")
    closed_form = isinstance(model, AxialNet) and layer == AxialNet.cam_layer
    # The closed form needs no gradient, so under no_grad (validation) it builds no graph.
    gradients = nullcontext() if closed_form else torch.enable_grad()
    with _captured_output(model, layer) as outputs, gradients:
        logits = logits_of(model(inputs))
        if logits.ndim == 1:
            logits = logits[:, None]
        if len(outputs) != 1:
            raise ValueError(f"layer {layer!r} ran {len(outputs)} times in one forward pass; it needs to run once")
        activations = outputs[0]
        if closed_form:
            groups = activations.shape[2]
            weights = model.classifier.weight.reshape(logits.shape[1], activations.shape[1], *activations.shape[3:])
            attention = torch.einsum("nfghw,kfhw->nkghw", activations, weights) / groups
        else:
            per_class = []
            for index in range(logits.shape[1]):
                (gradient,) = torch.autograd.grad(
                    logits[:, index].sum(), activations, create_graph=create_graph, retain_graph=True
                )
                per_class.append((gradient * activations).sum(dim=1))
            attention = torch.stack(per_class, dim=1)
    return logits, attention


def _check_mask_weight(mask_weight: float) -> float:
    if (
        isinstance(mask_weight, bool)
        or not isinstance(mask_weight, numbers.Real)
        or not (math.isfinite(mask_weight) and mask_weight >= 0)
    ):
        raise ValueError(f"the mask-loss weight lambda must be a finite number >= 0, got {mask_weight!r}")
    return float(mask_weight)


def _check_form(form: str) -> str:
    if form not in MASK_LOSS_FORMS:
        raise ValueError(f"unknown mask-loss form {form!r}; forms: {', '.join(MASK_LOSS_FORMS)}")
    return form


def mask_loss(attention: torch.Tensor, allowed: torch.Tensor, form: str = "paper") -> torch.Tensor:
    """L_mask of raw attention (N, K, *grid) outside the allowed regions (N, K, *grid), bool.

    form: "paper" (-sum log(1 - tanh(ReLU(a))) per sample, averaged over samples) or
    "reference" (mean softplus(a) over the batch's forbidden elements); see the module
    docstring. A batch without forbidden elements has loss 0. Raises ValueError when the
    shapes differ (naming both) or for an unknown form.
    """
    _check_form(form)
    if tuple(attention.shape) != tuple(allowed.shape):
        raise ValueError(
            f"allowed regions of shape {tuple(allowed.shape)} do not match the attention of shape "
            f"{tuple(attention.shape)} (N, K, *grid)"
        )
    forbidden = ~allowed.bool()
    if form == "paper":
        raised = attention.clamp(min=0)
        per_element = functional.softplus(2 * raised) - math.log(2.0)
        return (per_element * forbidden).flatten(1).sum(dim=1).mean()
    count = forbidden.sum()
    if count == 0:
        return attention.sum() * 0.0
    return (functional.softplus(attention) * forbidden).sum() / count


def classification_and_mask_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    attention: torch.Tensor,
    allowed: torch.Tensor,
    mask_weight: float = DEFAULT_MASK_WEIGHT,
    form: str = "paper",
    positive_weight: torch.Tensor | None = None,
) -> MaskLossTerms:
    """L = BCE-with-logits(logits, targets) + lambda * L_mask(attention, allowed).

    logits and targets (N, K); attention and allowed (N, K, *grid); positive_weight (K,) as
    BCE's ``pos_weight`` or None. mask_weight is lambda (1/3 in the HiResCAM work); lambda < 0
    (or not finite) raises ValueError.
    """
    mask_weight = _check_mask_weight(mask_weight)
    targets = targets.reshape(logits.shape).to(logits.dtype)
    classification = functional.binary_cross_entropy_with_logits(logits, targets, pos_weight=positive_weight)
    mask = mask_loss(attention, allowed, form)
    return MaskLossTerms(classification + mask_weight * mask, classification, mask, logits)


def guided_mask_loss(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    allowed: torch.Tensor,
    mask_weight: float = DEFAULT_MASK_WEIGHT,
    form: str = "paper",
    layer: str | None = None,
    positive_weight: torch.Tensor | None = None,
    create_graph: bool = True,
) -> MaskLossTerms:
    """The mask loss of one batch, from the volumes up: forward pass, attention, regions, losses.

    inputs: (N, C, *spatial) volumes. targets: (N, K) (or (N,) for K = 1). allowed: bool
    (N, K, *spatial), each class's allowed region at the volume's resolution (an absent class
    all False); it is downsampled to the attention grid by nearest neighbour. Raises ValueError
    when allowed does not match the volume (naming both shapes), for lambda < 0 or an unknown
    form or layer. create_graph=False skips the gradient graph of the generic attention path
    (validation).
    """
    mask_weight = _check_mask_weight(mask_weight)
    _check_form(form)
    if allowed.ndim != inputs.ndim or allowed.shape[0] != inputs.shape[0] or allowed.shape[2:] != inputs.shape[2:]:
        raise ValueError(
            f"allowed regions of shape {tuple(allowed.shape)} do not match the volume of shape "
            f"{tuple(inputs.shape)}: expected (N, K, *spatial) = ({inputs.shape[0]}, K, "
            f"{', '.join(str(size) for size in inputs.shape[2:])})"
        )
    logits, attention = hirescam_attention(model, inputs, layer, create_graph)
    if allowed.shape[1] != logits.shape[1]:
        raise ValueError(
            f"allowed regions of shape {tuple(allowed.shape)} have {allowed.shape[1]} classes; "
            f"the model has {logits.shape[1]}"
        )
    regions = downsample_to_grid(allowed, attention.shape[2:])
    return classification_and_mask_loss(logits, targets, attention, regions, mask_weight, form, positive_weight)
