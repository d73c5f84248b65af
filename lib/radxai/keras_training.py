"""Training Keras models with the settings and record of `radxai.train.fit`.

`fit_keras` trains a Keras model (the 3D CNN's Keras twin, `radxai.models.keras_cnn3d`) on the
same channel-first datasets as `radxai.train.fit`, with the same `FitConfig` (``weight_decay``,
``threads`` and ``progress`` are not used: Keras' Adam and thread pool keep their own) and `History`:
seeded permutations per epoch, balanced positive weights (as per-sample weights, in the
validation loss too), batch-norm statistics recalibrated on the training set before each
validation, early stopping with the best weights restored. TensorFlow is imported on first use.
"""

from __future__ import annotations

import time

import numpy as np

from radxai.progress import EpochProgress
from radxai.train import FitConfig, History, balanced_positive_weight, inputs_of, targets_of

__all__ = ["fit_keras", "recalibrate_keras_batch_norm"]


def _arrays_of(dataset) -> tuple[np.ndarray, np.ndarray]:
    return inputs_of(dataset).astype(np.float32, copy=False), targets_of(dataset)


def fit_keras(model, train_dataset, validation_dataset, config: FitConfig | None = None) -> History:
    """Train a Keras model (logit outputs) with the settings of `radxai.train.fit`; return its ``History``.

    Inputs come channel-first from the datasets, as everywhere in radxai, and are moved to
    channels-last here, at the Keras edge. The loss is binary cross-entropy on logits; a
    ``"balanced"`` positive weight becomes Keras per-sample weights, in the validation loss too.
    As in `radxai.train.fit`, each epoch trains on its own permutation of the training set (drawn from
    ``config.seed``), then (``config.recalibrate_batch_norm``) recomputes the batch-norm statistics over the
    training set (`recalibrate_keras_batch_norm`), then measures the validation loss; the weights
    of the epoch with the lowest validation loss are restored and training stops after
    ``config.patience`` epochs without improvement.
    """
    from radxai.models.keras_backend import import_keras

    keras = import_keras()
    import tensorflow

    config = config or FitConfig()
    if len(train_dataset) == 0 or len(validation_dataset) == 0:
        raise ValueError(
            f"fit_keras needs non-empty datasets; got {len(train_dataset)} training and "
            f"{len(validation_dataset)} validation samples"
        )
    keras.utils.set_random_seed(config.seed)
    # Same seed, same weights: TensorFlow otherwise may pick non-deterministic kernels.
    tensorflow.config.experimental.enable_op_determinism()
    train_inputs, train_targets = _arrays_of(train_dataset)
    validation_inputs, validation_targets = _arrays_of(validation_dataset)
    train_inputs, validation_inputs = np.moveaxis(train_inputs, 1, -1), np.moveaxis(validation_inputs, 1, -1)
    sample_weight = validation_weight = None
    if config.positive_weight is not None:
        weights = (
            balanced_positive_weight(train_targets).numpy()
            if config.positive_weight == "balanced"
            else np.asarray(config.positive_weight, dtype=np.float32)
        )
        # Keras has no per-output pos_weight; a sample weighs as its positive labels' mean weight.
        # The validation loss is weighted alike, as `radxai.train.fit` measures it with the training loss.
        sample_weight, validation_weight = (
            np.where(targets > 0.5, weights, 1.0).mean(axis=1) for targets in (train_targets, validation_targets)
        )
    # One permutation per epoch drawn from the seed, as `fit`'s loader does, rather than Keras'
    # own shuffling, whose order depends on how its random state was consumed before.
    order_generator = np.random.default_rng(config.seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
    )
    progress = EpochProgress(f"Keras {model.name}", config.epochs)
    history = History()
    best_weights = model.get_weights()
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        order = order_generator.permutation(len(train_inputs))
        trained = model.fit(
            train_inputs[order],
            train_targets[order],
            sample_weight=None if sample_weight is None else sample_weight[order],
            batch_size=config.batch_size,
            shuffle=False,
            verbose=0,
        )
        train_seconds = time.perf_counter() - started
        if config.recalibrate_batch_norm:
            recalibrate_keras_batch_norm(model, train_inputs, config.batch_size)
        validation_loss, validation_accuracy = model.evaluate(
            validation_inputs,
            validation_targets,
            sample_weight=validation_weight,
            batch_size=config.batch_size,
            verbose=0,
        )
        train_loss = float(trained.history["loss"][0])
        history.epochs.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "validation_loss": float(validation_loss),
                "train_accuracy": float(trained.history["accuracy"][0]),
                "validation_accuracy": float(validation_accuracy),
            }
        )
        history.timings.append(
            {
                "epoch": epoch,
                "seconds": time.perf_counter() - started,
                "train_samples_per_second": len(train_dataset) / max(train_seconds, 1e-9),
            }
        )
        progress.epoch_done(epoch, train_loss=train_loss, validation_loss=float(validation_loss))
        if validation_loss < history.best_validation_loss:
            history.best_validation_loss = float(validation_loss)
            history.best_epoch = epoch
            best_weights = model.get_weights()
        elif epoch - history.best_epoch >= config.patience:
            history.stopped_early = True
            break
    model.set_weights(best_weights)
    return history


def recalibrate_keras_batch_norm(model, inputs: np.ndarray, batch_size: int) -> int:
    """The Keras counterpart of `recalibrate_batch_norm`: set every ``BatchNormalization`` layer's
    moving mean and variance to their average over the batches of ``inputs`` (channels-last,
    (N, *spatial, C), in order, ``batch_size`` per batch); returns the layer count.

    Keras's ``fit`` updates the moving statistics only by exponential averaging (momentum 0.99),
    which after a few dozen batches per epoch is still far from the data: that left the Keras
    twin of the 3D network with a validation loss rising from the first epoch. Each batch here
    is run in training mode with the momentum set to (k - 1) / k for the k-th batch, so the moving
    statistics end as the plain mean over the batches (the layers' weights do not change).
    """
    from radxai.models.keras_backend import import_keras

    keras = import_keras()
    layers = [
        layer
        for layer in _keras_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
    ]
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    try:
        for batch, start in enumerate(range(0, len(inputs), batch_size), start=1):
            for layer in layers:
                layer.momentum = (batch - 1) / batch
            model(inputs[start : start + batch_size], training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return len(layers)


def _keras_layers(model) -> list:
    """Every layer of a Keras model, nested models' layers included, in order."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(_keras_layers(layer))
    return found
