"""DICOM: CT series (one folder, one series) as HU volumes, and single radiographs in [0, 1]."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from radxai.data.io.errors import ImageReadError, PathLike
from radxai.data.volume import Volume, affine_to_spacing

# A slice gap larger than this multiple of the median gap means slices are missing.
_MISSING_SLICE_GAP_RATIO = 1.5
# Two slices closer than this fraction of the median gap sit at the same position.
_DUPLICATE_SLICE_GAP_RATIO = 0.01
# Every slice gap within this share of the median gap: one slice step (the affine's) then
# places every slice within a twentieth of a gap; a series with mixed spacing is refused.
_IRREGULAR_SLICE_GAP_RATIO = 0.05
_ORIENTATION_TOLERANCE = 1e-4
_INT16_RANGE = (np.iinfo(np.int16).min, np.iinfo(np.int16).max)


# --------------------------------------------------------------------------- DICOM series


def read_dicom_series(folder: PathLike) -> Volume:
    """Read one CT series from a folder of single-frame DICOM files as a `Volume` in HU.

    Dot-files, non-DICOM files and DICOM objects without pixel data (e.g. DICOMDIR, structured
    reports) are skipped; refused as damaged: a file named ``*.dcm``, ``*.dicom`` or ``*.ima``
    that does not read as DICOM, a header that fails to parse, a CT image object without pixels,
    and an object without a SOP Class UID that is not a DICOMDIR. The
    folder must hold exactly one SeriesInstanceUID. Slices are ordered by their position
    along the slice normal (ImagePositionPatient projected on row cosine x column cosine),
    never by file name or InstanceNumber. RescaleSlope/RescaleIntercept are applied per
    slice: int16 when every value is an integer within int16 range, float32 otherwise.

    Returns array (D, H, W) with D ascending along the slice normal, affine mapping voxel
    (i, j, k) -> RAS+ mm (DICOM's LPS with x and y negated; column i steps along the row
    cosine by PixelSpacing[1], row j along the column cosine by PixelSpacing[0], slice k
    by the mean step between slice positions) and spacing (dz, dy, dx) from that affine.
    Raises `ImageReadError` for no DICOM, several series, inconsistent geometry, duplicate
    positions, missing slices or irregular spacing (any gap more than 5% off the median).
    """
    directory = Path(folder)
    if not directory.is_dir():
        raise ImageReadError(f"{directory}: no such folder")
    slices = _read_dicom_slices(directory)
    _require_single_series(slices, directory)
    geometry = _SeriesGeometry.from_first_slice(slices[0][1], directory)
    positions = np.array([geometry.check_and_locate(dataset, name) for name, dataset in slices])
    distances = positions @ geometry.normal
    order = np.argsort(distances, kind="stable")
    ordered = [slices[index] for index in order]
    _check_slice_gaps(distances[order], [name for name, _ in ordered], directory)
    array = _stack_hounsfield(ordered, directory)
    affine = geometry.affine(positions[order], ordered[0][1])
    return Volume(array, affine, affine_to_spacing(affine))


# A file with one of these suffixes claims to be DICOM: if it does not read as DICOM it is a
# damaged slice, not a README to skip (skipping it would silently drop a slice).
_DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")


def _read_dicom_slices(directory: Path) -> list[tuple[str, pydicom.Dataset]]:
    slices = []
    # Dot-files are not slices: macOS copies leave "._IM0001.dcm" resource forks beside them.
    for file_path in sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            dataset = pydicom.dcmread(file_path)
        except InvalidDicomError as error:
            if file_path.suffix.lower() in _DICOM_SUFFIXES:
                raise ImageReadError(
                    f"{file_path}: named as DICOM but not a readable DICOM file (damaged "
                    f"preamble or file meta header?): {error}"
                ) from error
            continue
        except Exception as error:  # pydicom's errors on damaged bytes are of many types
            raise ImageReadError(f"{file_path}: damaged DICOM file ({type(error).__name__}: {error})") from error
        _parse_header(dataset, file_path)
        if "PixelData" in dataset:
            slices.append((file_path.name, dataset))
        elif (
            "Rows" in dataset
            or "ImagePositionPatient" in dataset
            or str(dataset.get("SOPClassUID", "")) in _CT_IMAGE_STORAGE
        ):
            # An image's header without its pixels: a file cut short, not a DICOMDIR to skip.
            raise ImageReadError(f"{file_path}: an image slice without pixel data (truncated file?)")
        elif not _is_dicom_directory(dataset) and "SOPClassUID" not in dataset:
            # Every DICOM object but a DICOMDIR names its SOP class; a file that parses without
            # one is a damaged header whose parse went astray (its slice would silently vanish).
            raise ImageReadError(f"{file_path}: a damaged DICOM header (no SOP Class UID, no pixel data)")
    if not slices:
        raise ImageReadError(f"{directory}: no DICOM image files found")
    return slices


_MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"


# CT Image Storage and Enhanced CT Image Storage: objects that must carry pixels.
_CT_IMAGE_STORAGE = ("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1")
# What the series reader reads of each file, besides the pixels.
_READ_KEYWORDS = (
    "SOPClassUID",
    "SeriesInstanceUID",
    "Rows",
    "Columns",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "SliceThickness",
    "SpacingBetweenSlices",
    "RescaleSlope",
    "RescaleIntercept",
    "BitsAllocated",
    "BitsStored",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "SamplesPerPixel",
)


def _parse_header(dataset: pydicom.Dataset, file_path: Path) -> None:
    """Convert the file meta group and the elements the reader uses now: pydicom parses values
    lazily, so a damaged header would otherwise fail later, somewhere in the geometry code, with
    pydicom's own exception. Other elements (private tags, an anonymiser's placeholder in a
    number field) are left alone, as they do not change the volume."""
    try:
        meta = getattr(dataset, "file_meta", None)
        for _ in meta.iterall() if meta is not None else ():
            pass
        for keyword in _READ_KEYWORDS:
            dataset.get(keyword)
    except Exception as error:  # any failure to parse untrusted bytes means a damaged file
        raise ImageReadError(f"{file_path}: damaged DICOM header ({type(error).__name__}: {error})") from error


def _is_dicom_directory(dataset: pydicom.Dataset) -> bool:
    meta = getattr(dataset, "file_meta", None)
    return meta is not None and str(meta.get("MediaStorageSOPClassUID", "")) == _MEDIA_STORAGE_DIRECTORY


def _require_single_series(slices: list[tuple[str, pydicom.Dataset]], directory: Path) -> None:
    counts = Counter(str(dataset.get("SeriesInstanceUID", "<missing>")) for _, dataset in slices)
    if len(counts) > 1:
        listing = ", ".join(f"{uid} ({count} files)" for uid, count in sorted(counts.items()))
        raise ImageReadError(f"{directory}: holds {len(counts)} series, expected one: {listing}")


class _SeriesGeometry:
    """Orientation and in-plane size shared by every slice of a series (LPS world)."""

    def __init__(
        self,
        row_cosine: np.ndarray,
        column_cosine: np.ndarray,
        pixel_spacing: tuple[float, float],
        size: tuple[int, int],
        directory: Path,
    ) -> None:
        self.row_cosine = row_cosine
        self.column_cosine = column_cosine
        self.normal = np.cross(row_cosine, column_cosine)
        self.pixel_spacing = pixel_spacing
        self.size = size
        self.directory = directory

    @classmethod
    def from_first_slice(cls, dataset: pydicom.Dataset, directory: Path) -> _SeriesGeometry:
        """Geometry of `dataset`, against which all other slices are checked."""
        orientation = _required_floats(dataset, "ImageOrientationPatient", 6, directory)
        spacing = _required_floats(dataset, "PixelSpacing", 2, directory)
        return cls(
            orientation[:3],
            orientation[3:],
            (float(spacing[0]), float(spacing[1])),
            (int(dataset.Rows), int(dataset.Columns)),
            directory,
        )

    def check_and_locate(self, dataset: pydicom.Dataset, name: str) -> np.ndarray:
        """ImagePositionPatient (LPS mm) of a slice, after checking it shares the geometry."""
        location = self.directory / name
        orientation = _required_floats(dataset, "ImageOrientationPatient", 6, location)
        if not np.allclose(
            orientation,
            np.concatenate([self.row_cosine, self.column_cosine]),
            atol=_ORIENTATION_TOLERANCE,
        ):
            raise ImageReadError(f"{location}: ImageOrientationPatient differs from the series")
        spacing = _required_floats(dataset, "PixelSpacing", 2, location)
        if not np.allclose(spacing, self.pixel_spacing):
            raise ImageReadError(f"{location}: PixelSpacing differs from the series")
        if (int(dataset.Rows), int(dataset.Columns)) != self.size:
            raise ImageReadError(f"{location}: image size differs from the series")
        return _required_floats(dataset, "ImagePositionPatient", 3, location)

    def affine(self, ordered_positions: np.ndarray, first: pydicom.Dataset) -> np.ndarray:
        """NIfTI-convention RAS affine for slices at `ordered_positions` (N, 3) LPS mm."""
        if len(ordered_positions) > 1:
            # The mean step follows gantry tilt, which a step along the normal would not.
            slice_step = (ordered_positions[-1] - ordered_positions[0]) / (len(ordered_positions) - 1)
        else:
            slice_step = self.normal * _single_slice_thickness(first)
        row_spacing, column_spacing = self.pixel_spacing
        lps = np.eye(4)
        lps[:3, 0] = self.row_cosine * column_spacing
        lps[:3, 1] = self.column_cosine * row_spacing
        lps[:3, 2] = slice_step
        lps[:3, 3] = ordered_positions[0]
        return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def _required_floats(dataset: pydicom.Dataset, keyword: str, count: int, location: Path) -> np.ndarray:
    value = dataset.get(keyword)
    if value is None or len(value) != count:
        raise ImageReadError(f"{location}: missing or malformed {keyword}")
    return np.array([float(item) for item in value], dtype=np.float64)


def _single_slice_thickness(dataset: pydicom.Dataset) -> float:
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        value = dataset.get(keyword)
        if value is not None and float(value) > 0:
            return float(value)
    # A lone slice without a thickness still needs an invertible affine; 1 mm is neutral.
    return 1.0


def _check_slice_gaps(distances: np.ndarray, names: list[str], directory: Path) -> None:
    if len(distances) < 2:
        return
    gaps = np.diff(distances)
    median_gap = float(np.median(gaps))
    duplicates = np.flatnonzero(gaps <= _DUPLICATE_SLICE_GAP_RATIO * median_gap)
    if duplicates.size:
        index = int(duplicates[0])
        raise ImageReadError(
            f"{directory}: slices {names[index]} and {names[index + 1]} share the position "
            f"{distances[index]:.3f} mm along the slice normal (duplicate slices)"
        )
    large = np.flatnonzero(gaps > _MISSING_SLICE_GAP_RATIO * median_gap)
    if large.size:
        index = int(large[0])
        raise ImageReadError(
            f"{directory}: missing slices: gap of {gaps[index]:.3f} mm between positions "
            f"{distances[index]:.3f} and {distances[index + 1]:.3f} mm along the slice normal "
            f"(after slice {index} of {len(distances)}, files {names[index]} and "
            f"{names[index + 1]}), median gap {median_gap:.3f} mm"
        )
    irregular = np.flatnonzero(np.abs(gaps - median_gap) > _IRREGULAR_SLICE_GAP_RATIO * median_gap)
    if irregular.size:
        index = int(irregular[0])
        raise ImageReadError(
            f"{directory}: irregular slice spacing: gap of {gaps[index]:.3f} mm between files "
            f"{names[index]} and {names[index + 1]} against a median gap of {median_gap:.3f} mm; "
            "one slice step cannot place every slice (resample the series to even spacing first)"
        )


def _stack_hounsfield(ordered: list[tuple[str, pydicom.Dataset]], directory: Path) -> np.ndarray:
    planes = [_hounsfield_plane(dataset, directory / name) for name, dataset in ordered]
    volume = np.stack(planes)
    integral = np.array_equal(volume, np.round(volume))
    within_int16 = volume.min() >= _INT16_RANGE[0] and volume.max() <= _INT16_RANGE[1]
    return volume.astype(np.int16 if integral and within_int16 else np.float32)


def _hounsfield_plane(dataset: pydicom.Dataset, file_path: Path) -> np.ndarray:
    pixels = _pixel_array(dataset, file_path)
    if pixels.ndim != 2:
        raise ImageReadError(f"{file_path}: expected a single-frame grayscale slice, got pixel shape {pixels.shape}")
    return np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float64)


def _pixel_array(dataset: pydicom.Dataset, file_path: Path) -> np.ndarray:
    try:
        return dataset.pixel_array
    except Exception as error:  # pydicom's decoders raise many unrelated types
        raise ImageReadError(f"{file_path}: cannot decode the pixel data: {error}") from error


# --------------------------------------------------------------------------- DICOM radiograph


def read_dicom_image(path: PathLike) -> np.ndarray:
    """Read a single-frame 2D DICOM radiograph as float32 (H, W) in [0, 1], bright = dense.

    Applies the Modality LUT (rescale), then the VOI LUT or window (WindowCenter/Width),
    and scales by that VOI's output range; without VOI information the image's own
    min..max is used. MONOCHROME1 images (low value = bright) are inverted.
    """
    file_path = Path(path)
    if not file_path.is_file():
        raise ImageReadError(f"{file_path}: no such file")
    try:
        dataset = pydicom.dcmread(file_path)
    except (InvalidDicomError, OSError, EOFError, ValueError) as error:
        raise ImageReadError(f"{file_path}: not a readable DICOM file: {error}") from error
    pixels = _pixel_array(dataset, file_path)
    photometric = str(dataset.get("PhotometricInterpretation", ""))
    if pixels.ndim != 2 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ImageReadError(
            f"{file_path}: expected a single-frame grayscale image, got pixel shape "
            f"{pixels.shape} with PhotometricInterpretation {photometric!r}"
        )
    modality_values = apply_modality_lut(pixels, dataset)
    shown = np.asarray(apply_voi_lut(modality_values, dataset), dtype=np.float64)
    low, high = _voi_output_range(dataset, shown)
    scaled = _scale_to_unit(shown, low, high)
    if photometric == "MONOCHROME1":
        scaled = 1.0 - scaled
    return scaled.astype(np.float32)


def _voi_output_range(dataset: pydicom.Dataset, shown: np.ndarray) -> tuple[float, float]:
    """The (low, high) values the VOI transform can output, or the image's own range."""
    lut_sequence = dataset.get("VOILUTSequence")
    if lut_sequence and "LUTData" in lut_sequence[0] and "LUTDescriptor" in lut_sequence[0]:
        # apply_voi_lut prefers a VOI LUT over a window when both are present.
        table = np.asarray(lut_sequence[0].LUTData, dtype=np.float64)
        return float(table.min()), float(table.max())
    if "WindowCenter" in dataset and "WindowWidth" in dataset:
        # Windowing minus and plus infinity gives pydicom's own output limits, which depend
        # on BitsStored, PixelRepresentation and the rescale.
        limits = apply_voi_lut(np.array([-np.inf, np.inf]), dataset)
        return float(np.min(limits)), float(np.max(limits))
    return float(shown.min()), float(shown.max())


def _scale_to_unit(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high <= low:
        return np.zeros_like(values)
    return np.clip((values - low) / (high - low), 0.0, 1.0)
