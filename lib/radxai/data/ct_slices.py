"""2D slices of CT volumes as classifier inputs: the slice model of the SHAP/LIME pipeline.

The 3D COVID-19 work explained 2D slices of CT volumes with a 2D classifier (it used a chest
X-ray pneumonia model on coronal CT slices, a model from another modality). Here the 2D model
is trained on the same kind of slice it explains: slices of the training studies, labelled by
whether the slice shows a lesion.

Views on an array (D, H, W) = (slice, row, column) of an axial CT stack:
    axial     volume[k, :, :]  -> (H, W)
    coronal   volume[:, j, :]  -> (D, W)   (rows run anterior-posterior in an axial image)
    sagittal  volume[:, :, i]  -> (D, H)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from radxai.data import preprocess
from radxai.data.datasets import CTStudy
from radxai.slicing import take_slice, view_axis

__all__ = ["lung_slice_range", "CTSliceDataset"]

LUNG_LABELS = (1, 2)


def lung_slice_range(organs: np.ndarray, view: str) -> tuple[int, int]:
    """(first, last) slice indices of `view` that contain lung in an organ label volume
    (D, H, W) (labels 1 and 2 = right and left lung). ValueError if there is no lung."""
    lungs = np.isin(np.asarray(organs), LUNG_LABELS)
    axis = view_axis(view)
    other_axes = tuple(a for a in range(3) if a != axis)
    present = np.flatnonzero(lungs.any(axis=other_axes))
    if present.size == 0:
        raise ValueError("the organ mask has no lung voxels (labels 1, 2)")
    return int(present[0]), int(present[-1])


@dataclass
class CTSliceDataset:
    """Slices of CT studies as 2D classifier inputs: ``dataset[i] -> (x, y)``.

    x: float32 (1, *slice_shape) in [0, 1] (HU window, the volume resized to `volume_shape`,
    then the slice resized bilinearly to `slice_shape`); y: float32 () = 1 if the slice holds
    at least `minimum_lesion_voxels` lesion voxels (at `volume_shape`), else 0.

    From each study, `slices_per_study` slices evenly spaced over the lungs' extent in
    `view` (the phantom's or dataset's organ mask). Studies need lesion and organ masks:
    ValueError names the first study without them.
    """

    studies: Sequence[CTStudy]
    volume_shape: Sequence[int] = preprocess.DEFAULT_CT_SHAPE
    slice_shape: Sequence[int] = (64, 64)
    view: str = "coronal"
    slices_per_study: int = 8
    minimum_lesion_voxels: int = 10
    window: str | tuple[float, float] = "covid"
    _images: list[np.ndarray] = field(default_factory=list, init=False, repr=False)
    _labels: list[float] = field(default_factory=list, init=False, repr=False)
    _origins: list[tuple[str, int]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        view_axis(self.view)
        if self.slices_per_study < 1:
            raise ValueError(f"slices_per_study must be at least 1; got {self.slices_per_study}")
        for study in self.studies:
            if study.mask_path is None or study.organ_path is None:
                raise ValueError(
                    f"{study.study_id} ({study.path}) has no lesion or organ mask; slice labels "
                    "need masks/<study>_mask.nii.gz and organs/<study>_organs.nii.gz"
                )
            volume = preprocess.resize_volume(study.load(), tuple(self.volume_shape))
            scaled = preprocess.clip_and_scale(volume.array, self.window)
            first, last = lung_slice_range(volume.masks["organs"], self.view)
            count = min(self.slices_per_study, last - first + 1)
            for index in np.unique(np.linspace(first, last, count).round().astype(int)):
                lesion_voxels = np.count_nonzero(take_slice(volume.masks["lesion"], self.view, index))
                image = preprocess.resize(take_slice(scaled, self.view, index), self.slice_shape)
                self._images.append(np.clip(image, 0.0, 1.0).astype(np.float32)[None])
                self._labels.append(float(lesion_voxels >= self.minimum_lesion_voxels))
                self._origins.append((study.study_id, int(index)))

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.float32]:
        return self._images[index], np.float32(self._labels[index])

    @property
    def labels(self) -> np.ndarray:
        """The label of every slice, int64 (N,)."""
        return np.array(self._labels, dtype=np.int64)

    @property
    def origins(self) -> list[tuple[str, int]]:
        """(study id, slice index at `volume_shape`) of every slice."""
        return list(self._origins)
