"""Guided training on `radxai.train`'s one fit loop, and the mask-loss training.

`fit_guided` is `radxai.train.fit_batch_losses` (Adam, seeded shuffling, batch-norm
recalibration, early stopping on the validation loss, best weights restored, optional
checkpoint) for datasets of ``(x, y, companion)`` triples (the allowed regions of the mask loss,
or a gaze heatmap), with an augmentation that moves x and the companion together. A guided
model is therefore trained and recorded like any other: with the guidance weighted by zero,
`fit_mask_loss` reproduces `radxai.train.fit` exactly.

`fit_mask_loss` trains a model (AxialNet in the HiResCAM work) with L = L_class + lambda *
L_mask (`radxai.guided.mask_loss`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from radxai.guided.mask_loss import DEFAULT_MASK_WEIGHT, _check_form, _check_mask_weight, guided_mask_loss
from radxai.train import (
    BatchLosses,
    BatchLossFunction,
    FitConfig,
    History,
    fit_batch_losses,
    positive_weight_for,
)

__all__ = ["JointAugmenter", "fit_guided", "fit_mask_loss"]

JointAugmenter = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def fit_guided(
    model: nn.Module,
    train_dataset: Any,
    validation_dataset: Any,
    batch_losses: BatchLossFunction,
    config: FitConfig | None = None,
    augmentation: JointAugmenter | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
) -> History:
    """Train ``model`` on ``batch_losses`` with `radxai.train.fit_batch_losses`; return its `History`.

    Datasets: ``dataset[i] -> (x, y, companion)`` numpy arrays (x (C, *spatial), y (K,),
    companion (K', *spatial)). ``augmentation(x, companion, generator)`` transforms training
    batches, both tensors alike (e.g. `radxai.guided.allowed_regions.JointAugmentation`).
    ``checkpoint_extra`` entries are stored in the checkpoint beside the history. Every epoch
    record holds train/validation ``loss`` (total) and ``accuracy``, plus
    ``{train,validation}_{part}_loss`` for each named part of the batch losses.
    """

    def augment_jointly(batch: list[torch.Tensor], generator: torch.Generator) -> list[torch.Tensor]:
        inputs, companion = augmentation(batch[0], batch[2], generator)
        return [inputs, batch[1], companion, *batch[3:]]

    description = f"{getattr(model, 'architecture', type(model).__name__)} (guided)"
    return fit_batch_losses(
        model,
        train_dataset,
        validation_dataset,
        batch_losses,
        config,
        None if augmentation is None else augment_jointly,
        checkpoint,
        checkpoint_extra,
        description,
    )


def fit_mask_loss(
    model: nn.Module,
    train_dataset: Any,
    validation_dataset: Any,
    config: FitConfig | None = None,
    mask_weight: float = DEFAULT_MASK_WEIGHT,
    form: str = "paper",
    layer: str | None = None,
    augmentation: JointAugmenter | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
) -> History:
    """Train with L = BCE-with-logits + lambda * L_mask (HiResCAM attention outside allowed regions).

    Datasets give ``(x, y, allowed)``: x float32 (1, D, H, W), y (K,), allowed bool
    (K, D, H, W) at the volume's resolution (`radxai.guided.allowed_regions.AllowedRegionDataset`).
    mask_weight: lambda (1/3 as in the HiResCAM work; < 0 raises ValueError). form: "paper" or
    "reference" (see `radxai.guided.mask_loss`). layer: where attention is taken (None: the
    model's ``cam_layer``). Validation losses include the mask loss, so early stopping weighs
    both. The epoch records add ``{train,validation}_classification_loss`` and
    ``{train,validation}_mask_loss``; a checkpoint also stores ``mask_loss`` (lambda, form,
    layer).
    """
    config = config or FitConfig()
    mask_weight = _check_mask_weight(mask_weight)
    _check_form(form)
    positive_weight = positive_weight_for(config, train_dataset, validation_dataset)

    def batch_losses(model: nn.Module, batch: Sequence[torch.Tensor], training: bool) -> BatchLosses:
        inputs, targets, allowed = batch
        terms = guided_mask_loss(
            model, inputs, targets, allowed, mask_weight, form, layer, positive_weight, create_graph=training
        )
        return BatchLosses(terms.total, terms.logits, {"classification": terms.classification, "mask": terms.mask})

    return fit_guided(
        model,
        train_dataset,
        validation_dataset,
        batch_losses,
        config,
        augmentation,
        checkpoint,
        {"mask_loss": {"mask_weight": mask_weight, "form": form, "layer": layer}},
    )
