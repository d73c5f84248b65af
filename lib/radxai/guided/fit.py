"""Training loops for explanation-guided losses, with the settings and record of `radxai.train.fit`.

`fit_guided` is `radxai.train.fit`'s loop (Adam, seeded shuffling, batch-norm recalibration,
early stopping on the validation loss, best weights restored, optional checkpoint) for a loss
that needs more than logits and labels: the datasets give ``(x, y, companion)`` triples (the
allowed regions of the mask loss, or a gaze heatmap), an augmentation transforms x and the
companion together, and the loss of a batch is a function of the model and the whole batch.
It reuses `radxai.train`'s helpers (`FitConfig`, `History`, seeding, threads, positive
weights, batch-norm recalibration), so a guided model is trained and recorded like any other:
with the guidance weighted by zero, `fit_mask_loss` reproduces `radxai.train.fit` exactly.

`fit_mask_loss` trains a model (AxialNet in the HiResCAM work) with L = L_class + lambda *
L_mask (`radxai.guided.mask_loss`).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from radxai.guided.mask_loss import DEFAULT_MASK_WEIGHT, _check_form, _check_mask_weight, guided_mask_loss
from radxai.progress import EpochProgress
from radxai.train import (
    FitConfig,
    History,
    balanced_positive_weight,
    loader,
    recalibrate_batch_norm,
    seed_everything,
    set_threads,
    targets_of,
)

__all__ = ["BatchLosses", "BatchLossFunction", "JointAugmenter", "positive_weight_for", "fit_guided", "fit_mask_loss"]

JointAugmenter = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class BatchLosses:
    """The loss of one batch: ``total`` (scalar, what is minimised), the model's ``logits``
    (N, K) and named ``parts`` (scalars, e.g. "classification" and "mask") for the record."""

    total: torch.Tensor
    logits: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)


# (model, batch of tensors (x, y, companion), training) -> BatchLosses. ``training`` False means
# validation: no weight update follows, so the loss may skip graphs only training needs.
BatchLossFunction = Callable[[nn.Module, Sequence[torch.Tensor], bool], BatchLosses]


def positive_weight_for(config: FitConfig, train_dataset: Any) -> torch.Tensor | None:
    """BCE ``pos_weight`` (K,) of ``config.positive_weight`` for the training labels, as
    `radxai.train.fit` uses it: "balanced" (negatives / positives), None, or given numbers."""
    if config.positive_weight == "balanced":
        return balanced_positive_weight(targets_of(train_dataset))
    if config.positive_weight is None:
        return None
    return torch.as_tensor(config.positive_weight, dtype=torch.float32)


class _ImagesAndLabels:
    """A view of a triple dataset as (x, y) pairs, for batch-norm recalibration."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, label = self.dataset[index][:2]
        return image, label


def _run_epoch(
    model: nn.Module,
    loader: Any,
    batch_losses: BatchLossFunction,
    optimiser: torch.optim.Optimizer | None,
    augmentation: JointAugmenter | None,
    generator: torch.Generator,
) -> tuple[dict[str, float], int]:
    """One pass over ``loader``; returns sample-weighted mean losses, accuracy, and the count."""
    training = optimiser is not None
    model.train(training)
    sums: dict[str, float] = {}
    correct, count, seen = 0.0, 0, 0
    with torch.set_grad_enabled(training):
        for batch in loader:
            batch = list(batch)
            if training and augmentation is not None:
                batch[0], batch[2] = augmentation(batch[0], batch[2], generator)
            losses = batch_losses(model, batch, training)
            if training:
                optimiser.zero_grad(set_to_none=True)
                losses.total.backward()
                optimiser.step()
            size = batch[0].shape[0]
            named = {"loss": losses.total, **{f"{part}_loss": term for part, term in losses.parts.items()}}
            for name, value in named.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach()) * size
            targets = batch[1].reshape(losses.logits.shape).to(losses.logits.dtype)
            correct += float(((losses.logits.detach() > 0).to(targets.dtype) == targets).float().sum())
            count += targets.numel()
            seen += size
    means = {name: total / max(seen, 1) for name, total in sums.items()}
    means["accuracy"] = correct / max(count, 1)
    return means, seen


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
    """Train ``model`` with Adam on ``batch_losses``; return a `radxai.train.History`.

    Datasets: ``dataset[i] -> (x, y, companion)`` numpy arrays (x (C, *spatial), y (K,),
    companion (K', *spatial)). Each epoch trains on ``train_dataset`` shuffled with the seed,
    recalibrates batch norm (``config.recalibrate_batch_norm``) and measures the losses on
    ``validation_dataset``; training stops after ``config.patience`` epochs without a lower
    total validation loss and the best epoch's weights are restored (and saved to
    ``checkpoint`` with `radxai.models.save`, with ``checkpoint_extra`` entries, if given).
    ``augmentation(x, companion, generator)`` transforms training batches (e.g.
    `radxai.guided.allowed_regions.JointAugmentation`).

    Every epoch record holds train/validation ``loss`` (total) and ``accuracy`` as
    `radxai.train.fit`'s, plus ``{train,validation}_{part}_loss`` for each named part.
    """
    config = config or FitConfig()
    if len(train_dataset) == 0 or len(validation_dataset) == 0:
        raise ValueError(
            f"fit needs non-empty datasets; got {len(train_dataset)} training and "
            f"{len(validation_dataset)} validation samples"
        )
    set_threads(config.threads)
    seed_everything(config.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    augmentation_generator = torch.Generator().manual_seed(config.seed + 1)
    history = History()
    best_state = copy.deepcopy(model.state_dict())
    epochs: Any = range(1, config.epochs + 1)
    if config.progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc="epochs")
    progress = EpochProgress(f"{getattr(model, 'architecture', type(model).__name__)} (guided)", config.epochs)
    for epoch in epochs:
        started = time.perf_counter()
        train_loader = loader(train_dataset, config.batch_size, True, config.seed + epoch)
        train, seen = _run_epoch(model, train_loader, batch_losses, optimiser, augmentation, augmentation_generator)
        train_seconds = time.perf_counter() - started
        if config.recalibrate_batch_norm:
            recalibrate_batch_norm(model, loader(_ImagesAndLabels(train_dataset), config.batch_size, False, 0))
        validation, _ = _run_epoch(
            model,
            loader(validation_dataset, config.batch_size, False, 0),
            batch_losses,
            None,
            None,
            augmentation_generator,
        )
        record: dict[str, float] = {
            "epoch": epoch,
            "train_loss": train["loss"],
            "validation_loss": validation["loss"],
            "train_accuracy": train["accuracy"],
            "validation_accuracy": validation["accuracy"],
        }
        for name in sorted(set(train) - {"loss", "accuracy"}):
            record[f"train_{name}"] = train[name]
            record[f"validation_{name}"] = validation[name]
        history.epochs.append(record)
        history.timings.append(
            {
                "epoch": epoch,
                "seconds": time.perf_counter() - started,
                "train_samples_per_second": seen / max(train_seconds, 1e-9),
            }
        )
        progress.epoch_done(epoch, train_loss=train["loss"], validation_loss=validation["loss"])
        if validation["loss"] < history.best_validation_loss:
            history.best_validation_loss = validation["loss"]
            history.best_epoch = epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - history.best_epoch >= config.patience:
            history.stopped_early = True
            break
    model.load_state_dict(best_state)
    model.eval()
    if checkpoint is not None:
        from radxai import models

        models.save(
            model, Path(checkpoint), history=history.as_dict(), fit_config=asdict(config), **(checkpoint_extra or {})
        )
    return history


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
    positive_weight = positive_weight_for(config, train_dataset)

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
