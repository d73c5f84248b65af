"""Synthetic datasets written in real datasets' layouts, the records and model-input datasets
that every loader gives, and splits.

The synthetic CT set is written in the MosMedData layout and the synthetic X-ray set in the
VinDr-CXR layout, and both are read by those datasets' loaders (`radxai.data.real`, layout
"synthetic"), so the code path that reads a researcher's real copy is the one the tests and the
smoke notebooks exercise:

CT (MosMedData)::

    root/studies/CT-0/study_0000.nii.gz        int16 HU volume, one folder per severity grade
    root/masks/study_0001_mask.nii.gz          uint8 lesion mask (1 ground glass, 2 consolidation)
    root/organs/study_0001_organs.nii.gz       uint8 organ labels (synthetic only; see ORGAN_LABELS)
    root/confounders/study_0001_confounders.nii.gz  uint8 voxels of the confounder, if it has one
    root/synthetic_studies.csv                 synthetic only: split, involvement, confounders, seed

X-ray (VinDr-CXR, resized PNG variant)::

    root/train/<image_id>.png                  8-bit grayscale image
    root/train.csv                             image_id, class_name, class_id, rad_id,
                                               x_min, y_min, x_max, y_max (pixels; NaN for
                                               "No finding"); one row per reader and box
    root/masks/<image_id>_<class_id>.png       synthetic only: true extent of each finding
    root/synthetic_images.csv                  synthetic only: split, confounders, seed

Datasets are map-style (``__len__``/``__getitem__`` returning numpy arrays), which
``torch.utils.data.DataLoader`` accepts without this module importing torch.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radxai.data import checksums, io, phantoms, preprocess
from radxai.data.model_input import ModelInput
from radxai.data.orientation import reorient_like_phantoms
from radxai.data.volume import Volume

SPLITS = ("train", "val", "test")
DEFAULT_SPLIT_FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}
CT_STUDY_PATTERN = re.compile(r"study_(\d+)\.nii(\.gz)?$")
VINDR_COLUMNS = ("image_id", "class_name", "class_id", "rad_id", "x_min", "y_min", "x_max", "y_max")


class DatasetLayoutError(ValueError):
    """A dataset folder that does not have the expected layout; the message names what is missing."""


# ------------------------------------------------------------------------------ splits


def child_seed(seed: int, index: int) -> int:
    """A per-item seed derived from a dataset seed, independent across items."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def stratified_split(
    keys: Sequence[Hashable], fractions: Mapping[str, float] | None = None, seed: int = 0
) -> list[str]:
    """Assign each item a split name, keeping each key's (class's) share equal across splits.

    ``keys[i]`` is item i's stratum (e.g. its label). Within a stratum the items are shuffled with
    ``seed`` and cut by ``fractions`` (default 60/20/20 train/val/test) using largest remainders,
    so the result is deterministic and every split receives its share of every stratum.
    Returns a list of split names, one per item.
    """
    fractions = dict(fractions or DEFAULT_SPLIT_FRACTIONS)
    total = sum(fractions.values())
    if total <= 0 or any(value < 0 for value in fractions.values()):
        raise ValueError(f"split fractions must be non-negative with a positive sum, got {fractions}")
    names = list(fractions)
    shares = np.array([fractions[name] / total for name in names])
    assignment = [""] * len(keys)
    rng = np.random.default_rng(seed)
    for stratum in sorted(set(keys), key=repr):
        members = [index for index, key in enumerate(keys) if key == stratum]
        members = [members[i] for i in rng.permutation(len(members))]
        exact = shares * len(members)
        counts = np.floor(exact).astype(int)
        for position in np.argsort(-(exact - counts), kind="stable")[: len(members) - counts.sum()]:
            counts[position] += 1
        start = 0
        for name, count in zip(names, counts):
            for index in members[start : start + count]:
                assignment[index] = name
            start += count
    return assignment


def _confounder_flags(positive: Sequence[bool], splits: Sequence[str], strength: float, seed: int) -> list[bool]:
    """Whether each item carries the confounder: tied to the label in training only.

    In the train split a positive item has it with probability ``strength`` and a negative one
    with ``1 - strength``; in every other split it appears with probability 0.5 whatever the
    label, so a model that learnt the shortcut is exposed on validation and test.
    """
    rng = np.random.default_rng([seed, 7919])
    draws = rng.random(len(positive))
    flags = []
    for is_positive, split, draw in zip(positive, splits, draws):
        probability = (strength if is_positive else 1 - strength) if split == "train" else 0.5
        flags.append(bool(draw < probability))
    return flags


# ------------------------------------------------------------------------- synthetic CT


def ct_affine(shape: Sequence[int], spacing_mm: Sequence[float]) -> np.ndarray:
    """NIfTI affine of a phantom: columns run to the patient's left, rows to posterior, slices to
    the feet, centred on the origin. ``shape`` and ``spacing_mm`` are in (D, H, W) order."""
    depth, height, width = shape
    dz, dy, dx = spacing_mm
    affine = np.diag([-dx, -dy, -dz, 1.0])
    affine[:3, 3] = [dx * (width - 1) / 2, dy * (height - 1) / 2, dz * (depth - 1) / 2]
    return affine


def _grades_for(count: int, grade_shares: Sequence[float], rng: np.random.Generator) -> list[int]:
    exact = np.asarray(grade_shares, dtype=float) / np.sum(grade_shares) * count
    counts = np.floor(exact).astype(int)
    for position in np.argsort(-(exact - counts), kind="stable")[: count - counts.sum()]:
        counts[position] += 1
    grades = np.repeat(np.arange(len(counts)), counts)
    return [int(grade) for grade in rng.permutation(grades)]


def _involvements_for(
    grades: Sequence[int], involvement_range: Sequence[float] | None, rng: np.random.Generator
) -> list[float | None]:
    """One involvement per study: None (drawn by the phantom from its grade) unless a range is
    given, then uniform in it for every positive study (one draw per study, so a study's value
    does not depend on the others' grades)."""
    draws = rng.random(len(grades))
    if involvement_range is None:
        return [None] * len(grades)
    low, high = (float(value) for value in involvement_range)
    if not 0.0 < low <= high <= 1.0:
        raise ValueError(
            f"involvement_range must be (low, high) with 0 < low <= high <= 1; got {tuple(involvement_range)}"
        )
    involvements: list[float | None] = []
    for grade, draw in zip(grades, draws):
        if grade == 0:
            involvements.append(None)
            continue
        value = low + float(draw) * (high - low)
        if phantoms.grade_for_involvement(value) != grade:
            raise ValueError(
                f"involvement_range {tuple(involvement_range)} gives {value:.3f}, which "
                f"does not fit grade CT-{grade}; give that grade no share or change the range"
            )
        involvements.append(value)
    return involvements


def write_synthetic_ct(
    root: Path,
    count: int = 20,
    seed: int = 0,
    shape: Sequence[int] = (64, 128, 128),
    grade_shares: Sequence[float] = (0.5, 0.125, 0.125, 0.125, 0.125),
    confounder: str | None = None,
    confounder_strength: float = 0.9,
    split_fractions: Mapping[str, float] | None = None,
    involvement_range: Sequence[float] | None = None,
    lesion_free_twins: bool = False,
) -> Path:
    """Write ``count`` CT phantoms to ``root`` in the MosMedData layout; return ``root``.

    The last file written is ``SHA256SUMS.txt`` (`radxai.data.checksums`): the sha256 of every
    file, checked each time the copy is read (``radxai.data.real.load_dataset("mosmeddata", root)``),
    so a study changed afterwards is refused by name.

    Grades are drawn with exact shares ``grade_shares`` over CT-0..CT-4 (default: half normal,
    the rest spread over CT-1..CT-4), splits are stratified by grade, and the optional
    ``confounder`` (see ``phantoms.CT_CONFOUNDERS``) is tied to COVID-19 positivity in the train
    split only (probability ``confounder_strength``). Volumes are int16 HU, shape (D, H, W).

    ``involvement_range`` (low, high), fractions of the lung, draws each positive study's
    involvement uniformly from that range (seeded) instead of from its grade: with a narrow low
    range, e.g. (0.005, 0.03) at grade shares (0.5, 0.5, 0, 0, 0), only small focal lesions
    decide the label. Every drawn involvement must fit the grade it was given.
    ``lesion_free_twins`` also writes, for every positive study, the same patient rendered
    without its lesions (same anatomy, confounders and noise; see ``phantoms.ct_phantom``) as
    ``lesion_free/<study_id>_lesion_free.nii.gz``: the voxels where the two differ are the
    evidence of the label by construction.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if len(grade_shares) != 5:
        raise ValueError(f"grade_shares needs one share per grade CT-0..CT-4, got {grade_shares}")
    root = Path(root)
    rng = np.random.default_rng([seed, 1])
    grades = _grades_for(count, grade_shares, rng)
    involvements = _involvements_for(grades, involvement_range, np.random.default_rng([seed, 2]))
    splits = stratified_split(grades, split_fractions, seed=seed)
    positives = [grade > 0 for grade in grades]
    flags = _confounder_flags(positives, splits, confounder_strength, seed) if confounder else [False] * count
    for folder in ("masks", "organs"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    rows = []
    for index, (grade, split, flagged) in enumerate(zip(grades, splits, flags)):
        study_seed = child_seed(seed, index)
        study_confounders = (confounder,) if flagged else ()
        phantom = phantoms.ct_phantom(
            study_seed, shape=tuple(shape), grade=grade, involvement=involvements[index], confounders=study_confounders
        )
        affine = ct_affine(phantom.hu.shape, phantom.spacing_mm)
        study_id = f"study_{index:04d}"
        grade_folder = root / "studies" / f"CT-{grade}"
        grade_folder.mkdir(parents=True, exist_ok=True)
        hu = np.round(phantom.hu).astype(np.int16)
        io.write_nifti(Volume(hu, affine, tuple(phantom.spacing_mm)), grade_folder / f"{study_id}.nii.gz")
        if lesion_free_twins and grade > 0:
            twin = phantoms.ct_phantom(study_seed, shape=tuple(shape), grade=0, confounders=study_confounders)
            (root / "lesion_free").mkdir(exist_ok=True)
            io.write_nifti(
                Volume(np.round(twin.hu).astype(np.int16), affine, tuple(phantom.spacing_mm)),
                root / "lesion_free" / f"{study_id}_lesion_free.nii.gz",
            )
        io.write_nifti(
            Volume(phantom.lesion_mask, affine, tuple(phantom.spacing_mm)), root / "masks" / f"{study_id}_mask.nii.gz"
        )
        io.write_nifti(
            Volume(phantom.organ_mask, affine, tuple(phantom.spacing_mm)), root / "organs" / f"{study_id}_organs.nii.gz"
        )
        if flagged:
            # The confounder's voxels are exactly those that differ from the same phantom
            # without it, so an explanation's share on the shortcut can be measured.
            plain = phantoms.ct_phantom(study_seed, shape=tuple(shape), grade=grade)
            (root / "confounders").mkdir(exist_ok=True)
            io.write_nifti(
                Volume((phantom.hu != plain.hu).astype(np.uint8), affine, tuple(phantom.spacing_mm)),
                root / "confounders" / f"{study_id}_confounders.nii.gz",
            )
        rows.append(
            {
                "study_id": study_id,
                "grade": grade,
                "split": split,
                "involvement": f"{phantom.involvement:.6f}",
                "confounders": ";".join(phantom.confounders),
                "seed": study_seed,
            }
        )
    _write_csv(root / "synthetic_studies.csv", rows)
    checksums.write_sums(root)
    return root


@dataclass(frozen=True)
class CTStudy:
    """One CT study on disk: its id, MosMed grade (0..4), split and file paths."""

    study_id: str
    grade: int
    path: Path
    split: str
    mask_path: Path | None = None
    organ_path: Path | None = None
    confounders: tuple[str, ...] = ()
    involvement: float | None = None
    confounder_path: Path | None = None
    lesion_free_path: Path | None = None

    @property
    def label(self) -> int:
        """1 for COVID-19 findings (CT-1..CT-4), 0 for a normal study (CT-0)."""
        return int(self.grade > 0)

    def load(self, allow_nan: bool = False) -> Volume:
        """The study as a ``Volume`` in HU, its voxels in the phantoms' order (columns toward the
        patient's left, rows toward posterior, slices toward the feet; `radxai.data.orientation`),
        with ``masks['lesion']``, ``masks['organs']`` and ``masks['confounders']`` where the
        dataset has them, reordered alike. A synthetic study is already in that order.

        Raises ``io.ImageReadError`` naming the file that cannot be read, or a mask whose shape
        differs from the study's.
        """
        volume = reorient_like_phantoms(io.read_nifti(self.path, allow_nan=allow_nan))
        masks = {}
        for name, path in (
            ("lesion", self.mask_path),
            ("organs", self.organ_path),
            ("confounders", self.confounder_path),
        ):
            if path is None:
                continue
            mask = reorient_like_phantoms(io.read_nifti(path))
            if mask.shape != volume.shape:
                raise io.ImageReadError(
                    f"{path}: mask shape {mask.shape} differs from the study {self.path.name} shape {volume.shape} "
                    "(D, H, W)"
                )
            masks[name] = mask.array
        return Volume(volume.array, volume.affine, volume.spacing, masks=masks)

    def load_lesion_free(self) -> Volume:
        """The same patient without its lesions (a synthetic set's positive control), in HU, in
        the phantoms' voxel order as `load` gives the study.

        Raises DatasetLayoutError naming the study if the dataset has no lesion-free twin of it
        (real datasets never do; synthetic ones only when written with ``lesion_free_twins``).
        """
        if self.lesion_free_path is None:
            raise DatasetLayoutError(
                f"{self.study_id} has no lesion-free twin: only synthetic sets "
                "written with lesion_free_twins=True hold "
                "lesion_free/<study_id>_lesion_free.nii.gz"
            )
        return reorient_like_phantoms(io.read_nifti(self.lesion_free_path))


@dataclass
class CTVolumeDataset:
    """CT studies as model inputs: ``dataset[i] -> (x, y)`` with x float32 (1, D, H, W) in [0, 1]
    (HU windowed, then resized to ``shape``) and y float32 () the COVID-19 label.

    ``preload=True`` reads and preprocesses every study once, on construction.
    """

    studies: Sequence[CTStudy]
    shape: Sequence[int] = preprocess.DEFAULT_CT_SHAPE
    window: str | tuple[float, float] = "covid"
    preload: bool = True
    _cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.preload:
            for index in range(len(self.studies)):
                self._cache[index] = self._prepare(index)

    def _prepare(self, index: int) -> np.ndarray:
        volume = self.studies[index].load()
        return preprocess.preprocess_ct(volume.array, shape=tuple(self.shape), window=self.window)[None]

    def __len__(self) -> int:
        return len(self.studies)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.float32]:
        image = self._cache.get(index)
        if image is None:
            image = self._prepare(index)
        return image, np.float32(self.studies[index].label)

    @property
    def labels(self) -> np.ndarray:
        """The label of every study, int64 (N,)."""
        return np.array([study.label for study in self.studies], dtype=np.int64)

    @property
    def model_input(self) -> ModelInput:
        """How a scan becomes this dataset's input (stored with a model trained on it)."""
        return ModelInput.for_ct(self.shape, self.window)

    def lesion_free_input(self, index: int) -> np.ndarray:
        """The model input (1, D, H, W) of study ``index``'s lesion-free twin, preprocessed exactly
        as the study is (see :meth:`CTStudy.load_lesion_free`)."""
        volume = self.studies[index].load_lesion_free()
        return preprocess.preprocess_ct(volume.array, shape=tuple(self.shape), window=self.window)[None]


# ----------------------------------------------------------------------- synthetic X-ray


def cxr_class_names() -> list[str]:
    """The X-ray classes in model-output order: the findings by VinDr class id, then No finding."""
    findings = sorted(phantoms.CXR_FINDINGS, key=phantoms.CXR_FINDINGS.get)
    return findings + [phantoms.NO_FINDING[0]]


def _class_id(name: str) -> int:
    return phantoms.NO_FINDING[1] if name == phantoms.NO_FINDING[0] else phantoms.CXR_FINDINGS[name]


def draw_findings(rng: np.random.Generator, normal_share: float, prevalence: float) -> list[str]:
    """The findings of one synthetic X-ray: none with probability ``normal_share``, otherwise
    each finding with probability ``prevalence`` and at least one (drawn uniformly if none was).

    Drawing "normal" first keeps a realistic share of "No finding" images (most of VinDr-CXR)
    however many finding classes there are.
    """
    if not 0 <= normal_share <= 1 or not 0 <= prevalence <= 1:
        raise ValueError(f"normal_share and prevalence must lie in [0, 1], got {normal_share} and {prevalence}")
    names = sorted(phantoms.CXR_FINDINGS, key=phantoms.CXR_FINDINGS.get)
    if rng.random() < normal_share:
        return []
    chosen = [name for name in names if rng.random() < prevalence]
    return chosen or [names[int(rng.integers(len(names)))]]


def write_synthetic_cxr(
    root: Path,
    count: int = 40,
    seed: int = 0,
    shape: Sequence[int] = (256, 256),
    prevalence: float = 0.3,
    normal_share: float = 0.4,
    confounder: str | None = None,
    confounder_label: str = "Cardiomegaly",
    confounder_strength: float = 0.9,
    n_readers: int = 3,
    split_fractions: Mapping[str, float] | None = None,
) -> Path:
    """Write ``count`` X-ray phantoms to ``root`` in the VinDr-CXR layout; return ``root``.

    The last file written is ``SHA256SUMS.txt`` (`radxai.data.checksums`), checked each time
    the copy is read (``radxai.data.real.load_dataset("vindr_cxr", root)``).

    Findings follow ``draw_findings(normal_share, prevalence)``. Every image is read by
    ``n_readers`` simulated readers (``R1``, ``R2``, ...); each reader's boxes become rows of
    ``train.csv``, and a reader who marks nothing gets a "No finding" row, as in VinDr-CXR.
    Splits are stratified by "any finding". The optional ``confounder`` (see
    ``phantoms.CXR_CONFOUNDERS``) is tied to ``confounder_label`` in the train split only.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if confounder_label not in phantoms.CXR_FINDINGS:
        raise ValueError(f"confounder_label {confounder_label!r} is not one of {sorted(phantoms.CXR_FINDINGS)}")
    root = Path(root)
    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    # Findings are drawn first, without the confounder, so that splits and confounder flags can
    # depend on the labels; the confounder then changes only its own pixels.
    finding_rng = np.random.default_rng([seed, 2])
    plain = [
        phantoms.cxr_phantom(
            child_seed(seed, index),
            shape=tuple(shape),
            findings=draw_findings(finding_rng, normal_share, prevalence),
            n_readers=n_readers,
        )
        for index in range(count)
    ]
    any_finding = [not phantom.labels[phantoms.NO_FINDING[0]] for phantom in plain]
    splits = stratified_split(any_finding, split_fractions, seed=seed)
    flags = (
        _confounder_flags([phantom.labels[confounder_label] for phantom in plain], splits, confounder_strength, seed)
        if confounder
        else [False] * count
    )
    box_rows, image_rows = [], []
    for index, (phantom, split, flagged) in enumerate(zip(plain, splits, flags)):
        if flagged:
            present = [name for name, value in phantom.labels.items() if value and name != phantoms.NO_FINDING[0]]
            phantom = phantoms.cxr_phantom(
                phantom.seed, shape=tuple(shape), findings=present, n_readers=n_readers, confounders=(confounder,)
            )
        image_id = f"synthetic_{index:05d}"
        io.write_png(phantom.image, root / "train" / f"{image_id}.png")
        for finding, mask in sorted(phantom.finding_masks.items()):
            io.write_png(mask.astype(np.float32), root / "masks" / f"{image_id}_{_class_id(finding)}.png")
        for reader in (f"R{number}" for number in range(1, n_readers + 1)):
            boxes = [box for box in phantom.reader_boxes if box.reader_id == reader]
            if not boxes:
                box_rows.append(_vindr_row(image_id, phantoms.NO_FINDING[0], reader, None))
            for box in boxes:
                box_rows.append(_vindr_row(image_id, box.finding, reader, (box.x_min, box.y_min, box.x_max, box.y_max)))
        image_rows.append(
            {
                "image_id": image_id,
                "split": split,
                "seed": phantom.seed,
                "confounders": ";".join(phantom.confounders),
                "true_findings": ";".join(name for name, present in phantom.labels.items() if present),
            }
        )
    _write_csv(root / "train.csv", box_rows, columns=VINDR_COLUMNS)
    _write_csv(root / "synthetic_images.csv", image_rows)
    checksums.write_sums(root)
    return root


def _vindr_row(
    image_id: str, finding: str, reader: str, box: tuple[float, float, float, float] | None
) -> dict[str, object]:
    coordinates = box if box is not None else (math.nan,) * 4
    row: dict[str, object] = {
        "image_id": image_id,
        "class_name": finding,
        "class_id": _class_id(finding),
        "rad_id": reader,
    }
    for name, value in zip(("x_min", "y_min", "x_max", "y_max"), coordinates):
        row[name] = "" if math.isnan(value) else f"{value:.1f}"
    return row


@dataclass(frozen=True)
class ReaderAnnotation:
    """One reader's box for one finding, in pixels of the stored image (x = column, y = row)."""

    reader_id: str
    finding: str
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class CXRImage:
    """One X-ray on disk: its id, labels over ``cxr_class_names()``, readers' boxes and split.

    ``labels`` follows the VinDr-CXR convention used by the multi-label X-ray work: a finding is
    positive if at least one reader marked it; "No finding" is positive if no reader marked any.
    """

    image_id: str
    path: Path
    split: str
    labels: dict[str, bool]
    annotations: tuple[ReaderAnnotation, ...]
    confounders: tuple[str, ...] = ()
    mask_paths: dict[str, Path] = field(default_factory=dict)

    def load(self) -> np.ndarray:
        """The image as float32 (H, W) in [0, 1]."""
        return io.read_image(self.path)

    def boxes_of(self, finding: str) -> list[ReaderAnnotation]:
        """Every reader's boxes for ``finding`` (several readers are kept apart)."""
        return [annotation for annotation in self.annotations if annotation.finding == finding]

    def reader_boxes_on_grid(self, class_names: Sequence[str], shape: Sequence[int]) -> dict[str, np.ndarray]:
        """Every reader's boxes per class, rescaled from the stored image to a model input
        grid ``shape`` (H, W): class name -> (R, 4) (x_min, y_min, x_max, y_max) in pixels of
        that grid; classes without a box are left out. Reads the image once for its size."""
        stored_height, stored_width = self.load().shape[:2]
        height, width = (int(size) for size in shape)
        scale = np.array([width / stored_width, height / stored_height] * 2)
        return {
            name: np.array([annotation.box for annotation in annotations]) * scale
            for name in class_names
            if (annotations := self.boxes_of(name))
        }


@dataclass
class CXRImageDataset:
    """X-rays as model inputs: ``dataset[i] -> (x, y)`` with x float32 (1, H, W) in [0, 1] resized
    to ``shape`` and y float32 (K,) the multi-label targets over ``class_names`` (None: the
    synthetic/VinDr classes ``cxr_class_names()``; a real dataset's own classes come from
    ``radxai.data.real.dataset_class_names``)."""

    images: Sequence[CXRImage]
    shape: Sequence[int] = (224, 224)
    preload: bool = True
    class_names: Sequence[str] | None = None
    _cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _targets: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = list(self.class_names) if self.class_names is not None else cxr_class_names()
        for image in self.images:
            missing = [name for name in names if name not in image.labels]
            if missing:
                raise ValueError(
                    f"image {image.image_id} ({image.path}) has no label for classes "
                    f"{missing}; its labels are {sorted(image.labels)}"
                )
        self._targets = np.array(
            [[image.labels[name] for name in names] for image in self.images], dtype=np.float32
        ).reshape(len(self.images), len(names))
        if self.preload:
            for index in range(len(self.images)):
                self._cache[index] = self._prepare(index)

    def _prepare(self, index: int) -> np.ndarray:
        return preprocess.preprocess_xray(self.images[index].load(), shape=tuple(self.shape))[None]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image = self._cache.get(index)
        if image is None:
            image = self._prepare(index)
        return image, self._targets[index]

    @property
    def model_input(self) -> ModelInput:
        """How an image becomes this dataset's input (stored with a model trained on it)."""
        return ModelInput.for_xray(self.shape, self.class_names or cxr_class_names())

    @property
    def targets(self) -> np.ndarray:
        """Multi-label targets, float32 (N, K) over ``cxr_class_names()``."""
        return self._targets


# ---------------------------------------------------------------------------- helpers


def _write_csv(path: Path, rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None) -> None:
    columns = list(columns or (rows[0].keys() if rows else []))
    temporary = path.with_name(f".{path.name}.partial")
    with open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    temporary.replace(path)
