"""Tests of radxai.pipeline.guided_models: the guided trainings of notebook 08 as pipeline recipes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from radxai import models, pipeline, train
from radxai.guided import allowed_regions, gaze_training
from radxai.guided import fit as guided_fit

CT_DATASET = {"count": 12, "shape": [16, 32, 32], "seed": 0}
AXIALNET = {"slice_size": [32, 32], "width": 0.125, "blocks_per_stage": [1]}
FIT = {"epochs": 2, "batch_size": 4, "learning_rate": 0.01, "seed": 1, "threads": 1}


def test_mask_loss_datasets_divide_the_training_split_and_keep_the_others(tmp_path: Path) -> None:
    splits = pipeline.model_datasets(tmp_path, "ct", CT_DATASET, [16, 32, 32])
    sets = pipeline.mask_loss_datasets(tmp_path, CT_DATASET, [16, 32, 32], 0.25, seed=0)
    assert list(sets) == ["fit", "early stopping", "val", "test"]
    parts = [study.study_id for part in ("fit", "early stopping") for study in sets[part].studies]
    assert sorted(parts) == sorted(study.study_id for study in splits["train"].studies)
    assert len(set(parts)) == len(parts) and len(sets["early stopping"]) >= 1
    for split in ("val", "test"):
        assert [study.study_id for study in sets[split].studies] == [study.study_id for study in splits[split].studies]


@pytest.mark.slow
def test_the_mask_loss_model_is_fit_mask_loss_trained_once_with_its_timings(tmp_path: Path) -> None:
    run = tmp_path / "run"
    checkpoint = pipeline.trained_mask_loss_model(run, CT_DATASET, [16, 32, 32], 0.25, AXIALNET, FIT, 1 / 3)
    history = pipeline.training_history(checkpoint)
    assert len(history["epochs"]) == 2 and "validation_mask_loss" in history["epochs"][0]
    assert len(pipeline.training_timings(checkpoint)["epochs"]) == 2
    modified = checkpoint.stat().st_mtime_ns
    assert pipeline.trained_mask_loss_model(run, CT_DATASET, [16, 32, 32], 0.25, AXIALNET, FIT, 1 / 3) == checkpoint
    assert checkpoint.stat().st_mtime_ns == modified

    sets = pipeline.mask_loss_datasets(run, CT_DATASET, [16, 32, 32], 0.25, seed=FIT["seed"])
    regions = {part: allowed_regions.AllowedRegionDataset(sets[part]) for part in ("fit", "early stopping")}
    train.seed_everything(FIT["seed"])
    direct = models.build("axialnet", **AXIALNET)
    guided_fit.fit_mask_loss(direct, regions["fit"], regions["early stopping"], train.FitConfig(**FIT), 1 / 3)
    for (name, ours), theirs in zip(models.load(checkpoint).state_dict().items(), direct.state_dict().values()):
        assert torch.equal(ours, theirs), name


@pytest.mark.slow
def test_the_gaze_model_trains_on_the_simulated_readers_gaze(tmp_path: Path) -> None:
    dataset = {"count": 16, "shape": [64, 64], "seed": 0, "prevalence": 0.5}
    splits, heatmaps = pipeline.gaze_datasets(tmp_path, dataset, [32, 32], 2.0)
    for split, data in splits.items():
        assert heatmaps[split].shape == (len(data), 32, 32)
        assert np.all((heatmaps[split] >= 0) & (heatmaps[split] <= 1))
    loss_config = gaze_training.GazeLossConfig.of_set(2, generator="guided_backprop")
    arguments = {"num_classes": splits["train"].targets.shape[1], "depth": 2, "width": 0.125}
    checkpoint = pipeline.trained_gaze_model(tmp_path, dataset, [32, 32], 2.0, arguments, FIT, loss_config)
    epochs = pipeline.training_history(checkpoint)["epochs"]
    assert "validation_guidance_loss" in epochs[0] and np.isfinite(epochs[-1]["validation_loss"])
    logits = train.logits_of_batch(models.load(checkpoint), train.inputs_of(splits["test"]))
    assert logits.shape == (len(splits["test"]), arguments["num_classes"])
