"""Tests of radxai.train on tiny models and separable toy data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from radxai import train


class ToyDataset:
    """Images whose label is whether the left half is brighter than the right (2D, 1 channel)."""

    def __init__(self, count: int, seed: int, outputs: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.images = rng.normal(size=(count, 1, 8, 8)).astype(np.float32)
        labels = rng.random(count) < 0.5
        self.images[labels, :, :, :4] += 1.5
        self.targets = np.repeat(labels[:, None], outputs, axis=1).astype(np.float32)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        return self.images[index], self.targets[index]


def tiny_model(outputs: int = 1) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 2)), nn.Flatten(), nn.Linear(8, outputs)
    )


def test_fit_learns_a_separable_task() -> None:
    model = tiny_model()
    data, validation = ToyDataset(64, 0), ToyDataset(32, 1)
    history = train.fit(model, data, validation, train.FitConfig(epochs=15, batch_size=8, learning_rate=0.05))
    frame = history.to_frame()
    assert frame["validation_loss"].min() < frame["validation_loss"].iloc[0]
    logits, targets = train.predict_logits(model, validation)
    accuracy = ((logits > 0) == (targets > 0.5)).mean()
    assert accuracy > 0.85
    assert logits.shape == (32, 1)
    assert history.best_validation_loss == pytest.approx(frame["validation_loss"].min())


def test_same_seed_same_weights_and_history() -> None:
    runs = []
    for _ in range(2):
        model = tiny_model()
        history = train.fit(
            model, ToyDataset(32, 0), ToyDataset(16, 1), train.FitConfig(epochs=3, batch_size=8, seed=5)
        )
        runs.append(
            (
                [epoch["train_loss"] for epoch in history.epochs],
                [parameter.detach().clone() for parameter in model.parameters()],
            )
        )
    assert runs[0][0] == runs[1][0]
    for first, second in zip(runs[0][1], runs[1][1]):
        assert torch.equal(first, second)


def test_early_stopping_when_validation_loss_stops_improving() -> None:
    model = tiny_model()
    history = train.fit(
        model,
        ToyDataset(16, 0),
        ToyDataset(8, 1),
        train.FitConfig(epochs=10, learning_rate=0.0, weight_decay=0.0, patience=2),
    )
    assert history.stopped_early
    assert len(history.epochs) == 3 and history.best_epoch == 1


def test_multi_label_targets_and_balanced_weights() -> None:
    targets = np.array([[1, 0], [0, 0], [0, 1], [0, 0]], dtype=np.float32)
    np.testing.assert_allclose(train.balanced_positive_weight(targets).numpy(), [3.0, 3.0])
    np.testing.assert_allclose(train.balanced_positive_weight(np.zeros((3, 1))).numpy(), [1.0])
    model = tiny_model(outputs=3)
    history = train.fit(model, ToyDataset(16, 0, outputs=3), ToyDataset(8, 1, outputs=3), train.FitConfig(epochs=2))
    assert len(history.epochs) == 2


def test_empty_dataset_is_refused_with_the_counts() -> None:
    with pytest.raises(ValueError, match="0 training"):
        train.fit(tiny_model(), ToyDataset(0, 0), ToyDataset(4, 1))


@pytest.mark.parametrize("shape", [(2, 1, 12, 12), (2, 1, 4, 12, 12)])
def test_random_rotation_keeps_shape_and_is_identity_at_zero_degrees(shape: tuple[int, ...]) -> None:
    inputs = torch.rand(shape)
    generator = torch.Generator().manual_seed(0)
    still = train.random_rotation(0.0)(inputs, generator)
    torch.testing.assert_close(still, inputs, atol=1e-5, rtol=0)
    rotated = train.random_rotation(20.0)(inputs, generator)
    assert rotated.shape == inputs.shape
    assert not torch.allclose(rotated, inputs)


def test_rotation_stays_in_the_axial_plane() -> None:
    volume = torch.zeros(1, 1, 4, 9, 9)
    volume[0, 0, 1] = 1.0  # only slice 1 is bright: a rotation in (H, W) must not move it to other slices
    rotated = train.random_rotation(20.0)(volume, torch.Generator().manual_seed(1))
    assert rotated[0, 0, [0, 2, 3]].abs().max() == 0
    assert rotated[0, 0, 1].sum() > 0


def test_sigmoid_is_stable() -> None:
    np.testing.assert_allclose(train.sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0.0, 0.5, 1.0])


@pytest.mark.slow
def test_batch_norm_recalibration_gives_the_training_set_statistics() -> None:
    model = nn.Sequential(nn.BatchNorm2d(1, momentum=0.01), nn.Flatten(), nn.Linear(64, 1)).eval()
    data = ToyDataset(16, 0)
    data.images = data.images * 2.0 + 5.0
    layers = train.recalibrate_batch_norm(model, train.loader(data, 4, False, 0))
    assert layers == 1
    batch_norm = model[0]
    assert batch_norm.running_mean.item() == pytest.approx(float(data.images.mean()), abs=1e-4)
    assert batch_norm.running_var.item() == pytest.approx(float(data.images.var(ddof=1)), rel=0.02)
    assert batch_norm.momentum == 0.01 and not model.training


def test_recalibration_is_a_no_op_without_batch_norm() -> None:
    assert train.recalibrate_batch_norm(tiny_model(), train.loader(ToyDataset(4, 0), 2, False, 0)) == 0


def test_predict_probabilities_are_the_sigmoid_of_the_logits() -> None:
    model = tiny_model(outputs=3)
    validation = ToyDataset(16, 1, outputs=3)
    logits, _ = train.predict_logits(model, validation)
    probabilities, _ = train.predict_probabilities(model, validation)
    assert probabilities.shape == logits.shape == (16, 3)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    np.testing.assert_allclose(probabilities, 1 / (1 + np.exp(-logits)), rtol=1e-6)


@pytest.mark.slow
@pytest.mark.slow
@pytest.mark.slow
@pytest.mark.slow
def test_inputs_of_stacks_the_selected_samples_in_order() -> None:
    dataset = [(np.full((1, 2, 3), index, dtype=np.float32), np.float32(index % 2)) for index in range(5)]
    batch = train.inputs_of(dataset, [3, 0])
    assert batch.shape == (2, 1, 2, 3)
    assert batch[0].max() == 3 and batch[1].max() == 0
    assert train.inputs_of(dataset).shape == (5, 1, 2, 3)
    with pytest.raises(ValueError, match="no samples selected from a dataset of 5"):
        train.inputs_of(dataset, [])


def test_logits_of_batch_equals_the_model_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.LazyLinear(1))
    inputs = np.random.default_rng(0).random((3, 1, 6, 6), dtype=np.float32)
    model(torch.as_tensor(inputs))  # materialise the lazy layer, in training mode
    logits = train.logits_of_batch(model, inputs)
    assert not model.training and logits.shape == (3, 1)
    with torch.no_grad():
        assert np.array_equal(logits, model(torch.as_tensor(inputs)).numpy())


def test_inputs_of_refuses_a_boolean_mask_and_fractions() -> None:
    dataset = [(np.full((1, 2), index, dtype=np.float32), np.float32(0)) for index in range(4)]
    with pytest.raises(ValueError, match="a boolean mask, select with np.flatnonzero"):
        train.inputs_of(dataset, np.array([False, True, False, True]))
    with pytest.raises(ValueError, match="indices must be whole numbers"):
        train.inputs_of(dataset, [0.5, 1.0])
    assert train.inputs_of(dataset, np.flatnonzero([False, True, False, True]))[:, 0, 0].tolist() == [1.0, 3.0]
