"""Tests of radxai.data.io: NIfTI, DICOM series, DICOM radiographs and PNG/JPEG."""

import gzip
import hashlib
import os
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

from radxai.data.io import (
    ImageReadError,
    read_dicom_image,
    read_dicom_series,
    read_image,
    read_nifti,
    write_nifti,
    write_png,
)
from radxai.data.volume import Volume, affine_to_spacing


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def float32_exact(affine: np.ndarray) -> np.ndarray:
    """The affine rounded to what a NIfTI header (float32) can hold."""
    return affine.astype(np.float32).astype(np.float64)


def oblique_sheared_affine() -> np.ndarray:
    angle = np.deg2rad(20.0)
    affine = np.eye(4)
    affine[:3, :3] = [
        [np.cos(angle) * 0.7, -np.sin(angle) * 0.8, 0.3],
        [np.sin(angle) * 0.7, np.cos(angle) * 0.8, 0.0],
        [0.0, 0.1, 2.5],
    ]
    affine[:3, 3] = [-120.25, 33.5, -7.0]
    return float32_exact(affine)


# --------------------------------------------------------------------------- NIfTI


@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.uint8, np.float64])
@pytest.mark.parametrize("name", ["scan.nii.gz", "scan.nii"])
def test_nifti_round_trip_is_exact(tmp_path, dtype, name):
    rng = np.random.default_rng(1)
    array = (rng.random((5, 6, 7)) * 200).astype(dtype)
    volume = Volume(array, oblique_sheared_affine(), affine_to_spacing(oblique_sheared_affine()))
    write_nifti(volume, tmp_path / name)
    loaded = read_nifti(tmp_path / name)
    assert loaded.array.dtype == dtype
    np.testing.assert_array_equal(loaded.array, array)
    np.testing.assert_array_equal(loaded.affine, volume.affine)
    assert loaded.spacing == volume.spacing


def test_nifti_read_transposes_nibabel_order(tmp_path):
    import nibabel as nib

    data_ijk = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    nib.save(nib.Nifti1Image(data_ijk, np.diag([0.5, 0.6, 2.0, 1.0])), tmp_path / "x.nii.gz")
    volume = read_nifti(tmp_path / "x.nii.gz")
    assert volume.shape == (4, 3, 2)
    assert volume.array[3, 2, 1] == data_ijk[1, 2, 3]
    assert volume.spacing == pytest.approx((2.0, 0.6, 0.5))


def test_read_write_read_is_exact_for_foreign_file(tmp_path):
    import nibabel as nib

    data = np.random.default_rng(2).normal(size=(4, 5, 6)).astype(np.float32)
    affine = np.array([[-0.9, 0.1, 0, 90], [0.05, 0.8, 0.2, -126], [0, -0.1, 3, -72], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "foreign.nii.gz")
    first = read_nifti(tmp_path / "foreign.nii.gz")
    write_nifti(first, tmp_path / "copy.nii.gz")
    second = read_nifti(tmp_path / "copy.nii.gz")
    np.testing.assert_array_equal(second.array, first.array)
    np.testing.assert_array_equal(second.affine, first.affine)
    assert second.spacing == first.spacing


def test_nifti_header_codes_and_no_scaling(tmp_path):
    import nibabel as nib

    write_nifti(np.zeros((2, 3, 4), np.int16), tmp_path / "a.nii", affine=np.eye(4))
    header = nib.load(tmp_path / "a.nii").header
    assert int(header["sform_code"]) == 1 and int(header["qform_code"]) == 1
    assert header.get_data_dtype() == np.int16


def test_write_nifti_from_array_and_affine(tmp_path):
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    write_nifti(array, tmp_path / "a.nii.gz", affine=np.diag([1.0, 2.0, 3.0, 1.0]))
    loaded = read_nifti(tmp_path / "a.nii.gz")
    np.testing.assert_array_equal(loaded.array, array)
    assert loaded.spacing == (3.0, 2.0, 1.0)


def test_write_nifti_argument_errors(tmp_path):
    volume = Volume.from_spacing(np.zeros((2, 3, 4)), (1, 1, 1))
    with pytest.raises(ValueError, match="needs an affine"):
        write_nifti(np.zeros((2, 3, 4)), tmp_path / "a.nii.gz")
    with pytest.raises(ValueError, match="not a Volume"):
        write_nifti(volume, tmp_path / "a.nii.gz", affine=np.eye(4))
    with pytest.raises(ValueError, match="3D"):
        write_nifti(np.zeros((3, 4)), tmp_path / "a.nii.gz", affine=np.eye(4))
    with pytest.raises(ValueError, match="fractional"):
        write_nifti(np.full((2, 3, 4), 0.5), tmp_path / "a.nii.gz", affine=np.eye(4), dtype=np.int16)
    assert not (tmp_path / "a.nii.gz").exists()


def test_write_nifti_converts_exactly_representable_values_and_booleans(tmp_path):
    write_nifti(np.full((2, 3, 4), 7.0), tmp_path / "a.nii.gz", affine=np.eye(4), dtype="int16")
    assert read_nifti(tmp_path / "a.nii.gz").array.dtype == np.int16
    write_nifti(np.ones((2, 3, 4), bool), tmp_path / "mask.nii.gz", affine=np.eye(4))
    mask = read_nifti(tmp_path / "mask.nii.gz").array
    assert mask.dtype == np.uint8 and mask.min() == 1


def test_nifti_gz_bytes_are_deterministic(tmp_path, monkeypatch):
    volume = Volume(
        np.random.default_rng(3).random((6, 7, 8)).astype(np.float32),
        oblique_sheared_affine(),
        affine_to_spacing(oblique_sheared_affine()),
    )
    write_nifti(volume, tmp_path / "first.nii.gz")
    # A different clock must not change the bytes (gzip would otherwise store the time).
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)
    write_nifti(volume, tmp_path / "second.nii.gz")
    assert sha256(tmp_path / "first.nii.gz") == sha256(tmp_path / "second.nii.gz")
    assert (tmp_path / "first.nii.gz").read_bytes()[4:8] == b"\x00\x00\x00\x00"


def test_truncated_nifti_gz_names_the_file(tmp_path):
    path = tmp_path / "truncated.nii.gz"
    write_nifti(np.random.default_rng(4).random((8, 16, 16)), path, affine=np.eye(4))
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ImageReadError, match="truncated.nii.gz") as caught:
        read_nifti(path)
    assert caught.value.__cause__ is not None


def test_text_file_named_nifti_is_rejected(tmp_path):
    for name in ("notes.nii.gz", "notes.nii"):
        path = tmp_path / name
        path.write_text("this is not an image\n" * 30)
        with pytest.raises(ImageReadError, match=name):
            read_nifti(path)


def test_gzip_of_non_nifti_is_rejected(tmp_path):
    path = tmp_path / "other.nii.gz"
    path.write_bytes(gzip.compress(b"\x00" * 1000, mtime=0))
    with pytest.raises(ImageReadError, match="other.nii.gz"):
        read_nifti(path)


def test_missing_nifti_is_reported(tmp_path):
    with pytest.raises(ImageReadError, match="absent.nii.gz: no such file"):
        read_nifti(tmp_path / "absent.nii.gz")


def test_nan_voxels_rejected_with_count_unless_allowed(tmp_path):
    array = np.zeros((3, 4, 5), np.float32)
    array[0, 0, :3] = np.nan
    write_nifti(array, tmp_path / "nan.nii.gz", affine=np.eye(4))
    with pytest.raises(ImageReadError, match=r"nan.nii.gz: 3 of 60 voxels are NaN"):
        read_nifti(tmp_path / "nan.nii.gz")
    kept = read_nifti(tmp_path / "nan.nii.gz", allow_nan=True)
    assert np.count_nonzero(np.isnan(kept.array)) == 3


def test_infinite_voxels_are_rejected_like_nan(tmp_path):
    array = np.zeros((3, 4, 5), np.float32)
    array[1, 1, 1], array[2, 2, 2] = np.inf, -np.inf
    write_nifti(array, tmp_path / "inf.nii.gz", affine=np.eye(4))
    with pytest.raises(ImageReadError, match=r"inf.nii.gz: 2 of 60 voxels are NaN or infinite"):
        read_nifti(tmp_path / "inf.nii.gz")


def test_image_read_error_is_a_value_error():
    assert issubclass(ImageReadError, ValueError)


def test_failed_write_keeps_existing_file(tmp_path):
    path = tmp_path / "heatmap.nii.gz"
    write_nifti(np.ones((2, 3, 4), np.float32), path, affine=np.eye(4))
    before = sha256(path)
    with pytest.raises(ValueError, match="cannot be stored"):
        write_nifti(np.ones((2, 3, 4), np.float32), path, affine=np.eye(4), dtype=object)
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heatmap.nii.gz"]


def test_write_failing_midway_keeps_existing_file_and_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "heatmap.nii.gz"
    write_nifti(np.ones((2, 3, 4), np.float32), path, affine=np.eye(4))
    before = sha256(path)

    def failing_fsync(descriptor: int) -> None:
        raise OSError("disk full")

    # Fails after the new bytes went into the temporary file, before the rename.
    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_nifti(np.zeros((5, 5, 5), np.float32), path, affine=np.eye(4))
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heatmap.nii.gz"]


# --------------------------------------------------------------------------- DICOM


def dicom_dataset(sop_class: str, rows: int, columns: int) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = sop_class
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.PatientID = "PHANTOM"
    dataset.StudyInstanceUID = generate_uid()
    dataset.Rows = rows
    dataset.Columns = columns
    dataset.SamplesPerPixel = 1
    dataset.BitsAllocated = 16
    return dataset


def write_dicom(dataset: Dataset, path: Path) -> None:
    # pydicom 3: enforce_file_format writes the preamble and a valid file meta group.
    dataset.save_as(path, enforce_file_format=True)


def write_ct_slice(
    path: Path,
    stored: np.ndarray,
    position: np.ndarray,
    series_uid: str,
    orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    pixel_spacing=(0.7, 0.9),
    slope: float = 1.0,
    intercept: float = -1024.0,
    instance: int = 1,
) -> None:
    dataset = dicom_dataset(CTImageStorage, *stored.shape)
    dataset.Modality = "CT"
    dataset.SeriesInstanceUID = series_uid
    dataset.InstanceNumber = instance
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    dataset.ImagePositionPatient = [float(value) for value in position]
    dataset.ImageOrientationPatient = list(orientation)
    dataset.PixelSpacing = list(pixel_spacing)
    dataset.SliceThickness = 2.0
    dataset.RescaleSlope = slope
    dataset.RescaleIntercept = intercept
    dataset.PixelData = stored.astype(np.uint16).tobytes()
    write_dicom(dataset, path)


def stored_slice(index: int, rows: int = 6, columns: int = 5) -> np.ndarray:
    """Stored values that encode slice, row and column, so any misordering shows."""
    row, column = np.mgrid[:rows, :columns]
    return 1000 + 100 * index + 10 * row + column


def write_series(
    folder: Path,
    count: int,
    origin=(10.0, -20.0, 30.0),
    gap: float = 2.0,
    skip=(),
    seed: int = 0,
    **slice_options,
) -> tuple[str, np.ndarray]:
    """Write `count` slices along the orientation's normal under shuffled file names."""
    folder.mkdir(exist_ok=True)
    orientation = np.array(slice_options.get("orientation", (1, 0, 0, 0, 1, 0)), float)
    normal = np.cross(orientation[:3], orientation[3:])
    series_uid = generate_uid()
    rng = np.random.default_rng(seed)
    names = rng.permutation(count)
    positions = np.array([np.asarray(origin) + index * gap * normal for index in range(count)])
    for index in range(count):
        if index in skip:
            continue
        write_ct_slice(
            folder / f"img{names[index]:03d}.dcm",
            stored_slice(index),
            positions[index],
            series_uid,
            instance=int(count - index),  # reversed, so InstanceNumber order is wrong too
            **slice_options,
        )
    return series_uid, positions


def test_dicom_series_orders_by_position_and_applies_rescale(tmp_path):
    folder = tmp_path / "series"
    write_series(folder, 7)
    (folder / "README.txt").write_text("not dicom")
    (folder / "DICOMDIR").write_bytes(b"\x00" * 64)
    volume = read_dicom_series(folder)
    assert volume.shape == (7, 6, 5)
    assert volume.array.dtype == np.int16
    expected = np.stack([stored_slice(index) for index in range(7)]) - 1024
    np.testing.assert_array_equal(volume.array, expected)


def test_dicom_series_fractional_rescale_gives_float32(tmp_path):
    folder = tmp_path / "series"
    write_series(folder, 4, slope=0.5, intercept=-1024.0)
    volume = read_dicom_series(folder)
    assert volume.array.dtype == np.float32
    expected = np.stack([stored_slice(index) for index in range(4)]) * 0.5 - 1024
    np.testing.assert_allclose(volume.array, expected)


def test_dicom_series_affine_axis_aligned(tmp_path):
    folder = tmp_path / "series"
    _, positions = write_series(folder, 5, pixel_spacing=(0.7, 0.9))
    volume = read_dicom_series(folder)
    # PixelSpacing is (row spacing, column spacing): dy = 0.7, dx = 0.9.
    assert volume.spacing == pytest.approx((2.0, 0.7, 0.9))
    for index, position in enumerate(positions):
        world = volume.affine @ [0, 0, index, 1]
        np.testing.assert_allclose(world[:3], position * [-1, -1, 1])


def test_dicom_series_affine_oblique_maps_every_axis(tmp_path):
    folder = tmp_path / "series"
    angle = np.deg2rad(25.0)
    row_cosine = np.array([np.cos(angle), np.sin(angle), 0.0])
    column_cosine = np.array([0.0, np.cos(0.3), np.sin(0.3)])
    column_cosine -= row_cosine * (row_cosine @ column_cosine)
    column_cosine /= np.linalg.norm(column_cosine)
    orientation = tuple(np.concatenate([row_cosine, column_cosine]))
    _, positions = write_series(folder, 4, orientation=orientation, pixel_spacing=(0.6, 0.8))
    volume = read_dicom_series(folder)
    column, row, index = 4, 5, 3
    lps = positions[index] + column * 0.8 * row_cosine + row * 0.6 * column_cosine
    world = volume.affine @ [column, row, index, 1]
    np.testing.assert_allclose(world[:3], lps * [-1, -1, 1], atol=1e-4)
    assert volume.array[index, row, column] == stored_slice(index)[row, column] - 1024


def test_dicom_series_orders_along_normal_not_z(tmp_path):
    # A sagittal-like orientation: the normal is along x, so z is constant.
    folder = tmp_path / "series"
    write_series(folder, 5, orientation=(0, 1, 0, 0, 0, -1))
    volume = read_dicom_series(folder)
    np.testing.assert_array_equal(volume.array[:, 0, 0], 1000 + 100 * np.arange(5) - 1024)


def test_dicom_single_slice_uses_slice_thickness(tmp_path):
    folder = tmp_path / "single"
    write_series(folder, 1)
    volume = read_dicom_series(folder)
    assert volume.shape == (1, 6, 5)
    assert volume.spacing == pytest.approx((2.0, 0.7, 0.9))


def test_dicom_two_series_rejected_with_uids_and_counts(tmp_path):
    folder = tmp_path / "mixed"
    first_uid, _ = write_series(folder, 3, seed=1)
    second_folder = tmp_path / "other"
    second_uid, _ = write_series(second_folder, 2, seed=2)
    for path in second_folder.iterdir():
        path.rename(folder / f"b_{path.name}")
    with pytest.raises(ImageReadError, match="2 series") as caught:
        read_dicom_series(folder)
    assert f"{first_uid} (3 files)" in str(caught.value)
    assert f"{second_uid} (2 files)" in str(caught.value)


def test_dicom_missing_slice_rejected_with_location(tmp_path):
    folder = tmp_path / "gappy"
    write_series(folder, 8, skip=(4,))
    with pytest.raises(ImageReadError, match="missing slices") as caught:
        read_dicom_series(folder)
    message = str(caught.value)
    assert str(folder) in message and "after slice 3" in message and "4.000 mm" in message


@pytest.mark.parametrize("positions_mm", [(0.0, 2.0, 6.0), (0.0, 1.0, 2.0, 4.0, 6.0, 8.0)])
def test_dicom_irregular_spacing_rejected_not_averaged(tmp_path, positions_mm):
    folder = tmp_path / "irregular"
    folder.mkdir()
    uid = generate_uid()
    for index, z in enumerate(positions_mm):
        write_ct_slice(folder / f"img{index}.dcm", stored_slice(index), np.array([10.0, -20.0, 30.0 + z]), uid)
    with pytest.raises(ImageReadError, match="irregular slice spacing: gap of .* against a median gap"):
        read_dicom_series(folder)


def test_dicom_duplicate_position_rejected(tmp_path):
    folder = tmp_path / "dup"
    uid, positions = write_series(folder, 4)
    write_ct_slice(folder / "copy.dcm", stored_slice(2), positions[2], uid)
    with pytest.raises(ImageReadError, match="duplicate"):
        read_dicom_series(folder)


def test_dicom_folder_without_dicom_rejected(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageReadError, match="no DICOM"):
        read_dicom_series(tmp_path)
    with pytest.raises(ImageReadError, match="no such folder"):
        read_dicom_series(tmp_path / "absent")


def test_dicom_inconsistent_orientation_rejected(tmp_path):
    folder = tmp_path / "series"
    uid, _ = write_series(folder, 3)
    write_ct_slice(
        folder / "tilted.dcm",
        stored_slice(3),
        np.array([10, -20, 36.0]),
        uid,
        orientation=(1, 0, 0, 0, 0.8, 0.6),
    )
    with pytest.raises(ImageReadError, match="tilted.dcm: ImageOrientationPatient"):
        read_dicom_series(folder)


def write_radiograph(path: Path, stored: np.ndarray, photometric: str = "MONOCHROME2", window=None) -> None:
    dataset = dicom_dataset(DigitalXRayImageStorageForPresentation, *stored.shape)
    dataset.Modality = "DX"
    dataset.SeriesInstanceUID = generate_uid()
    dataset.PhotometricInterpretation = photometric
    dataset.BitsStored = 12
    dataset.HighBit = 11
    dataset.PixelRepresentation = 0
    if window is not None:
        dataset.WindowCenter, dataset.WindowWidth = window
    dataset.PixelData = stored.astype(np.uint16).tobytes()
    write_dicom(dataset, path)


def test_dicom_image_scaled_to_unit_range(tmp_path):
    stored = np.array([[100, 200], [300, 500]])
    write_radiograph(tmp_path / "cxr.dcm", stored)
    image = read_dicom_image(tmp_path / "cxr.dcm")
    assert image.dtype == np.float32 and image.shape == (2, 2)
    np.testing.assert_allclose(image, [[0.0, 0.25], [0.5, 1.0]])


def test_dicom_monochrome1_inverted(tmp_path):
    stored = np.array([[100, 200], [300, 500]])
    write_radiograph(tmp_path / "m2.dcm", stored, "MONOCHROME2")
    write_radiograph(tmp_path / "m1.dcm", stored, "MONOCHROME1")
    normal = read_dicom_image(tmp_path / "m2.dcm")
    inverted = read_dicom_image(tmp_path / "m1.dcm")
    np.testing.assert_allclose(inverted, 1.0 - normal)
    assert inverted[0, 0] == 1.0  # the lowest stored value is the brightest in MONOCHROME1


def test_dicom_window_applied(tmp_path):
    stored = np.array([[0, 1000, 1536], [2048, 2560, 4095]])
    write_radiograph(tmp_path / "windowed.dcm", stored, window=(2048, 1024))
    image = read_dicom_image(tmp_path / "windowed.dcm")
    # The window [1536, 2560] spans the output; values outside are clipped.
    np.testing.assert_allclose(image[0, :2], [0.0, 0.0])
    np.testing.assert_allclose(image[1, 1:], [1.0, 1.0])
    assert image[1, 0] == pytest.approx(0.5, abs=1e-3)
    assert 0.0 <= image[0, 2] < 0.01


def test_dicom_window_scales_by_window_not_by_image_range(tmp_path):
    stored = np.array([[1792, 2048, 2304]])
    write_radiograph(tmp_path / "narrow.dcm", stored, window=(2048, 1024))
    image = read_dicom_image(tmp_path / "narrow.dcm")
    np.testing.assert_allclose(image, [[0.25, 0.5, 0.75]], atol=1e-3)


def test_dicom_image_errors(tmp_path):
    (tmp_path / "fake.dcm").write_text("not dicom at all")
    with pytest.raises(ImageReadError, match="fake.dcm"):
        read_dicom_image(tmp_path / "fake.dcm")
    with pytest.raises(ImageReadError, match="no such file"):
        read_dicom_image(tmp_path / "absent.dcm")


# --------------------------------------------------------------------------- PNG / JPEG


@pytest.mark.parametrize(("bits", "tolerance"), [(8, 1 / 255), (16, 1 / 65535)])
def test_png_round_trip(tmp_path, bits, tolerance):
    image = np.random.default_rng(5).random((33, 47))
    image[0, 0], image[0, 1] = 0.0, 1.0
    write_png(image, tmp_path / "a.png", bits=bits)
    loaded = read_image(tmp_path / "a.png")
    assert loaded.dtype == np.float32 and loaded.shape == (33, 47)
    assert np.max(np.abs(loaded - image)) <= tolerance
    assert loaded[0, 0] == 0.0 and loaded[0, 1] == 1.0


def test_png_bytes_deterministic(tmp_path):
    image = np.random.default_rng(6).random((20, 30))
    write_png(image, tmp_path / "a.png", bits=16)
    write_png(image, tmp_path / "b.png", bits=16)
    assert sha256(tmp_path / "a.png") == sha256(tmp_path / "b.png")


def test_read_image_converts_rgb_and_reads_jpeg(tmp_path):
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[..., 1] = 255
    Image.fromarray(rgb).save(tmp_path / "green.png")
    Image.fromarray(rgb).save(tmp_path / "green.jpg", quality=95)
    for name in ("green.png", "green.jpg"):
        gray = read_image(tmp_path / name)
        assert gray.shape == (10, 12) and gray.dtype == np.float32
        # ITU-R 601-2 luma gives green a weight of 0.587.
        np.testing.assert_allclose(gray, 0.587, atol=0.02)


def test_read_image_errors(tmp_path):
    (tmp_path / "fake.png").write_text("not an image")
    with pytest.raises(ImageReadError, match="fake.png"):
        read_image(tmp_path / "fake.png")
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "absent.png")


@pytest.mark.parametrize(
    ("array", "bits", "message"),
    [
        (np.full((2, 2), 1.5), 8, r"\[0, 1\]"),
        (np.full((2, 2), np.nan), 8, "NaN"),
        (np.zeros((2, 2, 3)), 8, "2D"),
        (np.zeros((2, 2)), 12, "8 or 16"),
    ],
)
def test_write_png_rejects_bad_input(tmp_path, array, bits, message):
    with pytest.raises(ValueError, match=message):
        write_png(array, tmp_path / "bad.png", bits=bits)
    assert not (tmp_path / "bad.png").exists()


def test_dicom_written_files_are_real_dicom(tmp_path):
    write_radiograph(tmp_path / "x.dcm", np.zeros((2, 2)))
    assert (tmp_path / "x.dcm").read_bytes()[128:132] == b"DICM"
    assert pydicom.dcmread(tmp_path / "x.dcm").Modality == "DX"


def test_an_image_too_large_to_decode_safely_is_a_read_error(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "bomb.png")
    # Pillow refuses images over twice MAX_IMAGE_PIXELS; a 400-megapixel PNG hits the default.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageReadError, match="bomb.png: refused as too large to decode safely"):
        read_image(tmp_path / "bomb.png")


def test_dicom_slice_truncated_before_its_pixels_is_an_error_not_a_missing_slice(tmp_path):
    folder = tmp_path / "truncated"
    write_series(folder, 4)
    victim = sorted(folder.iterdir())[1]
    content = victim.read_bytes()
    victim.write_bytes(content[: content.rindex(b"\xe0\x7f\x10\x00")])  # cut at the PixelData tag
    with pytest.raises(ImageReadError, match=f"{victim.name}: an image slice without pixel data"):
        read_dicom_series(folder)


def test_a_nifti_whose_gzip_checksum_fails_is_refused(tmp_path):
    path = tmp_path / "volume.nii.gz"
    write_nifti(np.arange(60, dtype=np.int16).reshape(3, 4, 5), path, affine=np.eye(4))
    content = bytearray(path.read_bytes())
    content[-8] ^= 0xFF  # the CRC-32 of the gzip trailer: the voxels themselves decompress fine
    path.write_bytes(bytes(content))
    with pytest.raises(ImageReadError, match="volume.nii.gz: damaged gzip stream"):
        read_nifti(path)


@pytest.mark.parametrize("name", ["big.nii", "big.nii.gz"])
def test_a_header_promising_more_voxels_than_the_file_holds_is_refused_before_reading(tmp_path, name):
    header = nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4)).header
    header.set_data_shape((512, 512, 400))  # the header now claims 200 MB of int16 voxels
    header["vox_offset"] = 352
    # 348 header bytes, the 4-byte extension flag (no extension), then 64 voxels only.
    payload = header.binaryblock + bytes(4) + np.zeros(64, np.int16).tobytes()
    target = tmp_path / name
    target.write_bytes(gzip.compress(payload) if name.endswith(".gz") else payload)
    message = rf"{name}: the header promises 2097152\d\d bytes of image data, the file holds 480"
    with pytest.raises(ImageReadError, match=message):
        read_nifti(target)


def test_a_16_bit_colour_png_is_refused_not_reduced_to_8_bits(tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    width, height = 2, 2
    rows = b"".join(b"\x00" + bytes(6 * width) for _ in range(height))  # filter byte + 16-bit RGB
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    (tmp_path / "colour16.png").write_bytes(png)
    with pytest.raises(ImageReadError, match="colour16.png: a 16-bit colour PNG"):
        read_image(tmp_path / "colour16.png")
    Image.fromarray(np.full((2, 2), 40000, np.uint16)).save(tmp_path / "grey16.png")
    assert read_image(tmp_path / "grey16.png").shape == (2, 2)  # 16-bit greyscale still reads


def test_writing_into_a_missing_folder_names_the_target_not_a_temporary_file(tmp_path):
    target = tmp_path / "absent" / "volume.nii.gz"
    with pytest.raises(FileNotFoundError, match=r"volume.nii.gz: the folder .*absent does not exist"):
        write_nifti(np.zeros((2, 2, 2), np.int16), target, affine=np.eye(4))


def test_dicom_series_skips_dot_files_beside_the_slices(tmp_path):
    folder = tmp_path / "series"
    write_series(folder, 3)
    (folder / "._img000.dcm").write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 60)  # a macOS resource fork
    assert read_dicom_series(folder).array.shape[0] == 3


def test_dicom_ct_object_without_pixels_is_refused(tmp_path):
    folder = tmp_path / "series"
    write_series(folder, 3)
    cut = dicom_dataset(CTImageStorage, 6, 5)
    del cut.Rows, cut.Columns  # what is left of a slice cut short after its first elements
    write_dicom(cut, folder / "img999.dcm")
    with pytest.raises(ImageReadError, match="img999.dcm: an image slice without pixel data"):
        read_dicom_series(folder)
