"""Tests of radxai.guided.gaze_training: the U-Net trained against gaze heatmaps (baseline, sets 1-3)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from radxai import models, train
from radxai.guided import gaze_training
from radxai.guided.gaze_training import GazeLossConfig

CONFIGURATIONS = [GazeLossConfig()] + [
    GazeLossConfig(experiment=experiment, generator=generator)
    for experiment, generator in itertools.product(gaze_training.GAZE_EXPERIMENTS[1:], ("guided_backprop", "deconvnet"))
]


def tiny_unet() -> torch.nn.Module:
    torch.manual_seed(0)
    return models.build("unet_classifier", num_classes=3, depth=2, width=0.0625)


def with_fixed_running_statistics(model: torch.nn.Module) -> torch.nn.Module:
    """The generator pass normalises by the running statistics, which every training-mode
    forward moves; momentum 0 keeps them, so two evaluations are the same function of the
    weights."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = 0.0
    return model


def batch(count: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    inputs = torch.rand(count, 1, 16, 16, generator=generator)
    labels = torch.nn.functional.one_hot(torch.arange(count) % 3, 3).float()
    rows, columns = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    gaze = torch.exp(-((rows - 5) ** 2 + (columns - 10) ** 2) / 8.0).expand(count, 1, 16, 16).clone()
    return inputs, labels, gaze


@pytest.mark.parametrize("config", CONFIGURATIONS, ids=lambda config: f"{config.experiment}-{config.generator}")
def test_one_training_step_lowers_each_loss(config: GazeLossConfig) -> None:
    model = with_fixed_running_statistics(tiny_unet())
    inputs, labels, gaze = batch()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    before = gaze_training.gaze_losses(model, inputs, labels, gaze, config)
    optimiser.zero_grad()
    before.total.backward()
    optimiser.step()
    after = gaze_training.gaze_losses(model, inputs, labels, gaze, config)
    assert after.total.item() < before.total.item()
    torch.testing.assert_close(before.total, before.parts["classification"] + config.gamma * before.parts["guidance"])


def test_set_three_weighs_its_two_terms() -> None:
    inputs, labels, gaze = batch()
    config = GazeLossConfig.of_set(3, mask_share=0.25, gamma=2.0)
    losses = gaze_training.gaze_losses(tiny_unet(), inputs, labels, gaze, config)
    expected = 0.25 * losses.parts["mask_vs_gaze"] + 0.75 * losses.parts["generator_vs_gaze"]
    torch.testing.assert_close(losses.parts["guidance"], expected)
    torch.testing.assert_close(losses.total, losses.parts["classification"] + 2.0 * expected)


def test_generator_guidance_trains_the_encoder_through_double_backpropagation() -> None:
    model = tiny_unet()
    inputs, labels, gaze = batch()
    guidance = gaze_training.gaze_losses(model, inputs, labels, gaze, GazeLossConfig.of_set(1)).parts["guidance"]
    guidance.backward()
    encoder = model.encoder["level0"].convs.conv1.weight.grad
    assert encoder is not None and encoder.abs().sum() > 0
    # Set 1 compares the generator heatmap with the gaze: the decoder takes no part.
    assert model.mask_head.weight.grad is None or not model.mask_head.weight.grad.any()


def test_set_two_uses_the_generator_heatmap_as_a_target() -> None:
    model = with_fixed_running_statistics(tiny_unet())
    inputs, labels, gaze = batch()
    losses = gaze_training.gaze_losses(model, inputs, labels, gaze, GazeLossConfig.of_set(2))
    output = model(inputs)
    heatmap = gaze_training.generator_heatmap(model, inputs, labels, create_graph=False)[:, None]
    squeezed = gaze_training.HEATMAP_EPSILON + (1 - 2 * gaze_training.HEATMAP_EPSILON) * heatmap
    expected = torch.nn.functional.binary_cross_entropy_with_logits(output.mask_logits, squeezed)
    torch.testing.assert_close(losses.parts["mask_vs_generator"], expected)


def test_bad_configurations_are_named() -> None:
    with pytest.raises(ValueError, match="experiments: baseline, generator_vs_gaze, mask_vs_generator"):
        GazeLossConfig(experiment="set4")
    with pytest.raises(ValueError, match="generators: guided_backprop, deconvnet"):
        GazeLossConfig.of_set(1, generator="gradcam")
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        GazeLossConfig(gamma=-1.0)
    with pytest.raises(ValueError, match=r"mask_share must be in \[0, 1.0\]"):
        GazeLossConfig.of_set(3, mask_share=1.5)
    with pytest.raises(ValueError, match="targets: labels, predicted"):
        GazeLossConfig(heatmap_target="gaze")
    with pytest.raises(ValueError, match=r"experiment sets are \[0, 1, 2, 3\]"):
        GazeLossConfig.of_set(4)


def test_gaze_that_does_not_match_the_inputs_names_both_shapes() -> None:
    inputs, labels, gaze = batch()
    with pytest.raises(ValueError, match=r"\(4, 1, 8, 8\) do not match the inputs of shape \(4, 1, 16, 16\)"):
        gaze_training.gaze_losses(tiny_unet(), inputs, labels, gaze[..., :8, :8], GazeLossConfig())


class TinyImages:
    """Images whose class is which third of the image holds a bright square (3 one-hot classes)."""

    def __init__(self, count: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.classes = np.arange(count) % 3
        self.images = rng.random((count, 1, 16, 16)).astype(np.float32) * 0.2
        for image, label in zip(self.images, self.classes):
            image[0, 6:10, 5 * label : 5 * label + 4] += 0.8

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.images[index], np.eye(3, dtype=np.float32)[self.classes[index]]


def gaze_dataset(count: int, seed: int) -> gaze_training.GazeHeatmapDataset:
    images = TinyImages(count, seed)
    heatmaps = np.stack([image[0] > 0.5 for image in images.images]).astype(np.float32)
    return gaze_training.GazeHeatmapDataset(images, heatmaps)


def test_dataset_pairs_images_with_their_heatmaps() -> None:
    dataset = gaze_dataset(3, 0)
    image, label, heatmap = dataset[1]
    assert image.shape == (1, 16, 16) and label.shape == (3,) and heatmap.shape == (1, 16, 16)
    with pytest.raises(ValueError, match=r"\(8, 8\) do not match images of shape \(16, 16\)"):
        gaze_training.GazeHeatmapDataset(TinyImages(3, 0), np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="N = 3 images; got shape"):
        gaze_training.GazeHeatmapDataset(TinyImages(3, 0), np.zeros((2, 16, 16)))


def test_fit_gaze_records_its_parts_and_repeats_for_a_seed() -> None:
    config = train.FitConfig(epochs=2, batch_size=4, learning_rate=0.01, seed=3, threads=1)
    runs = []
    for _ in range(2):
        model = tiny_unet()
        history = gaze_training.fit_gaze(
            model, gaze_dataset(8, 0), gaze_dataset(4, 1), GazeLossConfig.of_set(3), config
        )
        runs.append((history.epochs, [parameter.detach().clone() for parameter in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(first, second) for first, second in zip(runs[0][1], runs[1][1]))
    record = runs[0][0][-1]
    for name in ("classification", "guidance", "mask_vs_gaze", "generator_vs_gaze"):
        assert np.isfinite(record[f"train_{name}_loss"]) and np.isfinite(record[f"validation_{name}_loss"])
    assert record["validation_loss"] == pytest.approx(
        record["validation_classification_loss"] + record["validation_guidance_loss"], rel=1e-5
    )


def test_a_single_logit_predicted_negative_explains_the_negative_class() -> None:
    torch.manual_seed(0)
    model = with_fixed_running_statistics(models.build("unet_classifier", num_classes=1, depth=2, width=0.0625))
    inputs, _, gaze = batch()
    with torch.no_grad():  # centre the logits (on their mean: no logit sits on the tie at 0)
        model.classifier.bias -= model(inputs).logits.mean()
    config = GazeLossConfig(experiment="generator_vs_gaze", heatmap_target="predicted")
    losses = gaze_training.gaze_losses(model, inputs, torch.zeros(4, 1), gaze, config)
    signs = torch.where(losses.logits.detach() >= 0, 1.0, -1.0)
    assert (signs < 0).any() and (signs > 0).any()  # both classes are predicted in this batch

    def generator_loss(weights: torch.Tensor) -> torch.Tensor:
        heatmap = gaze_training.generator_heatmap(model, inputs, weights, create_graph=False)[:, None]
        squeezed = gaze_training.HEATMAP_EPSILON + (1 - 2 * gaze_training.HEATMAP_EPSILON) * heatmap
        return torch.nn.functional.binary_cross_entropy(squeezed, gaze)

    torch.testing.assert_close(losses.parts["generator_vs_gaze"], generator_loss(signs))
    assert not torch.allclose(generator_loss(signs), generator_loss(torch.ones(4, 1)))
