"""Tests of radxai.evaluate.sanity: model randomisation (torch and Keras), the sanity-check
runner, and the data randomisation test."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from radxai.evaluate import sanity
from radxai.evaluate.sanity import (
    ShuffledLabels,
    cascading_randomisation,
    explanation_similarity,
    independent_randomisation,
    model_randomisation_check,
    randomisable_layers,
    randomise_layers,
    train_on_shuffled_labels,
)
from radxai.evaluate.similarity import MEASURES
from radxai.explain import explain
from radxai.train import FitConfig


def tiny_network(seed: int = 0) -> nn.Module:
    """conv1 -> ReLU -> norm -> block(conv, ReLU) -> pool -> head(hidden, ReLU, out); 2D,
    two classes; batch-norm statistics set away from their defaults, so that keeping them is
    visible."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(1, 4, 3, padding=1),
            relu1=nn.ReLU(),
            norm=nn.BatchNorm2d(4),
            block=nn.Sequential(OrderedDict(conv=nn.Conv2d(4, 4, 3, padding=1), relu=nn.ReLU())),
            pool=nn.AdaptiveAvgPool2d(1),
            flat=nn.Flatten(),
            head=nn.Sequential(OrderedDict(hidden=nn.Linear(4, 6), relu=nn.ReLU(), out=nn.Linear(6, 2))),
        )
    )
    with torch.no_grad():
        model.norm.running_mean.uniform_(-0.3, 0.3)
        model.norm.running_var.uniform_(0.5, 1.5)
        model.norm.weight.uniform_(0.5, 1.5)
        model.norm.bias.uniform_(-0.5, 0.5)
    return model.eval()


TOP_FIRST = ["head.out", "head.hidden", "block.conv", "norm", "conv1"]


def changed_layers(before: nn.Module, after: nn.Module) -> set[str]:
    """Layers (module names) with a parameter that differs; fails if any buffer differs."""
    changed = set()
    after_state = after.state_dict()
    parameter_names = {name for name, _ in before.named_parameters()}
    for key, value in before.state_dict().items():
        if torch.equal(value, after_state[key]):
            continue
        assert key in parameter_names, f"buffer {key} changed"
        changed.add(key.rsplit(".", 1)[0])
    return changed


def inputs(samples: int = 2, size: int = 24) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((samples, 1, size, size)).astype(np.float32)


# --------------------------------------------------------------------------- torch randomisation


def test_layers_are_listed_top_first() -> None:
    assert randomisable_layers(tiny_network()) == TOP_FIRST


@pytest.mark.parametrize("layers", [["head.out"], ["norm", "conv1"], ["block.conv", "head.hidden"]])
def test_randomisation_changes_exactly_the_listed_layers(layers: list[str]) -> None:
    model = tiny_network()
    original = {key: value.clone() for key, value in model.state_dict().items()}
    randomised = randomise_layers(model, layers, seed=1)
    assert changed_layers(model, randomised) == set(layers)
    for key, value in model.state_dict().items():  # the original is untouched
        assert torch.equal(value, original[key])


def test_a_block_randomises_all_its_layers_and_keeps_running_statistics() -> None:
    model = tiny_network()
    assert changed_layers(model, randomise_layers(model, ["block", "head"])) == {
        "block.conv",
        "head.hidden",
        "head.out",
    }
    randomised = randomise_layers(model, ["norm"])
    # reset_parameters of a batch norm sets scale 1 and offset 0; the statistics stay.
    assert torch.equal(randomised.norm.weight, torch.ones(4))
    assert torch.equal(randomised.norm.running_var, model.norm.running_var)


def test_cascading_and_independent_steps_change_the_expected_layers() -> None:
    model = tiny_network()
    cascade = []
    for step in cascading_randomisation(model, seed=3):
        assert changed_layers(model, step.model) == set(TOP_FIRST[: step.step])
        assert step.randomised == tuple(TOP_FIRST[: step.step]) and step.layer == TOP_FIRST[step.step - 1]
        cascade.append({key: value.clone() for key, value in step.model.state_dict().items()})
    assert len(cascade) == len(TOP_FIRST)
    for step in independent_randomisation(model, seed=3):
        assert changed_layers(model, step.model) == {step.layer}
        assert step.randomised == (step.layer,)
        # A layer gets the same new weights in both modes.
        weight = f"{step.layer}.weight"
        assert torch.equal(step.model.state_dict()[weight], cascade[step.step - 1][weight])


def test_the_seed_fixes_the_new_weights() -> None:
    model = tiny_network()
    first = randomise_layers(model, ["head.out"], seed=5).head.out.weight
    again = randomise_layers(model, ["head.out"], seed=5).head.out.weight
    other = randomise_layers(model, ["head.out"], seed=6).head.out.weight
    assert torch.equal(first, again) and not torch.equal(first, other)
    rng_state = torch.get_rng_state()
    randomise_layers(model, ["conv1"], seed=5)
    assert torch.equal(torch.get_rng_state(), rng_state)  # the global generator is left alone


class NoReset(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def test_randomisation_errors_name_the_problem() -> None:
    model = tiny_network()
    with pytest.raises(ValueError, match="unknown layer 'head.output'.*head.out, head.hidden"):
        randomise_layers(model, ["head.output"])
    with pytest.raises(ValueError, match="layer 'relu1' has no parameters"):
        randomise_layers(model, ["relu1"])
    with pytest.raises(ValueError, match="must not repeat"):
        randomise_layers(model, ["conv1", "conv1"])
    with pytest.raises(TypeError, match="list of layer names; got the string 'conv1'"):
        randomise_layers(model, "conv1")
    with pytest.raises(ValueError, match="no layers to randomise"):
        randomise_layers(model, [])
    with pytest.raises(ValueError, match=r"'gate' \(NoReset\) has parameters but no reset_parameters"):
        randomise_layers(nn.Sequential(OrderedDict(gate=NoReset())), ["gate"])
    with pytest.raises(TypeError, match="give a torch.nn.Module or a Keras model"):
        randomisable_layers(object())


# --------------------------------------------------------------------------- the check


def test_model_randomisation_check_explains_every_step_and_compares_with_the_original() -> None:
    model = tiny_network()
    x = inputs()
    methods = {"gradcam": {"layer": "block.conv"}, "ig": {"method": "integrated_gradients", "steps": 4}}
    check = model_randomisation_check(model, x, methods, target=1, pixels_per_cell=(4, 4), cells_per_block=(2, 2))
    steps = len(TOP_FIRST) + 1
    assert check.layers == TOP_FIRST and check.mode == "cascading"
    assert set(check.explanations) == {(label, step) for label in methods for step in range(steps)}
    assert check.heatmaps("gradcam").shape == (steps, 2, 24, 24)
    table = check.table
    assert len(table) == 2 * steps * 2
    assert list(table.columns) == ["method", "step", "layer", "randomised", "sample", *MEASURES]
    original = table[table["step"] == 0]
    assert np.allclose(original[list(MEASURES)].to_numpy(), 1.0)
    assert table[table["step"] == 2]["layer"].unique().tolist() == ["head.hidden"]
    assert table["randomised"].max() == len(TOP_FIRST)
    # Every step explains the class resolved on the original model, and the maps move.
    assert all(explanation.target == [1, 1] for explanation in check.explanations.values())
    fully_random = table[(table["step"] == steps - 1) & (table["method"] == "ig")]
    assert (fully_random["spearman_abs"] < 0.99).all()
    # The step-0 explanation is the original model's.
    np.testing.assert_array_equal(
        check.explanations[("gradcam", 0)].heatmaps,
        explain(model, x, "gradcam", target=1, layer="block.conv").heatmaps,
    )


def test_independent_mode_and_predicted_targets() -> None:
    model = tiny_network()
    x = inputs(samples=1)
    check = model_randomisation_check(
        model,
        x,
        ["saliency"],
        mode="independent",
        layers=["head.out", "conv1"],
        pixels_per_cell=(4, 4),
        cells_per_block=(2, 2),
    )
    assert check.table["randomised"].tolist() == [0, 1, 1]
    assert check.table["layer"].tolist() == [None, "head.out", "conv1"]
    predicted = explain(model, x, "saliency").target
    assert check.explanations[("saliency", 2)].target == predicted
    with pytest.raises(ValueError, match="unknown mode 'sequential'"):
        model_randomisation_check(model, x, ["saliency"], mode="sequential")
    with pytest.raises(ValueError, match="at least one method"):
        model_randomisation_check(model, x, [])
    with pytest.raises(ValueError, match="unknown method"):
        model_randomisation_check(model, x, ["no-such-method"], layers=["conv1"])


def test_the_same_seed_gives_an_identical_table() -> None:
    model = tiny_network()
    options = {"target": 0, "pixels_per_cell": (4, 4), "cells_per_block": (2, 2), "seed": 9}
    first = model_randomisation_check(model, inputs(), ["saliency"], **options).table
    second = model_randomisation_check(model, inputs(), ["saliency"], **options).table
    assert first.to_csv() == second.to_csv()


def test_explanations_of_different_shapes_are_not_compared() -> None:
    model = tiny_network()
    small = explain(model, inputs(size=24), "saliency", target=0)
    large = explain(model, inputs(size=32), "saliency", target=0)
    with pytest.raises(ValueError, match="explanations of different shapes"):
        explanation_similarity(small, large)
    same = explanation_similarity(small, small, pixels_per_cell=(4, 4), cells_per_block=(2, 2))
    assert same["sample"].tolist() == [0, 1] and np.allclose(same[list(MEASURES)], 1.0)


# --------------------------------------------------------------------------- data randomisation


class Pairs:
    """A map-style dataset of (image (1, 8, 8), label (1,)) with the label a function of the
    image (its mean is positive)."""

    def __init__(self, count: int) -> None:
        generator = np.random.default_rng(0)
        self.images = generator.standard_normal((count, 1, 8, 8)).astype(np.float32)
        self.labels = (self.images.mean(axis=(1, 2, 3)) > 0).astype(np.float32)[:, None]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.images[index], self.labels[index]


def test_shuffled_labels_keep_images_and_label_counts() -> None:
    data = Pairs(20)
    shuffled = ShuffledLabels(data, seed=0)
    assert len(shuffled) == 20
    labels = np.stack([shuffled[i][1] for i in range(20)])
    np.testing.assert_array_equal(np.sort(labels, axis=0), np.sort(data.labels, axis=0))
    assert not np.array_equal(labels, data.labels)
    np.testing.assert_array_equal(shuffled[3][0], data.images[3])
    np.testing.assert_array_equal(ShuffledLabels(data, seed=0).permutation, shuffled.permutation)
    with pytest.raises(ValueError, match="empty dataset"):
        ShuffledLabels([], seed=0)


def test_training_on_shuffled_labels_trains_a_copy_repeatably() -> None:
    def untrained() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 1))

    model = untrained()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    config = FitConfig(epochs=2, batch_size=4, patience=2, threads=1)
    trained, history = train_on_shuffled_labels(model, Pairs(12), config, seed=1)
    assert trained is not model and len(history.epochs) == 2
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    assert changed_layers(model, trained)  # the copy learned something
    again, _ = train_on_shuffled_labels(untrained(), Pairs(12), config, seed=1)
    for key, value in trained.state_dict().items():
        assert torch.equal(value, again.state_dict()[key])


# --------------------------------------------------------------------------- Keras


def test_keras_randomisation_changes_exactly_the_listed_layers() -> None:
    from radxai.models.keras_backend import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    layers = keras.layers
    image = keras.Input((12, 12, 1))
    features = layers.Conv2D(3, 3, padding="same", activation="relu", name="conv")(image)
    features = layers.BatchNormalization(name="norm")(features)
    features = layers.GlobalAveragePooling2D(name="pool")(features)
    logits = layers.Dense(2, name="output")(features)
    model = keras.Model(image, logits)
    model.get_layer("norm").moving_mean.assign(np.full(3, 0.25, np.float32))
    model.get_layer("norm").gamma.assign(np.full(3, 2.0, np.float32))
    model.get_layer("output").bias.assign(np.full(2, 0.5, np.float32))  # fresh biases are 0
    model.cam_layer = "conv"
    weighted = [layer for layer in model.layers if layer.weights]
    original = {layer.name: [w.copy() for w in layer.get_weights()] for layer in weighted}

    assert randomisable_layers(model) == ["output", "norm", "conv"]
    steps = list(cascading_randomisation(model, seed=2))
    assert [step.randomised for step in steps][-1] == ("output", "norm", "conv")
    randomised = randomise_layers(model, ["output", "norm"], seed=2)
    for layer in weighted:
        before, after = original[layer.name], randomised.get_layer(layer.name).get_weights()
        same = [np.array_equal(b, a) for b, a in zip(before, after)]
        if layer.name == "output":
            assert same == [False, False]
        elif layer.name == "norm":
            # gamma and beta re-initialised (gamma 2 -> 1); moving mean and variance kept.
            assert same[0] is False and same[2:] == [True, True]
        else:
            assert all(same), layer.name
    for layer in weighted:  # the original is untouched
        for b, a in zip(original[layer.name], layer.get_weights()):
            np.testing.assert_array_equal(b, a)
    assert randomised.cam_layer == "conv"
    with pytest.raises(ValueError, match="unknown or unparameterised layer 'pool'.*output, norm, conv"):
        randomise_layers(model, ["pool"])

    x = np.random.default_rng(0).standard_normal((1, 1, 12, 12)).astype(np.float32)
    check = model_randomisation_check(
        model, x, ["gradcam"], target=0, layers=["output"], pixels_per_cell=(4, 4), cells_per_block=(2, 2)
    )
    assert check.table["step"].tolist() == [0, 1] and check.table.loc[0, "ssim"] == 1.0
    assert sanity.MODES == ("cascading", "independent")


def test_keras_models_train_on_shuffled_labels_with_fit_keras() -> None:
    from radxai.models.keras_backend import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    image = keras.Input((8, 8, 1))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(image))
    model = keras.Model(image, keras.layers.Dense(1)(features))
    before = [weights.copy() for weights in model.get_weights()]
    config = FitConfig(epochs=2, batch_size=4, patience=2, seed=0)
    trained, history = train_on_shuffled_labels(model, Pairs(8), config, seed=1)
    assert trained is not model and len(history.epochs) == 2
    for old, kept in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, kept)
    assert any(not np.array_equal(old, new) for old, new in zip(before, trained.get_weights()))


def test_fails_randomisation_flags_any_similarity_above_its_limit() -> None:
    import pandas as pd

    similarity = pd.DataFrame(
        {"ssim": [0.9, 0.1, 0.2, 0.5], "spearman_abs": [0.1, 0.8, 0.2, 0.5]},
        index=["by ssim", "by rank", "neither", "at the limits"],
    )
    assert sanity.fails_randomisation(similarity).tolist() == [True, True, False, False]
    assert sanity.fails_randomisation(similarity.loc["by rank"]) is True
    assert sanity.fails_randomisation(similarity, limits={"ssim": 0.05}).tolist() == [True, True, True, True]
    with pytest.raises(KeyError, match="no column.*spearman_abs"):
        sanity.fails_randomisation(similarity[["ssim"]])
