"""Reading and writing chest images: NIfTI volumes, DICOM series and radiographs, PNG/JPEG.

Conventions:
- Volumes are returned as `Volume` objects with arrays in (D, H, W) = (slice k, row j,
  column i) order and a NIfTI-convention affine (voxel (i, j, k) -> RAS+ world mm).
- 2D images are float32 (H, W) arrays scaled to [0, 1], bright = dense.
- Writers are atomic (a temporary file in the target directory, then `os.replace`) and
  byte-deterministic, so the same input always gives a file with the same sha256.
- Every read failure raises `ImageReadError`, whose message names the file and the problem.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError
from PIL import Image, UnidentifiedImageError
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from radxai.data.atomic import write_bytes_atomically
from radxai.data.volume import Volume, affine_to_spacing

__all__ = [
    "ImageReadError",
    "read_nifti",
    "write_nifti",
    "read_dicom_series",
    "read_dicom_image",
    "read_image",
    "write_png",
]

PathLike = str | os.PathLike[str]

# Fixed so that the bytes of a written .nii.gz do not depend on library defaults; level 6
# is zlib's own balance between speed and size.
_GZIP_LEVEL = 6
_GZIP_MAGIC = b"\x1f\x8b"
# NIfTI codes 1 = scanner anatomical; the affine written is exactly the one given.
_NIFTI_XFORM_SCANNER = 1
# A slice gap larger than this multiple of the median gap means slices are missing.
_MISSING_SLICE_GAP_RATIO = 1.5
# Two slices closer than this fraction of the median gap sit at the same position.
_DUPLICATE_SLICE_GAP_RATIO = 0.01
# Every slice gap within this share of the median gap: one slice step (the affine's) then
# places every slice within a twentieth of a gap; a series with mixed spacing is refused.
_IRREGULAR_SLICE_GAP_RATIO = 0.05
_ORIENTATION_TOLERANCE = 1e-4
_INT16_RANGE = (np.iinfo(np.int16).min, np.iinfo(np.int16).max)


class ImageReadError(ValueError):
    """An image file is missing, damaged, of the wrong kind or has unusable content.

    The message names the file (or folder) and the problem.
    """


# --------------------------------------------------------------------------- NIfTI


def read_nifti(path: PathLike, allow_nan: bool = False) -> Volume:
    """Read a NIfTI-1/2 file (.nii or .nii.gz) as a `Volume`.

    Returns array (D, H, W) = nibabel data (i, j, k) transposed to (k, j, i), the file's
    affine unchanged (voxel (i, j, k) -> RAS+ mm) and spacing (dz, dy, dx) in mm from it.
    The stored dtype is kept unless the header asks for scaling (then float).
    NaN or infinite voxels raise `ImageReadError` giving their count unless `allow_nan` is True.
    """
    file_path = Path(path)
    image = _load_nifti_image(file_path)
    try:
        data = np.asanyarray(image.dataobj)
    except (OSError, EOFError, zlib.error, ValueError) as error:
        raise ImageReadError(
            f"{file_path}: cannot read the voxel data (truncated or damaged file?): {error}"
        ) from error
    if data.ndim != 3:
        raise ImageReadError(f"{file_path}: expected a 3D volume, got data shape {data.shape}")
    if not allow_nan:
        _reject_nan(data, file_path)
    affine = np.asarray(image.affine, dtype=np.float64)
    array = np.ascontiguousarray(data.transpose(2, 1, 0))
    return Volume(array, affine, affine_to_spacing(affine))


def _load_nifti_image(file_path: Path) -> nib.Nifti1Image:
    if not file_path.is_file():
        raise ImageReadError(f"{file_path}: no such file")
    size = _check_gzip_integrity(file_path) if file_path.suffix == ".gz" else file_path.stat().st_size
    try:
        image = nib.load(file_path)
    except (OSError, EOFError, zlib.error, ValueError, ImageFileError, HeaderDataError) as error:
        raise ImageReadError(f"{file_path}: not a readable NIfTI file: {error}") from error
    if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
        kind = type(image).__name__
        raise ImageReadError(f"{file_path}: not a NIfTI file (nibabel read it as {kind})")
    header = image.header
    promised = int(header.get_data_offset()) + int(np.prod(header.get_data_shape(), dtype=np.int64)) * \
        header.get_data_dtype().itemsize
    if promised > size:
        # Checked before reading: a header claiming 512 x 512 x 400 voxels in a small file would
        # otherwise allocate the whole array first.
        raise ImageReadError(f"{file_path}: the header promises {promised} bytes of image data, the file "
                             f"holds {size} (truncated file or damaged header)")
    return image


def _check_gzip_integrity(file_path: Path) -> int:
    """Decompress the whole file once, so its CRC-32 and length are checked (nibabel's reader
    can return voxels from a damaged stream without noticing); return the decompressed size."""
    size = 0
    try:
        with gzip.open(file_path, "rb") as stream:
            while chunk := stream.read(1 << 22):
                size += len(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise ImageReadError(f"{file_path}: damaged gzip stream ({error})") from error
    return size


def _reject_nan(data: np.ndarray, file_path: Path) -> None:
    if not np.issubdtype(data.dtype, np.floating):
        return
    # +-Inf is as unusable as NaN: one infinite voxel turns every normalisation into NaN.
    bad_count = int(np.count_nonzero(~np.isfinite(data)))
    if bad_count:
        raise ImageReadError(
            f"{file_path}: {bad_count} of {data.size} voxels are NaN or infinite "
            "(pass allow_nan=True to keep them)"
        )


def write_nifti(
    volume_or_array: Volume | np.ndarray,
    path: PathLike,
    affine: np.ndarray | None = None,
    dtype: np.dtype | type | str | None = None,
) -> None:
    """Write a volume to a NIfTI-1 file (.nii, or gzip-compressed when the name ends .gz).

    volume_or_array: a `Volume`, or a (D, H, W) array together with `affine` (4x4, voxel
    (i, j, k) -> RAS+ mm). The array is written in nibabel (i, j, k) order and the affine
    as both qform and sform (code 1, scanner), so `read_nifti` gives back the same array,
    affine and spacing. NIfTI stores the affine in float32. dtype: the on-disk type,
    default the array's own; values must be representable in it exactly (no scaling is
    ever written). The write is atomic and the bytes depend only on the input.
    """
    array, affine_matrix = _array_and_affine(volume_or_array, affine)
    data = _cast_for_nifti(array, dtype)
    image = nib.Nifti1Image(data.transpose(2, 1, 0), None, dtype=data.dtype)
    image.set_sform(affine_matrix, code=_NIFTI_XFORM_SCANNER)
    image.set_qform(affine_matrix, code=_NIFTI_XFORM_SCANNER)
    content = image.to_bytes()
    if str(path).endswith(".gz"):
        # mtime=0 keeps the timestamp out of the gzip header, so equal input -> equal bytes.
        content = gzip.compress(content, compresslevel=_GZIP_LEVEL, mtime=0)
    write_bytes_atomically(content, path)


def _array_and_affine(
    volume_or_array: Volume | np.ndarray, affine: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(volume_or_array, Volume):
        if affine is not None:
            raise ValueError("write_nifti: give an affine only with a bare array, not a Volume")
        return volume_or_array.array, volume_or_array.affine
    if affine is None:
        raise ValueError("write_nifti: a bare array needs an affine (4x4, voxel -> RAS mm)")
    array = np.asarray(volume_or_array)
    volume = Volume(array, affine, affine_to_spacing(affine))
    return volume.array, volume.affine


def _cast_for_nifti(array: np.ndarray, dtype: np.dtype | type | str | None) -> np.ndarray:
    if array.dtype == np.bool_ and dtype is None:
        # NIfTI has no boolean type; uint8 is what viewers expect for masks.
        dtype = np.uint8
    target = np.dtype(array.dtype if dtype is None else dtype)
    try:
        nib.Nifti1Header().set_data_dtype(target)
    except HeaderDataError as error:
        raise ValueError(f"write_nifti: dtype {target} cannot be stored in NIfTI-1") from error
    if target == array.dtype:
        return array
    converted = array.astype(target)
    with np.errstate(invalid="ignore"):
        exact = np.array_equal(converted.astype(array.dtype), array, equal_nan=True)
    if not exact:
        raise ValueError(
            f"write_nifti: values of dtype {array.dtype} change when stored as {target} "
            "(out of range or fractional); convert them explicitly first"
        )
    return converted


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
                raise ImageReadError(f"{file_path}: named as DICOM but not a readable DICOM file (damaged "
                                     f"preamble or file meta header?): {error}") from error
            continue
        except Exception as error:  # pydicom's errors on damaged bytes are of many types
            raise ImageReadError(f"{file_path}: damaged DICOM file ({type(error).__name__}: {error})") from error
        _parse_header(dataset, file_path)
        if "PixelData" in dataset:
            slices.append((file_path.name, dataset))
        elif ("Rows" in dataset or "ImagePositionPatient" in dataset
              or str(dataset.get("SOPClassUID", "")) in _CT_IMAGE_STORAGE):
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
_READ_KEYWORDS = ("SOPClassUID", "SeriesInstanceUID", "Rows", "Columns", "ImagePositionPatient",
                  "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "SpacingBetweenSlices",
                  "RescaleSlope", "RescaleIntercept", "BitsAllocated", "BitsStored", "PixelRepresentation",
                  "PhotometricInterpretation", "SamplesPerPixel")


def _parse_header(dataset: pydicom.Dataset, file_path: Path) -> None:
    """Convert the file meta group and the elements the reader uses now: pydicom parses values
    lazily, so a damaged header would otherwise fail later, somewhere in the geometry code, with
    pydicom's own exception. Other elements (private tags, an anonymiser's placeholder in a
    number field) are left alone, as they do not change the volume."""
    try:
        meta = getattr(dataset, "file_meta", None)
        for _ in (meta.iterall() if meta is not None else ()):
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
        raise ImageReadError(
            f"{directory}: holds {len(counts)} series, expected one: {listing}"
        )


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
            orientation, np.concatenate([self.row_cosine, self.column_cosine]),
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
            slice_step = (ordered_positions[-1] - ordered_positions[0]) / (
                len(ordered_positions) - 1
            )
        else:
            slice_step = self.normal * _single_slice_thickness(first)
        row_spacing, column_spacing = self.pixel_spacing
        lps = np.eye(4)
        lps[:3, 0] = self.row_cosine * column_spacing
        lps[:3, 1] = self.column_cosine * row_spacing
        lps[:3, 2] = slice_step
        lps[:3, 3] = ordered_positions[0]
        return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def _required_floats(
    dataset: pydicom.Dataset, keyword: str, count: int, location: Path
) -> np.ndarray:
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


def _stack_hounsfield(
    ordered: list[tuple[str, pydicom.Dataset]], directory: Path
) -> np.ndarray:
    planes = [_hounsfield_plane(dataset, directory / name) for name, dataset in ordered]
    volume = np.stack(planes)
    integral = np.array_equal(volume, np.round(volume))
    within_int16 = volume.min() >= _INT16_RANGE[0] and volume.max() <= _INT16_RANGE[1]
    return volume.astype(np.int16 if integral and within_int16 else np.float32)


def _hounsfield_plane(dataset: pydicom.Dataset, file_path: Path) -> np.ndarray:
    pixels = _pixel_array(dataset, file_path)
    if pixels.ndim != 2:
        raise ImageReadError(
            f"{file_path}: expected a single-frame grayscale slice, got pixel shape {pixels.shape}"
        )
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


# --------------------------------------------------------------------------- PNG / JPEG


def read_image(path: PathLike) -> np.ndarray:
    """Read a PNG or JPEG as float32 (H, W) in [0, 1].

    8-bit images are divided by 255, 16-bit grayscale by 65535; colour images are
    converted to grayscale (ITU-R 601-2 luma) first.
    """
    file_path = Path(path)
    if not file_path.is_file():
        raise ImageReadError(f"{file_path}: no such file")
    # Read once: the PNG checks and the decoder share the bytes.
    data = file_path.read_bytes()
    _refuse_16_bit_colour_png(data, file_path)
    _check_png_chunks(data, file_path)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return _image_to_unit(image, file_path)
    except Image.DecompressionBombError as error:
        raise ImageReadError(f"{file_path}: refused as too large to decode safely ({error})") from error
    # Pillow reports some damaged PNG chunks as SyntaxError rather than OSError.
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ImageReadError(f"{file_path}: not a readable PNG/JPEG image: {error}") from error


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# IHDR colour types with colour: truecolour (2), truecolour with alpha (6).
_PNG_COLOUR_TYPES = (2, 6)


def _refuse_16_bit_colour_png(data: bytes, file_path: Path) -> None:
    """Pillow opens a 16-bit colour PNG as 8-bit RGB without a word; refuse it instead."""
    head = data[:26]
    # Signature (8), IHDR length (4) and type (4), width (4), height (4), bit depth, colour type.
    if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR" and len(head) == 26:
        bit_depth, colour_type = head[24], head[25]
        if bit_depth == 16 and colour_type in _PNG_COLOUR_TYPES:
            raise ImageReadError(f"{file_path}: a 16-bit colour PNG, which would be read as 8 bits per "
                                 "channel; save radiographs as 16-bit greyscale PNG")


def _check_png_chunks(data: bytes, file_path: Path) -> None:
    """Check the CRC-32 of every chunk of a PNG file's ``data`` (no-op for other files).

    Pillow does not check the CRC of the image data chunks (IDAT), so a damaged byte there, or
    in a chunk's length, could decode to other pixel values without a word (found by
    tests/test_byte_damage.py).
    """
    if not data.startswith(_PNG_SIGNATURE):
        return
    position = len(_PNG_SIGNATURE)
    while position < len(data):
        if position + 12 > len(data):
            raise ImageReadError(f"{file_path}: PNG chunk header cut short at byte {position} (truncated file)")
        length = int.from_bytes(data[position:position + 4], "big")
        kind = data[position + 4:position + 8]
        end = position + 8 + length
        if end + 4 > len(data):
            raise ImageReadError(f"{file_path}: PNG chunk {kind!r} at byte {position} claims {length} bytes, more "
                                 "than the file holds (truncated or damaged file)")
        stored = int.from_bytes(data[end:end + 4], "big")
        if zlib.crc32(data[position + 4:end]) != stored:
            raise ImageReadError(f"{file_path}: PNG chunk {kind!r} at byte {position} fails its CRC-32 (damaged file)")
        if kind == b"IEND":
            return
        position = end + 4
    raise ImageReadError(f"{file_path}: PNG without its IEND chunk (truncated file)")


def _image_to_unit(image: Image.Image, file_path: Path) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L"):
        return (np.asarray(image, dtype=np.float64) / 65535.0).astype(np.float32)
    if image.mode == "I":
        # Pillow opens some 16-bit grayscale files as 32-bit "I"; PNG/JPEG hold at most 16.
        values = np.asarray(image, dtype=np.float64)
        if values.min() < 0 or values.max() > 65535:
            raise ImageReadError(f"{file_path}: pixel values outside the 16-bit range")
        return (values / 65535.0).astype(np.float32)
    if image.mode == "F":
        raise ImageReadError(f"{file_path}: floating-point images are not supported")
    grayscale = image if image.mode == "L" else image.convert("L")
    return (np.asarray(grayscale, dtype=np.float64) / 255.0).astype(np.float32)


def write_png(array: np.ndarray, path: PathLike, bits: int = 8) -> None:
    """Write a float (H, W) array with values in [0, 1] as a grayscale PNG.

    bits: 8 (values * 255, rounded) or 16 (values * 65535, rounded). The write is atomic
    and the bytes depend only on the input (no timestamp or metadata is stored).
    """
    image = np.asarray(array, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"write_png needs a 2D (H, W) array, got shape {image.shape}")
    if bits not in (8, 16):
        raise ValueError(f"write_png: bits must be 8 or 16, got {bits}")
    if not np.all(np.isfinite(image)):
        raise ValueError(
            f"write_png: {int(np.count_nonzero(~np.isfinite(image)))} values are NaN or infinite"
        )
    if image.size and (image.min() < 0.0 or image.max() > 1.0):
        raise ValueError(
            f"write_png: values must lie in [0, 1], got [{image.min()}, {image.max()}]"
        )
    dtype, maximum = (np.uint8, 255) if bits == 8 else (np.uint16, 65535)
    levels = np.round(image * maximum).astype(dtype)
    buffer = io.BytesIO()
    Image.fromarray(levels).save(buffer, format="PNG")
    write_bytes_atomically(buffer.getvalue(), path)
