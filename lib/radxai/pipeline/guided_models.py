"""Recipes for the explanation-guided models (notebook 08), trained once per run like `trained_model`'s.

The mask-loss AxialNet of the HiResCAM work and the gaze-guided U-Nets of the eye-gaze work are
trained here, keyed by every argument and by the source of the data, model, fit-loop and guided
training code, so a rerun of the notebook loads them and a change to that code retrains them.
Each checkpoint folder holds ``history.json`` and ``timings.json`` as `trained_model`'s do, so
the run record carries the guided trainings' wall-clock times too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from radxai.pipeline.cache import load_or_build
from radxai.pipeline.recipes import model_datasets, torch_training_code, write_history

__all__ = ["gaze_datasets", "mask_loss_datasets", "trained_gaze_model", "trained_mask_loss_model"]

FIT_PART, EARLY_STOPPING_PART = "fit", "early stopping"


def _guided_training_code() -> tuple[Any, ...]:
    import radxai.evaluate.binarise
    import radxai.explain.targets
    import radxai.guided

    # The guided losses resolve targets (explain.targets) and put organ masks on the layer's grid
    # (evaluate.binarise.nearest_indices) besides what every trained model depends on.
    return (*torch_training_code(), radxai.guided, radxai.explain.targets, radxai.evaluate.binarise)


def mask_loss_datasets(
    run_dir: Path, dataset: Mapping[str, Any], input_shape: Iterable[int], validation_share: float, seed: int
) -> dict[str, Any]:
    """The CT sets of the mask-loss experiment, `radxai.data.datasets.CTVolumeDataset` each.

    The run's training split (``model_datasets(run_dir, "ct", dataset, input_shape)``) divided,
    stratified by label with ``seed``, into "fit" and "early stopping" (``validation_share`` of
    it), beside the run's "val" and "test" splits unchanged. Early stopping on a part of the
    training split keeps the validation split unseen, as the HiResCAM work's protocol does.
    """
    from radxai.data import datasets

    splits = model_datasets(run_dir, "ct", dataset, input_shape)
    development = splits["train"].studies
    parts = datasets.stratified_split(
        [study.label for study in development],
        {FIT_PART: 1 - validation_share, EARLY_STOPPING_PART: validation_share},
        seed=seed,
    )
    sets = {
        part: datasets.CTVolumeDataset(
            [study for study, assigned in zip(development, parts) if assigned == part], shape=splits["train"].shape
        )
        for part in (FIT_PART, EARLY_STOPPING_PART)
    }
    return {**sets, "val": splits["val"], "test": splits["test"]}


def trained_mask_loss_model(
    run_dir: Path,
    dataset: Mapping[str, Any],
    input_shape: Iterable[int],
    validation_share: float,
    arguments: Mapping[str, Any],
    fit: Mapping[str, Any],
    mask_weight: float,
    form: str = "paper",
    rotation_degrees: float = 0.0,
) -> Path:
    """The checkpoint of an AxialNet trained with L_class + ``mask_weight`` * L_mask, once per run.

    Trained by `radxai.guided.fit.fit_mask_loss` on the "fit" part of `mask_loss_datasets`
    (seeded by ``fit["seed"]``), early stopping on its "early stopping" part; ``arguments`` go to
    ``models.build("axialnet", ...)``, ``fit`` to `radxai.train.FitConfig`; ``rotation_degrees``
    > 0 rotates volumes and allowed regions together in the axial plane. Load it with
    ``radxai.models.load``; ``training_history`` reads its epochs.
    """
    from radxai import models, train
    from radxai.guided import allowed_regions
    from radxai.guided import fit as guided_fit

    parameters = {
        "dataset": dict(dataset),
        "input_shape": list(input_shape),
        "validation_share": validation_share,
        "arguments": dict(arguments),
        "fit": dict(fit),
        "mask_weight": mask_weight,
        "form": form,
        "rotation_degrees": rotation_degrees,
    }

    def build(folder: Path) -> None:
        seed = int(fit.get("seed", 0))
        sets = mask_loss_datasets(run_dir, dataset, input_shape, validation_share, seed)
        regions = {part: allowed_regions.AllowedRegionDataset(sets[part]) for part in (FIT_PART, EARLY_STOPPING_PART)}
        augmentation = (
            allowed_regions.JointAugmentation(flip_axes=(), max_degrees=rotation_degrees) if rotation_degrees else None
        )
        # The initial weights come from the global generators: seed them, or reruns differ.
        train.seed_everything(seed)
        model = models.build("axialnet", **arguments)
        history = guided_fit.fit_mask_loss(
            model,
            regions[FIT_PART],
            regions[EARLY_STOPPING_PART],
            train.FitConfig(**fit),
            mask_weight=mask_weight,
            form=form,
            augmentation=augmentation,
            checkpoint=folder / "model.pt",
        )
        write_history(history, folder)

    folder = load_or_build(run_dir, "model-axialnet-mask-loss", parameters, build, code=_guided_training_code())
    return folder / "model.pt"


def gaze_datasets(
    run_dir: Path, dataset: Mapping[str, Any], input_shape: Iterable[int], sigma: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The X-ray splits of ``model_datasets(run_dir, "cxr", dataset, input_shape)`` and, per
    split, the simulated readers' gaze heatmaps (N, H, W) at the input shape, Gaussian
    ``sigma`` pixels (`radxai.data.gaze.simulated_gaze_heatmaps`, seeded by ``dataset["seed"]``)."""
    from radxai.data import gaze

    splits = model_datasets(run_dir, "cxr", dataset, input_shape)
    shape = [int(size) for size in input_shape]
    seed = int(dataset.get("seed", 0))
    heatmaps = {
        split: gaze.simulated_gaze_heatmaps(data.images, shape, sigma, seed=seed) for split, data in splits.items()
    }
    return splits, heatmaps


def trained_gaze_model(
    run_dir: Path,
    dataset: Mapping[str, Any],
    input_shape: Iterable[int],
    gaze_sigma: float,
    arguments: Mapping[str, Any],
    fit: Mapping[str, Any],
    loss_config: Any,
) -> Path:
    """The checkpoint of a U-Net classifier trained against gaze heatmaps, once per run.

    Trained by `radxai.guided.gaze_training.fit_gaze` with ``loss_config`` (a
    `radxai.guided.gaze_training.GazeLossConfig`: the experiment set, generator and weights) on
    the "train" split of `gaze_datasets`, early stopping on "val"; ``arguments`` go to
    ``models.build("unet_classifier", ...)``, ``fit`` to `radxai.train.FitConfig`.
    """
    import dataclasses

    from radxai import models, train
    from radxai.guided import gaze_training

    parameters = {
        "dataset": dict(dataset),
        "input_shape": list(input_shape),
        "gaze_sigma": gaze_sigma,
        "arguments": dict(arguments),
        "fit": dict(fit),
        "loss": dataclasses.asdict(loss_config),
    }

    def build(folder: Path) -> None:
        splits, heatmaps = gaze_datasets(run_dir, dataset, input_shape, gaze_sigma)
        sets = {split: gaze_training.GazeHeatmapDataset(splits[split], heatmaps[split]) for split in ("train", "val")}
        train.seed_everything(int(fit.get("seed", 0)))
        model = models.build("unet_classifier", **arguments)
        history = gaze_training.fit_gaze(
            model, sets["train"], sets["val"], loss_config, train.FitConfig(**fit), checkpoint=folder / "model.pt"
        )
        write_history(history, folder)

    folder = load_or_build(run_dir, "model-unet-gaze", parameters, build, code=_guided_training_code())
    return folder / "model.pt"
