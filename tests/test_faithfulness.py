"""Tests of radxai.evaluate.faithfulness: deletion and insertion curves, probability drops."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, softmax
from torch import nn

from radxai.evaluate import faithfulness
from radxai.evaluate.faithfulness import (
    Baseline,
    baseline_check,
    deletion_curve,
    insertion_curve,
    mean_probability_drops,
    perturbation_curve,
    probability_drops,
    random_heatmaps,
    voxel_order,
)
from radxai.explain.baselines import baseline as make_baseline
from radxai.explain.baselines import healthy_fill


class BoxModel(nn.Module):
    """logit = weight * (mean of the input over a fixed box, all channels) + bias; (N, 1)."""

    def __init__(self, box: tuple[slice, ...], weight: float = 8.0, bias: float = -4.0) -> None:
        super().__init__()
        self.box = box
        self.weight = weight
        self.bias = bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inside = x[(slice(None), slice(None), *self.box)]
        return (self.weight * inside.mean(dim=tuple(range(1, x.ndim))) + self.bias)[:, None]


class SumModel(nn.Module):
    """logits (N, K): column k = scales[k] * (sum of the input) + offsets[k]."""

    def __init__(self, scales: list[float], offsets: list[float]) -> None:
        super().__init__()
        self.scales = torch.tensor(scales)
        self.offsets = torch.tensor(offsets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = x.flatten(1).sum(dim=1, keepdim=True)
        return total * self.scales + self.offsets


class NaNModel(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 1), float("nan"))


def small_convnet(dims: int, channels: int = 2, outputs: int = 3) -> nn.Module:
    """conv -> ReLU -> batch norm -> conv -> global average -> linear, seeded, eval mode."""
    torch.manual_seed(0)
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
    pool = nn.AdaptiveAvgPool2d if dims == 2 else nn.AdaptiveAvgPool3d
    model = nn.Sequential(
        OrderedDict(
            conv1=conv(channels, 4, 3, padding=1),
            relu=nn.ReLU(),
            norm=norm(4),
            conv2=conv(4, 4, 3, padding=1),
            pool=pool(1),
            flat=nn.Flatten(),
            out=nn.Linear(4, outputs),
        )
    )
    with torch.no_grad():
        model.norm.running_mean.uniform_(-0.2, 0.2)
        model.norm.running_var.uniform_(0.5, 1.5)
    return model.eval()


def box_case(spatial: tuple[int, ...], box: tuple[slice, ...], samples: int = 2, seed: int = 0):
    """Inputs that are 1 inside the box and random elsewhere, and the oracle map of the box."""
    generator = np.random.default_rng(seed)
    x = generator.random((samples, 2, *spatial)).astype(np.float32)
    x[(slice(None), slice(None), *box)] = 1.0
    oracle = np.zeros((samples, *spatial), dtype=np.float32)
    oracle[(slice(None), *box)] = 1.0
    return x, oracle


# --------------------------------------------------------------------------- deletion/insertion


def test_a_hand_example_of_deletion_and_insertion() -> None:
    model = SumModel([1.0], [0.0])  # logit = sum of the four pixels
    x = np.ones((1, 1, 1, 4), dtype=np.float32)
    heatmaps = np.array([[[4.0, 3.0, 2.0, 1.0]]])

    deletion = deletion_curve(model, x, heatmaps, target=1, steps=4)
    np.testing.assert_allclose(deletion.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(deletion.scores[0], expit([4, 3, 2, 1, 0]))
    expected_auc = sum((a + b) / 2 * 0.25 for a, b in zip(expit([4, 3, 2, 1]), expit([3, 2, 1, 0])))
    assert deletion.auc[0] == pytest.approx(expected_auc)
    assert deletion.model_evaluations == 5 and deletion.target == [1]

    insertion = insertion_curve(model, x, heatmaps, target=1, steps=4)
    np.testing.assert_allclose(insertion.scores[0], expit([0, 1, 2, 3, 4]))
    # Two steps of two pixels each; class 0 of a single-logit model scores 1 - p.
    halves = deletion_curve(model, x, heatmaps, target=0, steps=2)
    np.testing.assert_allclose(halves.fractions, [0, 0.5, 1])
    np.testing.assert_allclose(halves.scores[0], 1 - expit([4, 2, 0]))


def test_steps_cover_floor_of_k_voxels_over_k() -> None:
    model = SumModel([1.0], [0.0])
    x = np.ones((1, 1, 1, 5), dtype=np.float32)
    curve = deletion_curve(model, x, np.arange(5.0)[None, None, ::-1], steps=3)
    # floor(k * 5 / 3) = 0, 1, 3, 5 voxels removed.
    np.testing.assert_allclose(curve.fractions, [0, 0.2, 0.6, 1.0])
    np.testing.assert_allclose(curve.scores[0], expit([5, 4, 2, 0]))


@settings(max_examples=12, deadline=None)
@given(
    three_d=st.booleans(),
    sizes=st.lists(st.integers(6, 10), min_size=3, max_size=3),
    corner=st.lists(st.integers(0, 2), min_size=3, max_size=3),
    weight=st.floats(2.0, 12.0),
    seed=st.integers(0, 1000),
)
def test_the_oracle_map_beats_random_which_beats_the_reversed_oracle(
    three_d: bool, sizes: list[int], corner: list[int], weight: float, seed: int
) -> None:
    spatial = tuple(sizes if three_d else sizes[:2])
    # A box of a third to a half of each axis: a sizeable region, never most of the image.
    box = tuple(slice(start, start + max(2, size // 3)) for start, size in zip(corner, spatial))
    model = BoxModel(box, weight=weight, bias=-weight / 2)
    x, oracle = box_case(spatial, box, seed=seed)
    heatmaps = {"oracle": oracle, "random": random_heatmaps(x, seed=seed), "reversed": 1.0 - oracle}

    for kind in faithfulness.KINDS:
        auc = {
            name: perturbation_curve(model, x, value, kind, target=1, steps=10, seed=seed).auc
            for name, value in heatmaps.items()
        }
        if kind == "deletion":
            assert np.all(auc["oracle"] < auc["random"]) and np.all(auc["random"] < auc["reversed"])
        else:
            assert np.all(auc["oracle"] > auc["random"]) and np.all(auc["random"] > auc["reversed"])


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("kind", faithfulness.KINDS)
def test_batched_and_one_at_a_time_curves_are_identical(dims: int, kind: str) -> None:
    spatial = (6, 7) if dims == 2 else (4, 5, 6)
    box = tuple(slice(1, 4) for _ in spatial)
    generator = np.random.default_rng(1)
    x = generator.standard_normal((3, 2, *spatial)).astype(np.float32)
    heatmaps = generator.random((3, *spatial))
    heatmaps[:, :2] = 0.0  # ties, broken by the seeded permutation
    options = {"target": [0, 1, 1], "steps": 9, "baseline": "blur", "seed": 3}
    # The box model's arithmetic is the same for any batch size, so any difference would be
    # bookkeeping: a score filed under the wrong sample or step.
    exact = BoxModel(box)
    one_at_a_time = perturbation_curve(exact, x, heatmaps, kind, batch_size=1, **options)
    for batch_size in (4, 64):
        batched = perturbation_curve(exact, x, heatmaps, kind, batch_size=batch_size, **options)
        np.testing.assert_array_equal(batched.scores, one_at_a_time.scores)
        np.testing.assert_array_equal(batched.auc, one_at_a_time.auc)
        assert batched.model_evaluations == one_at_a_time.model_evaluations == 3 * 10
    # A convolutional network's float32 kernels differ with the batch size (a matrix-vector
    # product for one sample, a matrix product for several): equal to float32 rounding.
    network = small_convnet(dims)
    one_at_a_time = perturbation_curve(network, x, heatmaps, kind, batch_size=1, **options)
    batched = perturbation_curve(network, x, heatmaps, kind, batch_size=4, **options)
    np.testing.assert_allclose(batched.scores, one_at_a_time.scores, rtol=0, atol=1e-6)
    assert np.ptp(one_at_a_time.scores) > 1e-3  # the curves do move
    # A sample's curve does not depend on the rest of the batch.
    alone = perturbation_curve(network, x[1:2], heatmaps[1], kind, target=1, steps=9, baseline="blur", seed=3)
    np.testing.assert_allclose(alone.scores[0], one_at_a_time.scores[1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("spec", ["zero", "mean", Baseline("blur", blur_kernel=3), Baseline("constant", constant=-2.5)])
def test_every_baseline_ends_deletion_at_the_baseline_and_starts_insertion_there(spec) -> None:
    model = small_convnet(3, outputs=2)
    x = np.random.default_rng(2).standard_normal((2, 2, 4, 5, 6)).astype(np.float32)
    heatmaps = random_heatmaps(x, seed=4)
    name = spec if isinstance(spec, str) else spec.name
    settings_ = {} if isinstance(spec, str) else {"constant": spec.constant, "blur_kernel": spec.blur_kernel}
    with torch.no_grad():
        logits_of_baseline = model(torch.from_numpy(make_baseline(x, name, **settings_))).numpy()
        logits_of_input = model(torch.from_numpy(x)).numpy()
    deletion = deletion_curve(model, x, heatmaps, target=[1, 0], steps=5, baseline=spec)
    insertion = insertion_curve(model, x, heatmaps, target=[1, 0], steps=5, baseline=spec)
    picked = [(0, 1), (1, 0)]
    for sample, column in picked:
        assert deletion.scores[sample, 0] == pytest.approx(expit(logits_of_input[sample, column]), abs=1e-6)
        assert deletion.scores[sample, -1] == pytest.approx(expit(logits_of_baseline[sample, column]), abs=1e-6)
        assert insertion.scores[sample, 0] == pytest.approx(expit(logits_of_baseline[sample, column]), abs=1e-6)
        assert insertion.scores[sample, -1] == pytest.approx(expit(logits_of_input[sample, column]), abs=1e-6)
    assert deletion.baseline == Baseline(name, **settings_).label


def test_predicted_targets_and_the_softmax_link() -> None:
    model = SumModel([1.0, -1.0, 0.5], [0.0, 0.0, 0.0])
    x = np.stack([np.full((1, 2, 2), 1.0), np.full((1, 2, 2), -1.0)]).astype(np.float32)
    heatmaps = np.ones((2, 2, 2))
    curve = deletion_curve(model, x, heatmaps, steps=2)
    assert curve.target == [0, 1]  # sums 4 and -4: the arg-max logits
    np.testing.assert_allclose(curve.scores[:, 0], expit([4.0, 4.0]))
    soft = deletion_curve(model, x, heatmaps, steps=2, link="softmax")
    np.testing.assert_allclose(soft.scores[0, 0], softmax([4.0, -4.0, 2.0])[0])
    np.testing.assert_allclose(soft.scores[:, -1], [1 / 3, 1 / 3])  # all logits 0 at the end


def test_the_same_seed_gives_the_same_random_order_and_another_seed_another() -> None:
    x = np.zeros((2, 1, 5, 6), dtype=np.float32)
    np.testing.assert_array_equal(random_heatmaps(x, seed=7), random_heatmaps(x, seed=7))
    assert not np.array_equal(random_heatmaps(x, seed=7), random_heatmaps(x, seed=8))
    constant = np.zeros((1, 5, 6))
    np.testing.assert_array_equal(voxel_order(constant, seed=1), voxel_order(constant, seed=1))
    assert not np.array_equal(voxel_order(constant, seed=1), voxel_order(constant, seed=2))


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(0, 3), min_size=1, max_size=30), seed=st.integers(0, 50))
def test_voxel_order_is_a_permutation_by_decreasing_importance(values: list[int], seed: int) -> None:
    heatmaps = np.asarray(values, dtype=np.float64)[None, None]
    order = voxel_order(heatmaps, seed=seed)[0]
    assert sorted(order.tolist()) == list(range(len(values)))
    ranked = heatmaps.reshape(-1)[order]
    assert np.all(np.diff(ranked) <= 0)


def test_the_curve_table_is_tidy() -> None:
    model = SumModel([1.0], [0.0])
    x = np.ones((2, 1, 2, 2), dtype=np.float32)
    curve = deletion_curve(model, x, np.ones((2, 2, 2)), steps=4, target=1)
    table = curve.to_frame()
    assert list(table.columns) == ["kind", "baseline", "sample", "target", "step", "fraction", "score"]
    assert len(table) == 2 * 5
    np.testing.assert_allclose(table["score"], curve.scores.reshape(-1))
    assert table["sample"].tolist() == [0] * 5 + [1] * 5


def test_a_keras_model_gives_the_same_curve_as_its_numpy_formula() -> None:
    from radxai.models.keras_backend import import_keras

    keras = import_keras()
    inputs = keras.Input((3, 4, 1))
    logits = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, logits)  # logit = the sum of the pixels
    x = np.random.default_rng(5).random((2, 1, 3, 4)).astype(np.float32)
    heatmaps = random_heatmaps(x, seed=1)
    curve = deletion_curve(model, x, heatmaps, target=1, steps=3)
    order = voxel_order(heatmaps, seed=0)
    for sample in range(2):
        flat = x[sample, 0].reshape(-1)
        expected = [flat.sum() - flat[order[sample, : (k * 12) // 3]].sum() for k in range(4)]
        np.testing.assert_allclose(curve.scores[sample], expit(expected), rtol=0, atol=1e-6)
    assert curve.model_evaluations == 2 * 4


def test_bad_input_gets_clear_errors() -> None:
    model = SumModel([1.0], [0.0])
    x = np.ones((1, 1, 3, 3), dtype=np.float32)
    heatmaps = np.ones((1, 3, 3))
    with pytest.raises(ValueError, match=r"heatmaps have shape \(1, 3, 4\).*\(1, 3, 3\)"):
        deletion_curve(model, x, np.ones((1, 3, 4)))
    with pytest.raises(ValueError, match="steps = 10 is more than the 9 voxels"):
        deletion_curve(model, x, heatmaps, steps=10)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        deletion_curve(model, x, heatmaps, steps=0)
    with pytest.raises(ValueError, match="unknown baseline 'noise'; baselines: zero, constant"):
        deletion_curve(model, x, heatmaps, steps=3, baseline="noise")
    with pytest.raises(ValueError, match=r"3 non-finite \(NaN or infinite\) logits"):
        deletion_curve(NaNModel(), np.ones((3, 1, 3, 3), np.float32), np.ones((3, 3, 3)), steps=3)
    with pytest.raises(ValueError, match="unknown kind 'flip'"):
        perturbation_curve(model, x, heatmaps, "flip", steps=3)
    with pytest.raises(ValueError, match="unknown link 'probit'"):
        deletion_curve(model, x, heatmaps, steps=3, link="probit")
    with pytest.raises(ValueError, match="softmax link needs a model with at least two outputs"):
        deletion_curve(model, x, heatmaps, steps=3, link="softmax")
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        deletion_curve(model, x, heatmaps, steps=3, batch_size=0)
    with_nan = heatmaps.copy()
    with_nan[0, 1, 2] = np.nan
    with pytest.raises(ValueError, match="heatmaps have 1 NaN"):
        deletion_curve(model, x, with_nan)
    with pytest.raises(TypeError, match="not a callable"):
        deletion_curve(model, x, heatmaps, target=lambda output: output[:, 0], steps=3)
    with pytest.raises(ValueError, match="target 2 is out of range"):
        deletion_curve(model, x, heatmaps, target=2, steps=3)
    with pytest.raises(ValueError, match="blur_kernel must be an odd integer"):
        Baseline("blur", blur_kernel=4)
    with pytest.raises(ValueError, match="x must be a batch"):
        random_heatmaps(np.ones((3, 3)))


# --------------------------------------------------------------------------- probability drops


def test_probability_drops_replace_exactly_the_top_fraction() -> None:
    model = SumModel([1.0, -0.5], [0.0, 1.0])  # two sigmoid outputs of the pixel sum
    x = np.arange(1.0, 11.0, dtype=np.float32).reshape(1, 1, 2, 5)
    heatmaps = x[:, 0]  # the largest pixels are the most important
    table = probability_drops(
        model,
        x,
        heatmaps,
        source_classes=0,
        fractions=(0.2, 0.5),
        baselines=("zero", Baseline("constant", constant=1.0)),
    )
    assert len(table) == 1 * 2 * 2 * 2
    assert list(table.columns) == ["sample", "source_class", "baseline", "fraction", "class", "p_orig", "p_new", "drop"]
    total = 55.0
    # fraction 0.2 -> pixels 10, 9; fraction 0.5 -> pixels 10..6.
    expected_sums = {
        ("zero", 0.2): total - 19,
        ("zero", 0.5): total - 40,
        ("constant 1", 0.2): total - 19 + 2,
        ("constant 1", 0.5): total - 40 + 5,
    }
    for row in table.itertuples():
        logit_sum = expected_sums[(row.baseline, row.fraction)]
        scale, offset = [(1.0, 0.0), (-0.5, 1.0)][row[5]]
        assert row.p_orig == pytest.approx(expit(scale * total + offset))
        assert row.p_new == pytest.approx(expit(scale * logit_sum + offset))
        assert row.drop == pytest.approx(row.p_orig - row.p_new)
    assert table.attrs["model_evaluations"] == 1 + 2 * 2


def test_probability_drops_of_the_box_grow_with_the_fraction() -> None:
    box = (slice(2, 10), slice(2, 10))
    model = BoxModel(box, weight=6.0, bias=-2.0)
    x, oracle = box_case((20, 20), box, samples=2)
    table = probability_drops(model, x, oracle, source_classes=[1, 1], class_names=["normal", "finding"])
    assert set(table["baseline"]) == {"mean", "blur 11", "blur 21"}
    assert set(table["fraction"]) == set(faithfulness.PROBABILITY_DROP_FRACTIONS)
    assert len(table) == 2 * 3 * 5 * 2
    assert set(table["class_name"]) == {"normal", "finding"} and set(table["source_name"]) == {"finding"}
    summary = mean_probability_drops(table)
    assert len(summary) == 3 * 5 * 2 and set(summary["samples"]) == {2}
    finding = summary[(summary["class"] == 1) & (summary["baseline"] == "mean")]
    drops = finding.sort_values("fraction")["drop"].to_numpy()
    # The box (16 % of the image, values 1) is replaced by the lower image mean.
    assert np.all(drops > 0) and np.all(np.diff(drops[:4]) > 0)
    manual = table[(table["class"] == 1) & (table["baseline"] == "mean") & (table["fraction"] == 0.1)]
    assert finding[finding["fraction"] == 0.1]["drop"].item() == pytest.approx(manual["drop"].mean())
    # Single-logit model: class 0's probability rises by what class 1's falls.
    by_class = table.pivot_table(index=["sample", "baseline", "fraction"], columns="class", values="drop")
    np.testing.assert_allclose(by_class[0], -by_class[1], atol=1e-12)


def test_probability_drops_reject_bad_input() -> None:
    model = SumModel([1.0, 2.0], [0.0, 0.0])
    x = np.ones((1, 1, 10, 10), dtype=np.float32)
    heatmaps = np.ones((1, 10, 10))
    with pytest.raises(ValueError, match=r"fractions must be in \(0, 1\]"):
        probability_drops(model, x, heatmaps, 0, fractions=(0.0,))
    with pytest.raises(ValueError, match="fraction 0.004 of 100 voxels covers no voxel"):
        probability_drops(model, x, heatmaps, 0, fractions=(0.004,))
    with pytest.raises(ValueError, match="source class 2 is out of range for a model with 2 classes"):
        probability_drops(model, x, heatmaps, 2)
    with pytest.raises(ValueError, match="class_names has 3 names but the model has 2 classes"):
        probability_drops(model, x, heatmaps, 0, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="source_classes has 2 entries for 1 samples"):
        probability_drops(model, x, heatmaps, [0, 1])
    with pytest.raises(ValueError, match=r"heatmaps have shape \(1, 10\)"):
        probability_drops(model, x, np.ones((1, 10)), 0)
    with pytest.raises(ValueError, match="unknown baseline"):
        probability_drops(model, x, heatmaps, 0, baselines=("median",))
    with pytest.raises(ValueError, match="not a probability_drops table"):
        mean_probability_drops(probability_drops(model, x, heatmaps, 0).drop(columns="drop"))


def test_baseline_labels_name_their_settings() -> None:
    assert Baseline("blur", blur_kernel=21).label == "blur 21"
    assert Baseline("constant", constant=-1000).label == "constant -1000"
    assert Baseline("mean").label == "mean"
    assert math.isclose(Baseline("zero").of(np.ones((1, 1, 2, 2))).sum(), 0.0)


def test_the_same_seed_gives_identical_tables() -> None:
    model = small_convnet(2, outputs=3)
    x = np.random.default_rng(3).standard_normal((2, 2, 10, 10)).astype(np.float32)
    heatmaps = np.round(random_heatmaps(x, seed=1), 1)  # many ties
    first = probability_drops(model, x, heatmaps, [0, 2], seed=4)
    second = probability_drops(model, x, heatmaps, [0, 2], seed=4)
    assert first.to_csv() == second.to_csv()
    other = probability_drops(model, x, heatmaps, [0, 2], seed=5)
    assert first.to_csv() != other.to_csv()  # the tie-break order matters
    curve = deletion_curve(model, x, heatmaps, steps=7, seed=4).to_frame()
    assert curve.to_csv() == deletion_curve(model, x, heatmaps, steps=7, seed=4).to_frame().to_csv()


# --------------------------------------------------------------------------- baseline checks


def probability_of(model: nn.Module, x: np.ndarray, column: int) -> np.ndarray:
    """sigmoid of the model's logit `column` for each sample of x, computed directly."""
    with torch.no_grad():
        return expit(model(torch.from_numpy(np.asarray(x, dtype=np.float32))).numpy()[:, column])


@pytest.mark.parametrize("kind", faithfulness.KINDS)
def test_baseline_and_input_scores_are_the_models_scores_of_baseline_and_input(kind: str) -> None:
    model = small_convnet(2, outputs=2)
    x = np.random.default_rng(6).standard_normal((3, 2, 6, 7)).astype(np.float32)
    curve = perturbation_curve(model, x, random_heatmaps(x), kind, target=1, steps=4, baseline="blur")
    np.testing.assert_allclose(
        curve.baseline_scores, probability_of(model, make_baseline(x, "blur"), 1), rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(curve.input_scores, probability_of(model, x, 1), rtol=0, atol=1e-6)
    assert curve.baseline_scores.shape == curve.input_scores.shape == (3,)


def test_baseline_check_counts_the_baselines_scored_as_the_target() -> None:
    model = SumModel([1.0], [-1.0])  # logit = sum - 1
    x = np.full((3, 1, 2, 2), 0.5, dtype=np.float32)  # logit 1: scored positive
    # The reference of samples 0 and 2 sums to 3 (logit 2, p 0.88), of sample 1 to 0 (p 0.27).
    reference = np.zeros_like(x)
    reference[[0, 2]] = 0.75
    heatmaps = random_heatmaps(x)
    curves = {
        kind: {
            method: perturbation_curve(model, x, heatmaps, kind, target=1, steps=2, baseline=spec)
            for method, spec in (("zero", "zero"), ("reference", Baseline("reference", reference=reference)))
        }
        for kind in faithfulness.KINDS
    }
    table = baseline_check(curves)
    assert list(table.index.names) == ["kind", "method"] and len(table) == 4
    assert list(table.columns) == [
        "baseline",
        "samples",
        "input_score",
        "baseline_score",
        "baseline_scored_as_target",
        "flagged",
    ]
    for kind in faithfulness.KINDS:
        zero, positive = table.loc[(kind, "zero")], table.loc[(kind, "reference")]
        assert zero["baseline_scored_as_target"] == 0 and not zero["flagged"]
        assert zero["baseline_score"] == pytest.approx(expit(-1.0))
        assert positive["baseline_scored_as_target"] == 2 and positive["flagged"]
        assert positive["baseline_score"] == pytest.approx((2 * expit(2.0) + expit(-1.0)) / 3)
        assert positive["input_score"] == pytest.approx(expit(1.0)) and positive["samples"] == 3
    flags = curves["deletion"]["reference"].baseline_scored_as_target()
    np.testing.assert_array_equal(flags, [True, False, True])
    # A stricter level than p = 0.88 flags nothing; p = 0.27 is at the level, so it counts.
    assert not baseline_check(curves, positive_probability=0.9)["flagged"].any()
    assert baseline_check(curves, positive_probability=expit(-1.0))["baseline_scored_as_target"].min() == 3
    with pytest.raises(ValueError, match=r"positive_probability must be in \(0, 1\]; got 0"):
        baseline_check(curves, positive_probability=0)
    with pytest.raises(ValueError, match="at least one curve"):
        baseline_check({})


@pytest.mark.parametrize("dims", [2, 3])
def test_reference_deletion_ends_at_the_models_score_of_each_samples_reference(dims: int) -> None:
    spatial = (6, 7) if dims == 2 else (4, 5, 6)
    model = small_convnet(dims, outputs=2)
    generator = np.random.default_rng(8)
    x = generator.standard_normal((3, 2, *spatial)).astype(np.float32)
    reference = generator.standard_normal(x.shape).astype(np.float32)  # one per sample
    spec = Baseline("reference", reference=reference)
    heatmaps = random_heatmaps(x, seed=2)
    by_batch = [
        perturbation_curve(model, x, heatmaps, "deletion", target=0, steps=5, baseline=spec, batch_size=size)
        for size in (1, 2, 64)
    ]
    expected = probability_of(model, reference, 0)
    for curve in by_batch:
        np.testing.assert_allclose(curve.scores[:, -1], expected, rtol=0, atol=1e-6)
        np.testing.assert_allclose(curve.scores, by_batch[0].scores, rtol=0, atol=1e-6)
    assert by_batch[0].baseline == "reference"
    insertion = perturbation_curve(model, x, heatmaps, "insertion", target=0, steps=5, baseline=spec, batch_size=2)
    np.testing.assert_allclose(insertion.baseline_scores, expected, rtol=0, atol=1e-6)
    drops = probability_drops(model, x, heatmaps, 0, fractions=(1.0,), baselines=(spec,), batch_size=2)
    new = drops[drops["class"] == 0].sort_values("sample")["p_new"].to_numpy()
    np.testing.assert_allclose(new, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dims", [2, 3])
def test_healthy_fill_deletion_changes_nothing_outside_the_region(dims: int) -> None:
    spatial = (8, 9) if dims == 2 else (4, 5, 6)
    model = small_convnet(dims, channels=1, outputs=2)
    generator = np.random.default_rng(9)
    x = generator.random((3, 1, *spatial)).astype(np.float32)
    regions = np.zeros((3, *spatial), dtype=bool)
    regions[:, 1:-1] = True
    regions[1, 0] = True  # each sample its own region
    spec = Baseline("healthy_fill", region=regions, healthy_ceiling=0.5, seed=3)
    assert spec.label == "healthy fill <= 0.5"
    # The map ranks every voxel outside the region first: deleting them changes nothing.
    heatmaps = np.where(regions, 0.0, 1.0) + generator.random(regions.shape) * 0.5
    outside = (~regions).sum(axis=tuple(range(1, regions.ndim))).min()
    steps = int(regions[0].size)  # one voxel per step
    curves = [
        perturbation_curve(model, x, heatmaps, "deletion", target=1, steps=steps, baseline=spec, batch_size=size)
        for size in (1, 7)
    ]
    np.testing.assert_allclose(curves[0].scores, curves[1].scores, rtol=0, atol=1e-6)
    first = curves[0].scores[:, : outside + 1]
    np.testing.assert_allclose(first, first[:, :1].repeat(outside + 1, axis=1), rtol=0, atol=1e-6)
    filled = healthy_fill(x, regions, healthy_ceiling=0.5, seed=3)
    np.testing.assert_allclose(curves[0].baseline_scores, probability_of(model, filled, 1), rtol=0, atol=1e-6)
    assert np.ptp(curves[0].scores[:, outside:]) > 1e-4  # filling the region does move it


def test_baselines_with_arrays_are_frozen_copies_checked_before_the_model_runs() -> None:
    x = np.ones((2, 1, 3, 3), dtype=np.float32)
    reference = np.zeros_like(x)
    spec = Baseline("reference", reference=reference)
    reference[:] = 5.0  # the Baseline kept its own copy
    assert spec.reference.max() == 0.0 and not spec.reference.flags.writeable
    assert len({spec, Baseline("reference", reference=reference)}) == 2  # hashable, by identity
    heatmaps = np.ones((2, 3, 3))
    # NaNModel would fail on its first evaluation: the baseline's error comes first.
    with pytest.raises(ValueError, match=r"reference has shape \(2, 1, 3, 3\).*input's shape \(1, 1, 3, 3\)"):
        deletion_curve(NaNModel(), x[:1], heatmaps[:1], steps=3, baseline=spec)
    with_nan = np.zeros_like(x)
    with_nan[1, 0, 2, 0] = np.nan
    with pytest.raises(ValueError, match="reference has 1 NaN"):
        deletion_curve(NaNModel(), x, heatmaps, steps=3, baseline=Baseline("reference", reference=with_nan))
    region = np.ones((3, 3), dtype=bool)
    with pytest.raises(ValueError, match=r"region mask has shape \(3, 3\), but input \(2, 1, 3, 4\)"):
        deletion_curve(
            NaNModel(),
            np.ones((2, 1, 3, 4), np.float32),
            np.ones((2, 3, 4)),
            steps=3,
            baseline=Baseline("healthy_fill", region=region, healthy_ceiling=1.0),
        )
    with pytest.raises(ValueError, match="sample 0, channel 0: none of its 9 region voxels"):
        probability_drops(
            NaNModel(),
            x,
            heatmaps,
            0,
            fractions=(1.0,),
            baselines=(Baseline("healthy_fill", region=region, healthy_ceiling=0.5),),
        )
    with pytest.raises(ValueError, match="healthy_fill baseline needs a region mask"):
        Baseline("healthy_fill", healthy_ceiling=0.2)
    with pytest.raises(ValueError, match="settings of the healthy_fill baseline, not of 'zero'"):
        Baseline("zero", region=region)
    with pytest.raises(ValueError, match="reference baseline needs the reference input"):
        Baseline("reference")
