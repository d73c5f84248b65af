"""Property tests: byte-level damage to the files radxai reads ends in the documented error or in
the very same content, never in a different array read without a word.

Each case writes a small valid file, XORs one to three of its bytes with non-zero masks, and
reads it back. The formats checked are the ones that carry an integrity check: gzip-compressed
NIfTI (CRC-32 and length of the stream), PNG (a CRC-32 per chunk and zlib's Adler-32 over the
pixels) and radxai checkpoints (sha256 of the weights, zip CRC-32 per record). DICOM has no
checksum: damage to its pixel bytes or to a numeric header field (a rescale intercept, a
position) gives other values that no reader can tell from data, so the property is checked on
its preamble magic and file meta group (the damage that once made a slice vanish from its
series), and the dataset registry's sha256 (`radxai data verify`) is what guards the rest, as
it guards uncompressed NIfTI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_io import write_series

from radxai import models
from radxai.data import io as image_io
from radxai.data.io import ImageReadError
from radxai.models import CheckpointError

CASES = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)


def damages(size: int, start: int = 0) -> st.SearchStrategy[list[tuple[int, int]]]:
    """One to three (offset, non-zero XOR mask) pairs at distinct offsets in [start, size)."""
    return st.lists(
        st.tuples(st.integers(start, size - 1), st.integers(1, 255)),
        min_size=1,
        max_size=3,
        unique_by=lambda pair: pair[0],
    )


def damaged_copy(original: bytes, changes: list[tuple[int, int]], path: Path) -> Path:
    data = bytearray(original)
    for offset, mask in changes:
        data[offset] ^= mask
    path.write_bytes(bytes(data))
    return path


def read_unless_refused(read, path: Path, error_type: type[Exception]):
    """``read(path)``, or None when it raised ``error_type`` naming the file (the other allowed end)."""
    try:
        return read(path)
    except error_type as error:
        assert path.name in str(error)
        return None


@pytest.fixture(scope="module")
def volume() -> tuple[np.ndarray, np.ndarray]:
    array = np.random.default_rng(0).integers(-1000, 400, size=(6, 7, 8)).astype(np.int16)
    affine = np.diag([0.8, 0.8, 2.0, 1.0])
    return array, affine


@pytest.fixture(scope="module")
def nifti_gz(tmp_path_factory, volume) -> tuple[bytes, image_io.Volume]:
    path = tmp_path_factory.mktemp("nifti") / "volume.nii.gz"
    image_io.write_nifti(volume[0], path, affine=volume[1])
    return path.read_bytes(), image_io.read_nifti(path)


@CASES
@given(data=st.data())
def test_damaged_nifti_gz_is_refused_or_read_unchanged(nifti_gz, tmp_path: Path, data) -> None:
    original, expected = nifti_gz
    path = damaged_copy(original, data.draw(damages(len(original))), tmp_path / "damaged.nii.gz")
    read = read_unless_refused(image_io.read_nifti, path, ImageReadError)
    if read is None:
        return
    np.testing.assert_array_equal(read.array, expected.array)
    np.testing.assert_array_equal(read.affine, expected.affine)


@pytest.fixture(scope="module")
def png_file(tmp_path_factory) -> tuple[bytes, np.ndarray]:
    path = tmp_path_factory.mktemp("png") / "image.png"
    image = np.random.default_rng(1).random((24, 20))
    image_io.write_png(image, path, bits=16)
    return path.read_bytes(), image_io.read_image(path)


@CASES
@given(data=st.data())
def test_damaged_png_is_refused_or_read_unchanged(png_file, tmp_path: Path, data) -> None:
    original, expected = png_file
    path = damaged_copy(original, data.draw(damages(len(original))), tmp_path / "damaged.png")
    read = read_unless_refused(image_io.read_image, path, ImageReadError)
    if read is None:
        return
    np.testing.assert_array_equal(read, expected)


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory) -> tuple[bytes, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    model = models.build("cnn2d", width=0.125, num_outputs=2)
    path = tmp_path_factory.mktemp("checkpoint") / "model.pt"
    models.save(model, path)
    return path.read_bytes(), {name: tensor.clone() for name, tensor in model.state_dict().items()}


@CASES
@given(data=st.data())
def test_damaged_checkpoint_is_refused_or_loads_the_same_weights(checkpoint_file, tmp_path: Path, data) -> None:
    original, weights = checkpoint_file
    path = damaged_copy(original, data.draw(damages(len(original))), tmp_path / "damaged.pt")
    model = read_unless_refused(models.load, path, CheckpointError)
    if model is None:
        return
    loaded = model.state_dict()
    assert loaded.keys() == weights.keys()
    for name, tensor in weights.items():
        torch.testing.assert_close(loaded[name], tensor, rtol=0, atol=0)


@pytest.fixture(scope="module")
def dicom_series(tmp_path_factory) -> tuple[Path, list[tuple[str, bytes, int]]]:
    """A written series and, per file, its name, bytes and where its file meta header ends."""
    folder = tmp_path_factory.mktemp("dicom") / "series"
    write_series(folder, 4)
    files = []
    for path in sorted(folder.iterdir()):
        content = path.read_bytes()
        # The file meta group ends 144 bytes in (preamble, "DICM", the group length element) plus
        # the group length that element holds.
        meta_end = 144 + int.from_bytes(content[140:144], "little")
        files.append((path.name, content, meta_end))
    return folder, files


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns on each damaged element it meets
@CASES
@given(data=st.data())
def test_damaged_dicom_file_meta_is_refused_or_read_unchanged(dicom_series, tmp_path: Path, data) -> None:
    folder, files = dicom_series
    reference = image_io.read_dicom_series(folder)
    index = data.draw(st.integers(0, len(files) - 1))
    target = tmp_path / "series"
    target.mkdir(exist_ok=True)
    for position, (name, content, pixel_start) in enumerate(files):
        if position == index:
            # The 128-byte preamble is free by the standard; damage "DICM" and the file meta group.
            damaged_copy(content, data.draw(damages(pixel_start, start=128)), target / name)
        else:
            (target / name).write_bytes(content)
    read = read_unless_refused(image_io.read_dicom_series, target, ImageReadError)
    if read is None:
        return
    np.testing.assert_array_equal(read.array, reference.array)
    np.testing.assert_array_equal(read.affine, reference.affine)


def test_damage_in_a_png_image_data_chunk_is_refused(png_file, tmp_path: Path) -> None:
    # The case that once decoded to other pixels: Pillow does not check the image data chunks' CRC.
    original, _ = png_file
    path = damaged_copy(original, [(36, 1), (48, 1)], tmp_path / "damaged.png")
    with pytest.raises(ImageReadError, match="damaged.png: PNG chunk .* (fails its CRC-32|claims)"):
        image_io.read_image(path)
