"""How a scan becomes a model's input, recorded with the model so that a raw scan can be explained.

A checkpoint trained by radxai stores a `ModelInput` (``models.save(..., model_input=...)``,
written by the training loops from their dataset): the modality, the input grid, the intensity
normalisation (the HU window of a CT model; per-image min-max for radiographs), the voxel order
the model was trained in (CT: the phantoms' (L, P, I), see `radxai.data.orientation`), and the
class names with how the outputs map to them. `ModelInput.prepare` turns a scan into the model's
input exactly as training did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from radxai.data import preprocess
from radxai.data.orientation import PHANTOM_AXIS_CODES

__all__ = ["CT_CLASS_NAMES", "MODALITIES", "ModelInput", "ModelInputError"]

MODALITIES = ("ct", "xray")
# The CT task's one logit: class 1 scores the logit, class 0 its negative (radxai.explain.targets).
CT_CLASS_NAMES = ("normal (CT-0)", "COVID-19 (CT-1 to CT-4)")
OUTPUTS = ("one logit: class 1 scores it, class 0 its negative", "one logit per class (multi-label, sigmoid)")
_FIELDS = ("modality", "input_shape", "class_names", "outputs")


class ModelInputError(ValueError):
    """A model-input record that is missing or incomplete, or a scan it cannot prepare."""


@dataclass(frozen=True)
class ModelInput:
    """How scans become this model's input.

    modality: "ct" (volumes (D, H, W) in HU) or "xray" (images (H, W), any unit).
    input_shape: the model's grid, (D, H, W) or (H, W).
    class_names: one per class; ``outputs`` says how the model's outputs score them.
    hu_window: CT only, (low, high) HU mapped to [0, 1] (clipped outside).
    axis_codes: CT only, nibabel axis codes of the training volumes' voxel axes (i, j, k).
    """

    modality: str
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    outputs: str
    hu_window: tuple[float, float] | None = None
    axis_codes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ModelInputError(f"unknown modality {self.modality!r}; use one of {', '.join(MODALITIES)}")
        spatial = 3 if self.modality == "ct" else 2
        if len(self.input_shape) != spatial or any(int(size) < 1 for size in self.input_shape):
            raise ModelInputError(
                f"a {self.modality} model's input_shape needs {spatial} positive sizes; got {self.input_shape}"
            )
        if self.modality == "ct" and (self.hu_window is None or self.axis_codes is None):
            raise ModelInputError("a CT model's input needs its HU window and axis codes")
        if self.outputs not in OUTPUTS:
            raise ModelInputError(f"unknown outputs {self.outputs!r}; use one of {OUTPUTS}")

    @classmethod
    def for_ct(cls, input_shape: Sequence[int], window: preprocess.WindowSpec) -> ModelInput:
        """The CT task's input: HU ``window`` (a name of `preprocess.WINDOWS` or (low, high)),
        resized to ``input_shape``, in the phantoms' voxel order, one COVID-19 logit."""
        low, high = preprocess.resolve_window(window)
        return cls(
            "ct",
            tuple(int(size) for size in input_shape),
            CT_CLASS_NAMES,
            OUTPUTS[0],
            (float(low), float(high)),
            PHANTOM_AXIS_CODES,
        )

    @classmethod
    def for_xray(cls, input_shape: Sequence[int], class_names: Sequence[str]) -> ModelInput:
        """The multi-label X-ray task's input: per-image min-max to [0, 1], resized to ``input_shape``."""
        return cls("xray", tuple(int(size) for size in input_shape), tuple(class_names), OUTPUTS[1])

    def prepare(self, scan: np.ndarray) -> np.ndarray:
        """The model input float32 (1, 1, *input_shape) of one scan: (D, H, W) HU in the model's
        voxel order for CT, (H, W) for an X-ray. Another number of dimensions raises ModelInputError."""
        scan = np.asarray(scan)
        spatial = len(self.input_shape)
        if scan.ndim != spatial:
            kind = "a (D, H, W) volume" if self.modality == "ct" else "an (H, W) image"
            raise ModelInputError(f"this {self.modality} model takes {kind}; got an array of shape {scan.shape}")
        if self.modality == "ct":
            prepared = preprocess.preprocess_ct(scan, shape=self.input_shape, window=self.hu_window)
        else:
            prepared = preprocess.preprocess_xray(scan, shape=self.input_shape)
        return prepared[None, None]

    def class_index(self, name_or_index: str | int) -> int:
        """The class index of a class name or index; an unknown one raises ModelInputError listing them."""
        names = list(self.class_names)
        if isinstance(name_or_index, str) and not name_or_index.lstrip("-").isdigit():
            if name_or_index not in names:
                raise ModelInputError(f"unknown class {name_or_index!r}; classes: {', '.join(names)}")
            return names.index(name_or_index)
        index = int(name_or_index)
        if not 0 <= index < len(names):
            raise ModelInputError(f"class index {index} is outside 0..{len(names) - 1} ({', '.join(names)})")
        return index

    def as_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint (lists, strings, numbers)."""
        record = asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in record.items()}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any] | None, source: str) -> ModelInput:
        """Read `as_dict`'s record; ``source`` names the checkpoint in errors. A missing record or
        field raises ModelInputError saying what is missing and how to get it."""
        if record is None:
            raise ModelInputError(
                f"{source} does not record how scans become its input (modality, input shape, HU window, "
                "voxel order, class names): it was saved before radxai recorded them, or without a dataset "
                "that knows them. Retrain it with radxai, or save it again with "
                "models.save(model, path, model_input=ModelInput.for_ct(...).as_dict())"
            )
        missing = [name for name in _FIELDS if name not in record]
        if missing:
            raise ModelInputError(f"{source}: its input record lacks {', '.join(missing)}")
        values = dict(record)
        for name in ("input_shape", "class_names", "hu_window", "axis_codes"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**{name: values.get(name) for name in (*_FIELDS, "hu_window", "axis_codes")})
