"""Tests of radxai.cohort and `radxai explain-cohort` on a real LocalCluster (loopback, 2 workers)."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from radxai import cli, cohort, models
from radxai.data import datasets, io
from radxai.data.model_input import ModelInput

SHAPE = (16, 32, 32)
METHODS = ["gradcam", "saliency"]


@pytest.fixture(scope="module")
def cohort_files(tmp_path_factory):
    """(cases of a 6-study synthetic set, a CT checkpoint that records its input)."""
    folder = tmp_path_factory.mktemp("cohort")
    datasets.write_synthetic_ct(folder / "data", count=6, shape=SHAPE, seed=3)
    torch.manual_seed(0)
    checkpoint = folder / "model.pt"
    models.save(
        models.build("cnn3d", width=0.125, padding="same"),
        checkpoint,
        model_input=ModelInput.for_ct(SHAPE, "covid").as_dict(),
    )
    return cohort.cohort_cases("synthetic", folder / "data"), checkpoint


def killing_task(case, checkpoint, methods, out_dir, layer=None, deletion=None):
    """explain_case, except that the first worker to take the second case dies with SIGKILL."""
    marker = Path(out_dir) / "killed-once"
    if case.case_id == "study_0001" and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return cohort.explain_case(case, checkpoint, methods, out_dir, layer, deletion)


def counting_task(case, checkpoint, methods, out_dir, layer=None, deletion=None):
    """explain_case, leaving a file per call so a test can count which cases ran."""
    (Path(out_dir) / f"ran-{case.case_id}").write_text("x")
    return cohort.explain_case(case, checkpoint, methods, out_dir, layer, deletion)


@pytest.mark.slow
def test_the_cluster_gives_the_serial_table_and_survives_a_killed_worker(tmp_path, cohort_files) -> None:
    cases, checkpoint = cohort_files
    serial = cohort.explain_cohort(cases, checkpoint, METHODS, tmp_path / "serial", workers=0, progress=False)
    clustered = cohort.explain_cohort(
        cases, checkpoint, METHODS, tmp_path / "cluster", workers=2, progress=False, case_task=killing_task
    )
    assert (tmp_path / "cluster" / "killed-once").is_file()  # a worker did die mid-cohort
    pd.testing.assert_frame_equal(serial, clustered)
    assert len(serial) == len(cases) * len(METHODS) and (serial.status == "done").all()
    assert serial.duplicated(["case_id", "method"]).sum() == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cluster" / cohort.TABLE), clustered)
    positives = serial[serial.label == 1]
    assert positives["dice_above_0_7"].between(0, 1).all() and positives["mass_accuracy"].between(0, 1).all()
    assert serial.loc[serial.label == 0, "dice_above_0_7"].isna().all()  # no lesion, no localisation
    heatmap = io.read_nifti(tmp_path / "serial" / serial.heatmap.iloc[0])
    scan = io.read_nifti(cases[0].scan)
    assert heatmap.array.shape == scan.array.shape
    np.testing.assert_allclose(heatmap.affine, scan.affine)


def test_a_resumed_cohort_explains_only_the_missing_cases(tmp_path, cohort_files) -> None:
    cases, checkpoint = cohort_files
    out = tmp_path / "out"
    first = cohort.explain_cohort(cases, checkpoint, METHODS, out, workers=0, progress=False)
    for case_id in ("study_0002", "study_0004"):  # as if the run had stopped before them
        (out / cohort.ROWS / f"{case_id}.json").unlink()
    again = cohort.explain_cohort(cases, checkpoint, METHODS, out, workers=0, progress=False, case_task=counting_task)
    assert sorted(path.name for path in out.glob("ran-*")) == ["ran-study_0002", "ran-study_0004"]
    pd.testing.assert_frame_equal(first, again)


def test_a_damaged_case_is_recorded_and_the_others_go_on(tmp_path, cohort_files) -> None:
    cases, checkpoint = cohort_files
    damaged = tmp_path / "damaged.nii.gz"
    damaged.write_bytes(b"not a nifti file")
    broken = [cohort.Case("study_9999", str(damaged), None, 0), *cases[:2]]
    table = cohort.explain_cohort(broken, checkpoint, METHODS, tmp_path / "out", workers=0, progress=False)
    errors = table[table.status == "error"]
    assert set(errors.case_id) == {"study_9999"} and errors.error.str.contains("damaged.nii.gz").all()
    assert (table[table.case_id != "study_9999"].status == "done").all()


def test_another_cohorts_folder_and_a_silent_scheduler_are_refused(tmp_path, cohort_files) -> None:
    cases, checkpoint = cohort_files
    out = tmp_path / "out"
    cohort.explain_cohort(cases[:1], checkpoint, METHODS, out, workers=0, progress=False)
    with pytest.raises(cohort.CohortError, match="holds the results of another cohort"):
        cohort.explain_cohort(cases[:1], checkpoint, ["hirescam"], out, workers=0, progress=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(cohort.CohortError, match=rf"no Dask scheduler answers at tcp://127.0.0.1:{port} within 2 s"):
        cohort.explain_cohort(
            cases[:1],
            checkpoint,
            METHODS,
            tmp_path / "remote",
            scheduler=f"tcp://127.0.0.1:{port}",
            scheduler_timeout=2,
            progress=False,
        )
    assert time.monotonic() - started < 30


def test_the_command_writes_the_table_and_names_failures(tmp_path, cohort_files, capsys) -> None:
    cases, checkpoint = cohort_files
    root = Path(cases[0].scan).parents[2]
    arguments = [
        "explain-cohort",
        "synthetic",
        "--root",
        str(root),
        "--model",
        str(checkpoint),
        "--method",
        "saliency",
        "--workers",
        "0",
        "--split",
        "val",
        "--out",
        str(tmp_path / "out"),
    ]
    assert cli.main(arguments) == 0
    test_cases = [case for case in cohort.cohort_cases("synthetic", root, split="val")]
    assert 0 < len(test_cases) < len(cases)
    assert f"{len(test_cases)} cases, 0 failed" in capsys.readouterr().out
    assert len(pd.read_parquet(tmp_path / "out" / cohort.TABLE)) == len(test_cases)
    assert (
        cli.main(
            [
                "explain-cohort",
                "mosmeddata",
                "--root",
                str(tmp_path / "nothing"),
                "--model",
                str(checkpoint),
                "--out",
                str(tmp_path / "other"),
            ]
        )
        == 2
    )
    assert "radxai explain-cohort:" in capsys.readouterr().err
    assert cli.main([*arguments[:-1], str(tmp_path / "with-deletion"), "--deletion-steps", "3"]) == 0
    table = pd.read_parquet(tmp_path / "with-deletion" / cohort.TABLE)
    assert table.deletion_auc.between(0, 1).all() and table.deletion_baseline_probability.notna().all()
    assert cli.main([*arguments[:-1], str(tmp_path / "bad-deletion"), "--deletion-steps", "-1"]) == 2
    assert "deletion steps must be at least 1" in capsys.readouterr().err


def test_deletion_columns_are_the_deletion_curve_of_each_map(tmp_path, cohort_files) -> None:
    from radxai.evaluate import faithfulness
    from radxai.explain import explain

    cases, checkpoint = cohort_files
    settings = cohort.DeletionSettings(steps=4, baseline="mean")
    table = cohort.explain_cohort(
        cases[:2], checkpoint, METHODS, tmp_path / "out", workers=0, progress=False, deletion=settings
    )
    assert (table.status == "done").all()
    model, model_input = models.load(checkpoint), models.read_model_input(checkpoint)
    inputs = model_input.prepare(io.read_nifti(cases[0].scan).array)
    for method in METHODS:
        heatmaps = explain(model, inputs, method, target=1).heatmaps
        curve = faithfulness.deletion_curve(model, inputs, heatmaps, 1, steps=4, baseline="mean")
        row = table[(table.case_id == cases[0].case_id) & (table.method == method)].iloc[0]
        assert row.deletion_auc == pytest.approx(float(curve.auc[0]), rel=1e-5)
        assert row.deletion_baseline_probability == pytest.approx(float(curve.baseline_scores[0]), rel=1e-5)
        assert row.deletion_baseline_scored_as_target == (curve.baseline_scores[0] >= 0.5)


def test_a_cohort_folder_refuses_other_deletion_settings_and_bad_settings(tmp_path, cohort_files) -> None:
    cases, checkpoint = cohort_files
    cohort.explain_cohort(cases[:1], checkpoint, METHODS, tmp_path / "out", workers=0, progress=False)
    with pytest.raises(cohort.CohortError, match="another cohort"):
        cohort.explain_cohort(
            cases[:1],
            checkpoint,
            METHODS,
            tmp_path / "out",
            workers=0,
            progress=False,
            deletion=cohort.DeletionSettings(steps=2),
        )
    with pytest.raises(ValueError, match="at least 1"):
        cohort.DeletionSettings(steps=0)
    with pytest.raises(ValueError, match="use 'blur', 'mean' or 'zero'"):
        cohort.DeletionSettings(baseline="healthy_fill")


@pytest.fixture(scope="module")
def xray_cohort_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xray-cohort")
    datasets.write_synthetic_cxr(folder / "data", count=6, seed=4, shape=(64, 64), prevalence=0.6)
    class_names = datasets.cxr_class_names()
    torch.manual_seed(0)
    checkpoint = folder / "model.pt"
    models.save(
        models.build("cnn2d", width=0.125, num_outputs=len(class_names)),
        checkpoint,
        model_input=ModelInput.for_xray((64, 64), class_names).as_dict(),
    )
    return cohort.cohort_cases("synthetic_xray", folder / "data"), checkpoint


def test_an_xray_cohort_explains_each_boxed_class_and_scores_it_against_the_readers_boxes(
    tmp_path, xray_cohort_files
) -> None:
    from radxai.evaluate import localisation
    from radxai.evaluate.boxes import mask_from_boxes

    cases, checkpoint = xray_cohort_files
    assert {case.modality for case in cases} == {"xray"}
    boxed = [case for case in cases if case.boxes]
    unboxed = [case for case in cases if not case.boxes]
    assert boxed and unboxed, "the fixture needs radiographs with and without readers' boxes"
    table = cohort.explain_cohort(cases, checkpoint, METHODS, tmp_path / "out", workers=0, progress=False)
    assert (table.status == "done").all()
    for case in boxed:
        rows = table[table.case_id == case.case_id]
        assert set(rows.class_name) == {name for name, _ in case.boxes}
        for row in rows.itertuples():
            heatmap = io.read_image(tmp_path / "out" / row.heatmap)
            assert heatmap.shape == io.read_image(case.scan).shape
            mask = mask_from_boxes([box for name, box in case.boxes if name == row.class_name], heatmap.shape)
            # The PNG holds the map to 1/65535: the mass on the boxes agrees to that.
            assert row.mass_accuracy == pytest.approx(localisation.mass_accuracy(heatmap, mask), abs=1e-3)
    for case in unboxed:
        rows = table[table.case_id == case.case_id]
        assert len(rows) == len(METHODS) and rows.mass_accuracy.isna().all() and rows.label.eq(0).all()
