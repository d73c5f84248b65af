"""Tests of `radxai explain` (radxai.scan_explanation): maps on the scan's own grid, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_io import oblique_sheared_affine, write_series

from radxai import cli, models
from radxai.data import io
from radxai.data.model_input import ModelInput
from radxai.data.volume import Volume, affine_to_spacing
from radxai.scan_explanation import explain_scan

CT_INPUT = (16, 16, 16)


@pytest.fixture(scope="module")
def ct_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = models.build("cnn3d", width=0.125, padding="same")
    path = tmp_path_factory.mktemp("model") / "model.pt"
    models.save(model, path, model_input=ModelInput.for_ct(CT_INPUT, "covid").as_dict())
    return path


@pytest.fixture(scope="module")
def xray_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = models.build("cnn2d", width=0.0625, num_outputs=3)
    path = tmp_path_factory.mktemp("model") / "model.pt"
    models.save(model, path, model_input=ModelInput.for_xray((32, 32), ["Effusion", "Nodule", "No finding"]).as_dict())
    return path


def test_a_nifti_with_an_oblique_affine_gets_heatmaps_with_its_own_shape_and_affine(tmp_path, ct_checkpoint) -> None:
    affine = oblique_sheared_affine()
    hu = np.random.default_rng(1).uniform(-1000, 300, size=(12, 20, 18)).astype(np.int16)
    scan = tmp_path / "scan.nii.gz"
    io.write_nifti(Volume(hu, affine, affine_to_spacing(affine)), scan)
    record = explain_scan(scan, ct_checkpoint, ["gradcam", "saliency"], tmp_path / "out")
    for method in ("gradcam", "saliency"):
        heatmap = io.read_nifti(tmp_path / "out" / f"{method}.nii.gz")
        assert heatmap.array.shape == hu.shape
        np.testing.assert_allclose(heatmap.affine, io.read_nifti(scan).affine)
        assert 0.0 <= heatmap.array.min() and heatmap.array.max() <= 1.0 and heatmap.array.max() > 0
        assert (tmp_path / "out" / record["methods"][method]["figure"]).is_file()
    written = json.loads((tmp_path / "out" / "explanation.json").read_text())
    assert written == record
    assert set(record["probabilities"]) == set(ModelInput.for_ct(CT_INPUT, "covid").class_names)
    assert sum(record["probabilities"].values()) == pytest.approx(1.0)
    assert record["explained_class"] == max(record["probabilities"], key=record["probabilities"].get)


def test_the_map_lands_where_the_scan_has_it_whatever_the_files_voxel_order(tmp_path, ct_checkpoint) -> None:
    # Saliency of a scan and of the same scan stored with its axes flipped and swapped must be
    # the same map in the world: read back, each heatmap follows its own file's voxel order.
    rng = np.random.default_rng(2)
    hu = rng.uniform(-1000, 300, size=(10, 14, 12)).astype(np.int16)
    affine = np.diag([0.8, -0.9, 2.0, 1.0])
    stored = hu.transpose(1, 0, 2)[::-1]  # (D, H, W) -> (H, D, W), first axis flipped
    permuted = np.eye(4)
    permuted[:3, :3] = affine[:3, :3][:, [0, 2, 1]]
    permuted[:3, :3][:, 2] *= -1
    permuted[:3, 3] = affine[:3, :3][:, 1] * (hu.shape[1] - 1)
    for name, array, matrix in (("plain", hu, affine), ("permuted", np.ascontiguousarray(stored), permuted)):
        io.write_nifti(Volume(array, matrix, affine_to_spacing(matrix)), tmp_path / f"{name}.nii.gz")
        explain_scan(tmp_path / f"{name}.nii.gz", ct_checkpoint, ["saliency"], tmp_path / name, target=1)
    plain = io.read_nifti(tmp_path / "plain" / "saliency.nii.gz").array
    permuted_map = io.read_nifti(tmp_path / "permuted" / "saliency.nii.gz").array
    np.testing.assert_allclose(permuted_map, plain.transpose(1, 0, 2)[::-1], atol=1e-6)


def test_a_dicom_series_gets_a_heatmap_with_the_series_shape_and_affine(tmp_path, ct_checkpoint) -> None:
    write_series(tmp_path / "series", 8)
    series = io.read_dicom_series(tmp_path / "series")
    explain_scan(tmp_path / "series", ct_checkpoint, ["hirescam"], tmp_path / "out", target="COVID-19 (CT-1 to CT-4)")
    heatmap = io.read_nifti(tmp_path / "out" / "hirescam.nii.gz")
    assert heatmap.array.shape == series.array.shape
    np.testing.assert_allclose(heatmap.affine, series.affine, atol=1e-5)


def test_a_radiograph_gets_a_png_of_its_own_size(tmp_path, xray_checkpoint) -> None:
    image = np.random.default_rng(3).uniform(0, 1, size=(45, 37))
    io.write_png(image, tmp_path / "chest.png")
    record = explain_scan(tmp_path / "chest.png", xray_checkpoint, ["gradcam"], tmp_path / "out", target="Nodule")
    assert io.read_image(tmp_path / "out" / "gradcam.png").shape == (45, 37)
    assert record["explained_class"] == "Nodule" and len(record["probabilities"]) == 3


def test_the_command_reports_bad_input_with_exit_2_and_keeps_what_was_written(
    tmp_path, ct_checkpoint, xray_checkpoint, capsys
) -> None:
    affine = np.diag([1.0, 1.0, 2.0, 1.0])
    io.write_nifti(Volume(np.zeros((8, 8, 8), np.int16), affine, affine_to_spacing(affine)), tmp_path / "ct.nii.gz")
    old = tmp_path / "old.pt"
    models.save(models.build("cnn3d", width=0.125, padding="same"), old)
    (tmp_path / "notes.txt").write_text("not a scan")
    cases = [
        (["explain", str(tmp_path / "ct.nii.gz"), "--model", str(old)], "does not record how scans become its input"),
        (["explain", str(tmp_path / "notes.txt"), "--model", str(ct_checkpoint)], "not a scan radxai reads"),
        (
            ["explain", str(tmp_path / "ct.nii.gz"), "--model", str(xray_checkpoint)],
            "the scan is a CT volume but the model is an X-ray model",
        ),
        (
            ["explain", str(tmp_path / "ct.nii.gz"), "--model", str(ct_checkpoint), "--target", "pneumonia"],
            "unknown class 'pneumonia'",
        ),
        (
            ["explain", str(tmp_path / "ct.nii.gz"), "--model", str(ct_checkpoint), "--layer", "block9"],
            "unknown layer 'block9'",
        ),
    ]
    for arguments, message in cases:
        assert cli.main([*arguments, "--out", str(tmp_path / "out")]) == 2
        assert __import__("re").search(message, capsys.readouterr().err), message
    assert (
        cli.main(
            [
                "explain",
                str(tmp_path / "ct.nii.gz"),
                "--model",
                str(ct_checkpoint),
                "--method",
                "saliency",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    assert "saliency" in capsys.readouterr().out
    io.write_nifti(Volume(np.ones((8, 8, 8), np.int16), affine, affine_to_spacing(affine)), tmp_path / "other.nii.gz")
    assert (
        cli.main(
            ["explain", str(tmp_path / "other.nii.gz"), "--model", str(ct_checkpoint), "--out", str(tmp_path / "out")]
        )
        == 2
    )
    assert "holds the explanation of" in capsys.readouterr().err
    assert (tmp_path / "out" / "saliency.nii.gz").is_file()
