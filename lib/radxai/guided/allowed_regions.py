"""Allowed regions of the HiResCAM mask loss: per-class organ masks, their grid, their augmentation.

PARTITION in the HiResCAM work (Draelos & Carin, section 3.7 and appendix 7.2) combines the
location of each abnormality with right-lung, left-lung and mediastinum masks: the allowed
region of a present abnormality is the union of the organs it lies in; an absent abnormality
has no allowed region at all (its whole volume is forbidden, so that the model does not raise
its score from anywhere). The mask loss compares attention at the last convolutional layer with
these regions downsampled to that layer's grid by nearest neighbour (appendix 7.2.3: better than
trilinear or area downsampling, with or without dilation). Whatever flips and rotations the
training augmentation applies to a volume are applied to its masks as well (appendix 7.2.3),
which `JointAugmentation` does in one call.

Organ names are those of `radxai.data.phantoms.ORGAN_LABELS`: "right_lung", "left_lung",
"mediastinum". Arrays: organ labels (D, H, W) integers; allowed regions bool (K, D, H, W) for
one volume, (N, K, *spatial) for a batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional

from radxai.data import io, preprocess
from radxai.data.datasets import CTVolumeDataset
from radxai.data.phantoms import ORGAN_LABELS
from radxai.evaluate.binarise import nearest_indices

__all__ = [
    "COVID_LUNG_ORGANS",
    "allowed_regions",
    "downsample_to_grid",
    "AllowedRegionDataset",
    "JointAugmentation",
]

# The COVID-19 label of the CT phantoms: ground glass and consolidation lie in either lung.
COVID_LUNG_ORGANS: tuple[tuple[str, ...], ...] = (("right_lung", "left_lung"),)


def allowed_regions(
    organ_labels: np.ndarray, labels: np.ndarray | Sequence[float], class_organs: Sequence[Sequence[str]]
) -> np.ndarray:
    """Allowed region of every class in one volume: bool (K, D, H, W).

    organ_labels: (D, H, W) integer organ labels (`ORGAN_LABELS` values, 0 elsewhere).
    labels: (K,) 0/1 presence of each class. class_organs: for each class, the organ names its
    abnormality may lie in. A present class is allowed the union of its organs; an absent class
    is allowed nothing (every element forbidden).
    Raises ValueError for an unknown organ name (listing the names), a class count that differs
    between labels and class_organs, or labels other than 0/1.
    """
    organs = np.asarray(organ_labels)
    presence = np.atleast_1d(np.asarray(labels, dtype=np.float64))
    if organs.ndim != 3:
        raise ValueError(f"organ_labels must be a (D, H, W) volume, got shape {organs.shape}")
    if presence.ndim != 1 or len(presence) != len(class_organs):
        raise ValueError(
            f"labels (K,) and class_organs must describe the same classes; got labels of shape "
            f"{presence.shape} and {len(class_organs)} class_organs entries"
        )
    if not np.isin(presence, (0.0, 1.0)).all():
        raise ValueError(f"labels must be 0 or 1 (absent or present), got {presence.tolist()}")
    regions = np.zeros((len(presence), *organs.shape), dtype=bool)
    for index, (present, names) in enumerate(zip(presence, class_organs)):
        unknown = [name for name in names if name not in ORGAN_LABELS]
        if unknown:
            raise ValueError(f"unknown organs {unknown} for class {index}; organs: {', '.join(ORGAN_LABELS)}")
        if present:
            regions[index] = np.isin(organs, [ORGAN_LABELS[name] for name in names])
    return regions


def downsample_to_grid(masks: torch.Tensor, grid: Sequence[int]) -> torch.Tensor:
    """Nearest-neighbour downsampling of masks (N, K, *spatial) to (N, K, *grid), bool.

    Output cell i along an axis of size S -> g takes input element floor((i + 1/2) * S / g),
    the element under the cell's centre, as `radxai.evaluate.binarise.resample_mask` does for
    the OrganIoU evaluation, so training and evaluation see the same allowed cells.
    """
    if masks.ndim != 2 + len(grid):
        raise ValueError(f"masks (N, K, *spatial) of shape {tuple(masks.shape)} do not match a grid {tuple(grid)}")
    resampled = masks.bool()
    for axis, (size, cells) in enumerate(zip(masks.shape[2:], grid), start=2):
        if size != cells:
            indices = torch.from_numpy(nearest_indices(int(size), int(cells))).to(masks.device)
            resampled = resampled.index_select(axis, indices)
    return resampled


class AllowedRegionDataset:
    """CT volumes with their classes' allowed regions: ``dataset[i] -> (x, y, allowed)``.

    x: float32 (1, D, H, W) and y: float32 (K,) from ``volumes`` (a `CTVolumeDataset`);
    allowed: bool (K, D, H, W), the organ masks of the study resized to the volume's shape by
    nearest neighbour and combined with y by `allowed_regions`. The organ masks are read once,
    on construction. Raises ValueError when a study has no organ mask.
    """

    def __init__(self, volumes: CTVolumeDataset, class_organs: Sequence[Sequence[str]] = COVID_LUNG_ORGANS) -> None:
        self.volumes = volumes
        self.class_organs = tuple(tuple(names) for names in class_organs)
        self.organ_labels: list[np.ndarray] = []
        for study in volumes.studies:
            if study.organ_path is None:
                raise ValueError(
                    f"study {study.study_id} has no organ mask (expected organs/{study.study_id}_organs.nii.gz); "
                    "the mask loss needs organ masks for every study"
                )
            organs = io.read_nifti(study.organ_path).array
            self.organ_labels.append(preprocess.resize(organs, tuple(volumes.shape), order=0))

    def __len__(self) -> int:
        return len(self.volumes)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        image, label = self.volumes[index]
        labels = np.atleast_1d(np.asarray(label, dtype=np.float32))
        return image, labels, allowed_regions(self.organ_labels[index], labels, self.class_organs)


class JointAugmentation:
    """Random flips and an axial rotation applied alike to inputs and their masks or heatmaps.

    ``augmentation(inputs, companion, generator) -> (inputs, companion)`` with inputs
    (N, C, *spatial) and companion (N, K, *spatial) (allowed regions, or a gaze heatmap). Per
    sample: each axis of ``flip_axes`` (spatial axes, 0 = first spatial axis, negative from
    the end) is flipped with probability ``flip_probability``; then both are rotated by one
    random angle in [-max_degrees, max_degrees] in the last two spatial axes (the axial plane of
    a volume), as `radxai.train.random_rotation` does to inputs. Inputs and floating companions
    are interpolated bilinearly, boolean companions by nearest neighbour (they stay masks);
    outside the rotated field both are zero (a mask forbids what came from outside).
    """

    def __init__(
        self, flip_axes: Sequence[int] = (-1,), max_degrees: float = 20.0, flip_probability: float = 0.5
    ) -> None:
        if not 0.0 <= flip_probability <= 1.0:
            raise ValueError(f"flip_probability must lie in [0, 1], got {flip_probability}")
        if not (math.isfinite(max_degrees) and max_degrees >= 0):
            raise ValueError(f"max_degrees must be a finite angle >= 0, got {max_degrees}")
        self.flip_axes = tuple(int(axis) for axis in flip_axes)
        self.max_degrees = float(max_degrees)
        self.flip_probability = float(flip_probability)

    def __call__(
        self, inputs: torch.Tensor, companion: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, *spatial), (N, K, *spatial) -> both transformed by the same random draws."""
        if inputs.shape[0] != companion.shape[0] or inputs.shape[2:] != companion.shape[2:]:
            raise ValueError(
                f"inputs {tuple(inputs.shape)} and companion {tuple(companion.shape)} must share N and "
                "the spatial shape"
            )
        spatial_dims = inputs.ndim - 2
        if spatial_dims < 2:
            raise ValueError(f"inputs need at least two spatial axes, got shape {tuple(inputs.shape)}")
        count = inputs.shape[0]
        for axis in self.flip_axes:
            if not -spatial_dims <= axis < spatial_dims:
                raise ValueError(f"flip axis {axis} is not a spatial axis of {spatial_dims}D inputs")
            flipped = torch.rand(count, generator=generator) < self.flip_probability
            selector = flipped.reshape(count, *([1] * (inputs.ndim - 1)))
            dim = 2 + axis % spatial_dims
            inputs = torch.where(selector, inputs.flip(dim), inputs)
            companion = torch.where(selector, companion.flip(dim), companion)
        if self.max_degrees == 0:
            return inputs, companion
        angles = (torch.rand(count, generator=generator) * 2 - 1) * math.radians(self.max_degrees)
        grid = functional.affine_grid(
            _rotations(angles.to(inputs.dtype), spatial_dims), list(inputs.shape), align_corners=False
        )
        inputs = functional.grid_sample(inputs, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if companion.dtype == torch.bool:
            companion = (
                functional.grid_sample(
                    companion.to(inputs.dtype), grid, mode="nearest", padding_mode="zeros", align_corners=False
                )
                > 0.5
            )
        else:
            companion = functional.grid_sample(
                companion.to(inputs.dtype), grid, mode="bilinear", padding_mode="zeros", align_corners=False
            )
        return inputs, companion


def _rotations(angles: torch.Tensor, spatial_dims: int) -> torch.Tensor:
    """(N, dims, dims + 1) affine matrices rotating the last two spatial axes by ``angles``."""
    cosine, sine = torch.cos(angles), torch.sin(angles)
    theta = torch.zeros(len(angles), spatial_dims, spatial_dims + 1, dtype=angles.dtype)
    # affine_grid orders coordinates (x, y[, z]) = last spatial axis first.
    theta[:, 0, 0], theta[:, 0, 1] = cosine, -sine
    theta[:, 1, 0], theta[:, 1, 1] = sine, cosine
    if spatial_dims == 3:
        theta[:, 2, 2] = 1.0
    return theta
