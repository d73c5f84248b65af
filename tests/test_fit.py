"""Tests of radxai.guided.fit: the guided training loop and AxialNet with the mask loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from radxai import models, train
from radxai.guided import fit, mask_loss
from radxai.guided.allowed_regions import JointAugmentation, downsample_to_grid


class TinyVolumes:
    """(x, y, allowed): volumes (1, 4, 16, 16) whose label is a bright blob in the left half
    (columns < 8), the allowed region; positives also carry a bright bar in the top rows, a
    shortcut outside it."""

    def __init__(self, count: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.labels = (np.arange(count) % 2).astype(np.float32)
        self.volumes = rng.random((count, 1, 4, 16, 16)).astype(np.float32) * 0.2
        for volume, label in zip(self.volumes, self.labels):
            if label:
                row, column = rng.integers(4, 12), rng.integers(1, 6)
                volume[0, :, row : row + 3, column : column + 3] += 0.8
                volume[0, :, :2, 10:] += 0.8

    def __len__(self) -> int:
        return len(self.volumes)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        allowed = np.zeros((1, 4, 16, 16), dtype=bool)
        if self.labels[index]:
            allowed[..., :8] = True
        return self.volumes[index], self.labels[index : index + 1], allowed


class Pairs:
    """The (x, y) part of a triple dataset, for radxai.train.fit."""

    def __init__(self, triples: TinyVolumes) -> None:
        self.triples = triples

    def __len__(self) -> int:
        return len(self.triples)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image, label, _ = self.triples[index]
        return image, label


def tiny_axialnet() -> torch.nn.Module:
    torch.manual_seed(0)
    return models.build("axialnet", slice_size=(16, 16), width=0.125, blocks_per_stage=(1,))


def quick(epochs: int = 2, **settings: object) -> train.FitConfig:
    return train.FitConfig(epochs=epochs, batch_size=4, learning_rate=0.01, seed=1, threads=1, **settings)


def stacked(dataset: TinyVolumes) -> list[torch.Tensor]:
    return [torch.as_tensor(np.stack(column)) for column in zip(*(dataset[i] for i in range(len(dataset))))]


@pytest.mark.parametrize("form", mask_loss.MASK_LOSS_FORMS)
def test_one_training_step_with_the_mask_loss_lowers_it(form: str) -> None:
    model = tiny_axialnet()
    inputs, targets, allowed = stacked(TinyVolumes(6, 0))
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    before = mask_loss.guided_mask_loss(model, inputs, targets, allowed, form=form)
    assert before.mask > 0
    optimiser.zero_grad()
    before.total.backward()
    optimiser.step()
    after = mask_loss.guided_mask_loss(model, inputs, targets, allowed, form=form)
    assert after.total.item() < before.total.item()


def test_without_mask_weight_it_is_radxai_train_fit() -> None:
    data, validation = TinyVolumes(8, 0), TinyVolumes(4, 1)
    guided_model, plain_model = tiny_axialnet(), tiny_axialnet()
    guided = fit.fit_mask_loss(guided_model, data, validation, quick(), mask_weight=0.0)
    plain = train.fit(plain_model, Pairs(data), Pairs(validation), quick())
    for ours, theirs in zip(guided.epochs, plain.epochs):
        for name in ("train_loss", "validation_loss", "train_accuracy", "validation_accuracy"):
            assert ours[name] == theirs[name]
        assert ours["train_loss"] == ours["train_classification_loss"]
    for ours, theirs in zip(guided_model.state_dict().values(), plain_model.state_dict().values()):
        assert torch.equal(ours, theirs)


def test_fit_mask_loss_records_both_losses_repeats_and_saves(tmp_path: Path) -> None:
    runs = []
    for index in range(2):
        model = tiny_axialnet()
        history = fit.fit_mask_loss(
            model,
            TinyVolumes(8, 0),
            TinyVolumes(4, 1),
            quick(),
            form="paper",
            augmentation=JointAugmentation(max_degrees=15.0),
            checkpoint=tmp_path / f"model{index}.pt",
        )
        runs.append((history, model))
    assert runs[0][0].epochs == runs[1][0].epochs
    record = runs[0][0].epochs[-1]
    assert record["train_loss"] == pytest.approx(
        record["train_classification_loss"] + record["train_mask_loss"] / 3, rel=1e-5
    )
    assert record["validation_mask_loss"] >= 0 and 0 <= record["validation_accuracy"] <= 1
    assert runs[0][0].best_validation_loss == min(epoch["validation_loss"] for epoch in runs[0][0].epochs)
    loaded = models.load(tmp_path / "model0.pt")
    for ours, theirs in zip(runs[0][1].state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(ours, theirs)
    stored = torch.load(tmp_path / "model0.pt", weights_only=False)
    assert stored["mask_loss"] == {"mask_weight": 1 / 3, "form": "paper", "layer": None}


def test_the_mask_loss_moves_attention_into_the_allowed_region() -> None:
    shares = {}
    for weight in (0.0, 1.0):
        model = tiny_axialnet()
        fit.fit_mask_loss(model, TinyVolumes(16, 0), TinyVolumes(4, 1), quick(epochs=6, patience=6), mask_weight=weight)
        inputs, _, allowed = stacked(TinyVolumes(8, 2))
        with torch.no_grad():
            _, attention = mask_loss.hirescam_attention(model, inputs)
        raised = attention.clamp(min=0)
        grid = downsample_to_grid(allowed, attention.shape[2:])
        shares[weight] = float((raised * grid).sum() / raised.sum())
    assert shares[1.0] > shares[0.0]


def test_bad_settings_fail_before_training() -> None:
    with pytest.raises(ValueError, match="lambda must be a finite number >= 0"):
        fit.fit_mask_loss(tiny_axialnet(), TinyVolumes(4, 0), TinyVolumes(2, 1), quick(), mask_weight=-1.0)
    with pytest.raises(ValueError, match="forms: paper, reference"):
        fit.fit_mask_loss(tiny_axialnet(), TinyVolumes(4, 0), TinyVolumes(2, 1), quick(), form="l2")
    with pytest.raises(ValueError, match="non-empty datasets; got 4 training and 0 validation"):
        fit.fit_mask_loss(tiny_axialnet(), TinyVolumes(4, 0), TinyVolumes(0, 1), quick())
    with pytest.raises(ValueError, match="non-empty datasets; got 0 training and 2 validation"):
        fit.fit_mask_loss(tiny_axialnet(), TinyVolumes(0, 0), TinyVolumes(2, 1), quick())


def test_fit_guided_trains_on_what_the_joint_augmenter_returns() -> None:
    """fit_guided hands each training batch's (x, companion) to the augmenter and trains on
    what it returns (here zeroed images); validation batches are not augmented."""
    seen: list[tuple[torch.Size, torch.Size]] = []

    def zero_images(inputs: torch.Tensor, allowed: torch.Tensor, generator: torch.Generator):
        seen.append((inputs.shape, allowed.shape))
        return torch.zeros_like(inputs), allowed

    def batch_losses(model, batch, training):
        if training:
            assert float(batch[0].abs().sum()) == 0.0
        terms = mask_loss.guided_mask_loss(model, *batch, mask_weight=0.0, create_graph=training)
        return train.BatchLosses(terms.total, terms.logits)

    fit.fit_guided(tiny_axialnet(), TinyVolumes(8, 0), TinyVolumes(4, 1), batch_losses, quick(1), zero_images)
    assert seen == [(torch.Size([4, 1, 4, 16, 16]), torch.Size([4, 1, 4, 16, 16]))] * 2
