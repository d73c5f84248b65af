"""One fit loop for PyTorch classifiers: seeds, class imbalance, early stopping, history, checkpoints.

Every model in radxai outputs logits, (N, K) with K = 1 for a binary task; the loss is binary
cross-entropy with logits (one sigmoid per output, so multi-label and binary share the loop).
Datasets are map-style (``dataset[i] -> (x, y)`` with numpy arrays), as ``radxai.data.datasets``
provides. The same seed on the same machine gives the same weights and the same history.
"""

from __future__ import annotations

import copy
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from radxai.progress import EpochProgress

Augmentation = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so a run is repeatable on the same machine."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_threads(threads: int | None = None) -> int:
    """Use ``threads`` intra-op threads (default: the machine's cores); returns the number set.

    Inter-op threads are kept at 1: the models here are small sequential stacks, and extra
    inter-op threads only compete with the intra-op pool on a small machine.
    """
    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # only settable before the first parallel op; keep whatever is in place
    return threads


@dataclass
class FitConfig:
    """Settings of ``fit``.

    ``recalibrate_batch_norm``: after each epoch, recompute every batch-norm layer's running
    statistics as exact averages over the training set (see ``recalibrate_batch_norm``).
    ``positive_weight``: ``"balanced"`` weighs each output's positives by negatives/positives
    of the training labels (BCE ``pos_weight``), ``None`` leaves the loss unweighted, or give
    one number per output. ``patience``: epochs without a lower validation loss before stopping.
    """

    epochs: int = 20
    batch_size: int = 4
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5
    seed: int = 0
    positive_weight: str | Sequence[float] | None = "balanced"
    threads: int | None = None
    progress: bool = False
    recalibrate_batch_norm: bool = True


@dataclass
class History:
    """What a fit did, epoch by epoch.

    ``epochs`` holds the deterministic record (losses and accuracies: the same seed gives the
    same numbers); ``timings`` holds the wall-clock measurements of the same epochs (seconds,
    training samples per second), which vary from run to run and so are kept apart from data
    outputs that must be byte-identical.
    """

    epochs: list[dict[str, float]] = field(default_factory=list)
    timings: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_validation_loss: float = math.inf
    stopped_early: bool = False

    def to_frame(self):
        """The epochs as a pandas DataFrame indexed by epoch (losses and accuracies)."""
        import pandas as pd

        return pd.DataFrame(self.epochs).set_index("epoch")

    def as_dict(self) -> dict[str, Any]:
        """The deterministic part as a JSON-serialisable dict, for checkpoints and history files."""
        record = asdict(self)
        del record["timings"]
        return record

    def samples_per_second(self) -> float:
        """Mean training throughput over the epochs, in samples per second."""
        rates = [timing["train_samples_per_second"] for timing in self.timings]
        return float(np.mean(rates)) if rates else math.nan


def inputs_of(dataset: Any, indices: Sequence[int] | None = None) -> np.ndarray:
    """The inputs x of a map-style dataset (``dataset[i] -> (x, y, ...)``) stacked into one batch
    (N, C, *spatial), for ``indices`` in their order (default: every sample). Raises ValueError
    for an empty selection (a batch needs a sample to have a shape) and for indices that are not
    whole numbers, a boolean mask included (select with ``np.flatnonzero(mask)``)."""
    if indices is None:
        indices = range(len(dataset))
    else:
        selected = np.asarray(list(indices))
        if selected.dtype == bool or (selected.size and not np.issubdtype(selected.dtype, np.integer)):
            raise ValueError(
                f"indices must be whole numbers (positions in the dataset); got {selected.dtype} values"
                + (": a boolean mask, select with np.flatnonzero(mask)" if selected.dtype == bool else "")
            )
        indices = [int(index) for index in selected]
    if len(indices) == 0:
        raise ValueError(f"no samples selected from a dataset of {len(dataset)}: a batch needs at least one")
    return np.stack([np.asarray(dataset[index][0]) for index in indices])


def targets_of(dataset) -> np.ndarray:
    """The targets of a map-style dataset as float32 (N, K), K = 1 for a scalar label."""
    targets = [np.atleast_1d(np.asarray(dataset[index][1], dtype=np.float32)) for index in range(len(dataset))]
    return np.stack(targets)


def balanced_positive_weight(targets: np.ndarray) -> torch.Tensor:
    """negatives / positives per output for (N, K) binary targets; 1 where a class has none."""
    positives = targets.sum(axis=0)
    negatives = targets.shape[0] - positives
    weight = np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0)
    return torch.as_tensor(weight, dtype=torch.float32)


def loader(dataset, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    """A single-process DataLoader whose shuffling order is fixed by `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, num_workers=0, drop_last=False
    )


def _as_batch(targets: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    return targets.reshape(logits.shape).to(logits.dtype)


def check_fit_datasets(train_dataset: Any, validation_dataset: Any) -> None:
    """Raise ValueError with both counts unless the training and validation datasets hold samples."""
    if len(train_dataset) == 0 or len(validation_dataset) == 0:
        raise ValueError(
            f"fit needs non-empty datasets; got {len(train_dataset)} training and "
            f"{len(validation_dataset)} validation samples"
        )


def positive_weight_for(config: FitConfig, train_dataset: Any, validation_dataset: Any) -> torch.Tensor | None:
    """BCE ``pos_weight`` (K,) for ``config.positive_weight`` and the training labels: "balanced"
    (negatives / positives per output), None, or the given numbers. The datasets are checked
    first (`check_fit_datasets`), as a loss is set up before `fit_batch_losses` runs."""
    check_fit_datasets(train_dataset, validation_dataset)
    if config.positive_weight == "balanced":
        return balanced_positive_weight(targets_of(train_dataset))
    if config.positive_weight is None:
        return None
    return torch.as_tensor(config.positive_weight, dtype=torch.float32)


@dataclass(frozen=True)
class BatchLosses:
    """The loss of one batch: ``total`` (scalar, what is minimised), the model's ``logits``
    (N, K) and named ``parts`` (scalars, e.g. "classification" and "mask") for the record."""

    total: torch.Tensor
    logits: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)


# (model, batch of tensors (x, y, *companions), training) -> BatchLosses. ``training`` False
# means validation: no weight update follows, so the loss may skip graphs only training needs.
BatchLossFunction = Callable[[nn.Module, Sequence[torch.Tensor], bool], BatchLosses]

# (batch of tensors (x, y, *companions), generator) -> the batch transformed, e.g. x rotated and
# a companion mask rotated with it.
BatchAugmentation = Callable[[list[torch.Tensor], torch.Generator], list[torch.Tensor]]


class _ImagesAndLabels:
    """A view of a dataset of (x, y, *companions) as (x, y) pairs, for batch-norm recalibration."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, label = self.dataset[index][:2]
        return image, label


def _run_epoch(
    model: nn.Module,
    batches: DataLoader,
    batch_losses: BatchLossFunction,
    optimiser: torch.optim.Optimizer | None,
    augmentation: BatchAugmentation | None,
    generator: torch.Generator,
) -> tuple[dict[str, float], int]:
    """One pass over ``batches``; returns the sample-weighted mean losses and accuracy, and the count."""
    training = optimiser is not None
    model.train(training)
    sums: dict[str, float] = {}
    correct, count, seen = 0.0, 0, 0
    with torch.set_grad_enabled(training):
        for batch in batches:
            batch = list(batch)
            if training and augmentation is not None:
                batch = augmentation(batch, generator)
            losses = batch_losses(model, batch, training)
            if training:
                optimiser.zero_grad(set_to_none=True)
                losses.total.backward()
                optimiser.step()
            size = batch[0].shape[0]
            named = {"loss": losses.total, **{f"{part}_loss": term for part, term in losses.parts.items()}}
            for name, value in named.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach()) * size
            targets = _as_batch(batch[1], losses.logits)
            correct += float(((losses.logits.detach() > 0).to(targets.dtype) == targets).float().sum())
            count += targets.numel()
            seen += size
    means = {name: total / max(seen, 1) for name, total in sums.items()}
    means["accuracy"] = correct / max(count, 1)
    return means, seen


def _logits(output: Any) -> torch.Tensor:
    """The classification logits of a model output (a tensor, or an object with ``logits``)."""
    return output.logits if hasattr(output, "logits") else output


def fit_batch_losses(
    model: nn.Module,
    train_dataset: Any,
    validation_dataset: Any,
    batch_losses: BatchLossFunction,
    config: FitConfig | None = None,
    augmentation: BatchAugmentation | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
    description: str | None = None,
) -> History:
    """The fit loop: train ``model`` with Adam on ``batch_losses``; return the ``History``.

    Datasets are map-style, ``dataset[i] -> (x, y, *companions)`` with numpy arrays (x
    (C, *spatial), y (K,) or a scalar; companions such as the allowed regions of the mask loss
    or a gaze heatmap). Each epoch trains on ``train_dataset`` shuffled with the seed
    (``augmentation(batch, generator)`` transforms each training batch), recalibrates batch norm
    on its (x, y) pairs (``config.recalibrate_batch_norm``) and measures the losses on
    ``validation_dataset``. Training stops after ``config.patience`` epochs without a lower total
    validation loss; the best epoch's weights are restored (and saved to ``checkpoint`` with
    `radxai.models.save`, with the dataset's model-input record and ``checkpoint_extra``).

    Every epoch record holds train/validation ``loss`` (the total) and ``accuracy`` (logit > 0
    against the targets), plus ``{train,validation}_{part}_loss`` for each named part of the
    batch losses. ``description`` names the model in progress lines (default: its architecture).
    `fit` is this loop with binary cross-entropy; `radxai.guided` extends it with guided losses.
    """
    config = config or FitConfig()
    check_fit_datasets(train_dataset, validation_dataset)
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
    progress = EpochProgress(description or getattr(model, "architecture", type(model).__name__), config.epochs)
    for epoch in epochs:
        started = time.perf_counter()
        train_batches = loader(train_dataset, config.batch_size, True, config.seed + epoch)
        train, seen = _run_epoch(model, train_batches, batch_losses, optimiser, augmentation, augmentation_generator)
        train_seconds = time.perf_counter() - started
        if config.recalibrate_batch_norm:
            recalibrate_batch_norm(model, loader(_ImagesAndLabels(train_dataset), config.batch_size, False, 0))
        validation_batches = loader(validation_dataset, config.batch_size, False, 0)
        validation, _ = _run_epoch(model, validation_batches, batch_losses, None, None, augmentation_generator)
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
            model,
            Path(checkpoint),
            history=history.as_dict(),
            fit_config=asdict(config),
            **model_input_record(train_dataset),
            **(checkpoint_extra or {}),
        )
    return history


def fit(
    model: nn.Module,
    train_dataset,
    validation_dataset,
    config: FitConfig | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    augmentation: Augmentation | None = None,
) -> History:
    """Train ``model`` with Adam and binary cross-entropy on logits; return the ``History``.

    `fit_batch_losses` with the loss BCE-with-logits (``config.positive_weight`` weighing the
    positives) on datasets of (x, y) pairs: each epoch trains on ``train_dataset`` (shuffled
    with the seed) and measures the loss on ``validation_dataset``; the weights of the epoch
    with the lowest validation loss are restored at the end (and written to ``checkpoint``
    with ``radxai.models.save`` if given); training stops after ``config.patience`` epochs
    without improvement. ``augmentation(x, generator)`` transforms each training batch x
    (N, C, *spatial).
    """
    config = config or FitConfig()
    loss_function = nn.BCEWithLogitsLoss(pos_weight=positive_weight_for(config, train_dataset, validation_dataset))

    def batch_losses(model: nn.Module, batch: Sequence[torch.Tensor], training: bool) -> BatchLosses:
        logits = _logits(model(batch[0]))
        return BatchLosses(loss_function(logits, _as_batch(batch[1], logits)), logits)

    def augment_inputs(batch: list[torch.Tensor], generator: torch.Generator) -> list[torch.Tensor]:
        return [augmentation(batch[0], generator), *batch[1:]]

    return fit_batch_losses(
        model,
        train_dataset,
        validation_dataset,
        batch_losses,
        config,
        None if augmentation is None else augment_inputs,
        checkpoint,
    )


def model_input_record(dataset: Any) -> dict[str, Any]:
    """``{"model_input": ...}`` for `radxai.models.save` when the training dataset knows how scans
    become its inputs (a ``model_input`` attribute, `radxai.data.model_input.ModelInput`), else {}."""
    model_input = getattr(dataset, "model_input", None)
    return {} if model_input is None else {"model_input": model_input.as_dict()}


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, loader: DataLoader) -> int:
    """Replace every batch-norm layer's running mean and variance by their exact average over
    ``loader``'s batches (the model in training mode, no weight change); returns the layer count.

    Running statistics start at mean 0, variance 1 and follow the batches by exponential
    averaging (Keras momentum 0.99 = torch 0.01 in the 3D COVID-19 network). With a few batches
    per epoch and small activations they stay far from the true statistics, and evaluation-mode
    outputs collapse to one value although the training-mode outputs separate the classes.
    Recomputing them after each epoch ("precise batch norm", Wu & Johnson 2021) makes validation
    measure the network as trained.
    """
    layers = [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return 0
    was_training = model.training
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # None = cumulative average over all batches seen
    model.train()
    for inputs, _ in loader:
        model(inputs)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    model.train(was_training)
    return len(layers)


@torch.no_grad()
def predict_logits(model: nn.Module, dataset, batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, K) of ``model`` on ``dataset`` in eval mode, and the targets (N, K).

    Logits are not probabilities: compare them with 0, or use :func:`predict_probabilities`
    where a probability threshold (0.5, the X-ray work's 0.7) is meant.
    """
    logits, targets = [], []
    for inputs, batch_targets in loader(dataset, batch_size, False, 0):
        output = logits_of_batch(model, inputs.numpy())
        logits.append(output)
        targets.append(batch_targets.reshape(output.shape[0], -1).numpy())
    return np.concatenate(logits), np.concatenate(targets)


@torch.no_grad()
def logits_of_batch(model: nn.Module, inputs: np.ndarray) -> np.ndarray:
    """Logits (N, K) of ``model`` in eval mode on one batch of inputs (N, C, *spatial), e.g. a
    scan and its baselines side by side; ``predict_logits`` does this over a whole dataset."""
    model.eval()
    return _logits(model(torch.as_tensor(inputs))).reshape(len(inputs), -1).numpy()


def predict_probabilities(model: nn.Module, dataset, batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (N, K) in [0, 1] of ``model`` on ``dataset`` in eval mode, and the targets
    (N, K): one sigmoid per output, as the models are trained (binary cross-entropy on logits,
    so multi-label and single-logit binary models alike)."""
    logits, targets = predict_logits(model, dataset, batch_size)
    return sigmoid(logits), targets


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits, without overflow for large magnitudes."""
    from scipy.special import expit

    return expit(logits)


def random_rotation(max_degrees: float = 20.0) -> Augmentation:
    """An augmentation rotating each sample by a random angle in [-max_degrees, max_degrees]
    in its last two spatial axes (the axial plane of a (D, H, W) volume), bilinear, zero padded.

    The 3D COVID-19 work rotates volumes by a random angle between -20 and 20 degrees.
    """

    def rotate(inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        count, _, *spatial = inputs.shape
        angles = (torch.rand(count, generator=generator) * 2 - 1) * math.radians(max_degrees)
        cosine, sine = torch.cos(angles), torch.sin(angles)
        dims = len(spatial)
        theta = torch.zeros(count, dims, dims + 1)
        # affine_grid orders coordinates (x, y[, z]) = last spatial axis first.
        theta[:, 0, 0], theta[:, 0, 1] = cosine, -sine
        theta[:, 1, 0], theta[:, 1, 1] = sine, cosine
        if dims == 3:
            theta[:, 2, 2] = 1.0
        grid = torch.nn.functional.affine_grid(theta, list(inputs.shape), align_corners=False)
        return torch.nn.functional.grid_sample(inputs, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    return rotate
