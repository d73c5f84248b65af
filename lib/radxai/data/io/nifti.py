"""NIfTI volumes: read with integrity checks (gzip CRC, NaN), written byte-deterministically."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError

from radxai.data.atomic import write_bytes_atomically
from radxai.data.io.errors import ImageReadError, PathLike
from radxai.data.volume import Volume, affine_to_spacing

# Fixed so that the bytes of a written .nii.gz do not depend on library defaults; level 6
# is zlib's own balance between speed and size.
_GZIP_LEVEL = 6
_GZIP_MAGIC = b"\x1f\x8b"
# NIfTI codes 1 = scanner anatomical; the affine written is exactly the one given.
_NIFTI_XFORM_SCANNER = 1


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
    promised = (
        int(header.get_data_offset())
        + int(np.prod(header.get_data_shape(), dtype=np.int64)) * header.get_data_dtype().itemsize
    )
    if promised > size:
        # Checked before reading: a header claiming 512 x 512 x 400 voxels in a small file would
        # otherwise allocate the whole array first.
        raise ImageReadError(
            f"{file_path}: the header promises {promised} bytes of image data, the file "
            f"holds {size} (truncated file or damaged header)"
        )
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
            f"{file_path}: {bad_count} of {data.size} voxels are NaN or infinite (pass allow_nan=True to keep them)"
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


def _array_and_affine(volume_or_array: Volume | np.ndarray, affine: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
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
