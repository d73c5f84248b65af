"""Tests of radxai.keras_training: Keras models trained with radxai.train.fit's settings and record."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from test_train import ToyDataset
from torch import nn

from radxai import keras_training, train


def test_fit_keras_learns_and_restores_the_best_epoch() -> None:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    validation = ToyDataset(32, 1)
    history = keras_training.fit_keras(
        model, ToyDataset(64, 0), validation, train.FitConfig(epochs=8, batch_size=8, learning_rate=0.02)
    )
    losses = [epoch["validation_loss"] for epoch in history.epochs]
    assert min(losses) < losses[0]
    assert history.best_validation_loss == pytest.approx(min(losses))
    assert history.best_epoch == int(np.argmin(losses)) + 1
    inputs = np.moveaxis(validation.images, 1, -1)
    # The validation loss carries the training set's balanced positive weight, as in `fit`.
    balanced = nn.BCEWithLogitsLoss(pos_weight=train.balanced_positive_weight(ToyDataset(64, 0).targets))
    restored_loss = float(balanced(torch.as_tensor(np.asarray(model(inputs))), torch.as_tensor(validation.targets)))
    assert restored_loss == pytest.approx(min(losses), rel=1e-4)


def test_keras_batch_norm_recalibration_gives_the_training_set_statistics() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    inner = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.BatchNormalization(momentum=0.99)])
    model = keras.Sequential([keras.Input((8, 8, 1)), inner, keras.layers.Flatten(), keras.layers.Dense(1)])
    images = np.random.default_rng(0).normal(5.0, 2.0, size=(16, 8, 8, 1)).astype(np.float32)
    assert keras_training.recalibrate_keras_batch_norm(model, images, 4) == 1
    batch_norm = inner.layers[0]
    assert float(batch_norm.moving_mean.numpy()[0]) == pytest.approx(float(images.mean()), abs=1e-4)
    batch_variances = [images[start : start + 4].var() for start in range(0, 16, 4)]
    assert float(batch_norm.moving_variance.numpy()[0]) == pytest.approx(float(np.mean(batch_variances)), rel=1e-4)
    assert batch_norm.momentum == 0.99


def test_keras_fit_recalibrates_batch_norm_before_validation() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.BatchNormalization(), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    data = ToyDataset(16, 0)
    data.images = data.images * 2.0 + 5.0
    keras_training.fit_keras(model, data, ToyDataset(8, 1), train.FitConfig(epochs=1, batch_size=4, learning_rate=0.0))
    assert float(model.layers[0].moving_mean.numpy()[0]) == pytest.approx(float(data.images.mean()), abs=1e-4)


def test_keras_fit_trains_each_epoch_on_its_own_seeded_permutation(monkeypatch) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    data = ToyDataset(16, 0)
    data.images[:, 0, 0, 0] = np.arange(16)  # each sample's index, readable from what fit receives

    def orders(seed: int) -> list[list[int]]:
        seen: list[list[int]] = []
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
        original_fit = model.fit

        def recording_fit(inputs, *arguments, **options):
            seen.append([int(value) for value in inputs[:, 0, 0, 0]])
            assert options["shuffle"] is False
            return original_fit(inputs, *arguments, **options)

        monkeypatch.setattr(model, "fit", recording_fit)
        keras_training.fit_keras(
            model,
            data,
            ToyDataset(8, 1),
            train.FitConfig(epochs=3, batch_size=4, learning_rate=0.0, patience=5, seed=seed),
        )
        return seen

    first, again, other_seed = orders(3), orders(3), orders(4)
    assert all(sorted(order) == list(range(16)) for order in first)
    assert first[0] != first[1] != first[2]
    assert first == again and first != other_seed


def test_keras_validation_loss_carries_the_positive_weight_as_fit_does() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    data, validation = ToyDataset(24, 0), ToyDataset(12, 1)
    history = keras_training.fit_keras(
        model, data, validation, train.FitConfig(epochs=1, batch_size=4, learning_rate=0.0, positive_weight=3.0)
    )
    logits = torch.as_tensor(np.asarray(model(np.moveaxis(validation.images, 1, -1))))
    expected = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([3.0]))(logits, torch.as_tensor(validation.targets))
    assert history.epochs[0]["validation_loss"] == pytest.approx(float(expected), rel=1e-5)
