"""PNG and JPEG radiographs: read to [0, 1] with every PNG chunk's CRC checked; PNG written atomically."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from radxai.data.atomic import write_bytes_atomically
from radxai.data.io.errors import ImageReadError, PathLike

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
            raise ImageReadError(
                f"{file_path}: a 16-bit colour PNG, which would be read as 8 bits per "
                "channel; save radiographs as 16-bit greyscale PNG"
            )


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
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        end = position + 8 + length
        if end + 4 > len(data):
            raise ImageReadError(
                f"{file_path}: PNG chunk {kind!r} at byte {position} claims {length} bytes, more "
                "than the file holds (truncated or damaged file)"
            )
        stored = int.from_bytes(data[end : end + 4], "big")
        if zlib.crc32(data[position + 4 : end]) != stored:
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
        raise ValueError(f"write_png: {int(np.count_nonzero(~np.isfinite(image)))} values are NaN or infinite")
    if image.size and (image.min() < 0.0 or image.max() > 1.0):
        raise ValueError(f"write_png: values must lie in [0, 1], got [{image.min()}, {image.max()}]")
    dtype, maximum = (np.uint8, 255) if bits == 8 else (np.uint16, 65535)
    levels = np.round(image * maximum).astype(dtype)
    buffer = io.BytesIO()
    Image.fromarray(levels).save(buffer, format="PNG")
    write_bytes_atomically(buffer.getvalue(), path)
