"""Tests of radxai.seed_sweep and `radxai reproduce --seeds` on tiny generated notebooks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from test_pipeline import make_notebook

from radxai import cli, pipeline, seed_sweep

# A notebook that records one measurement depending on its seed: value 0.1 * seed, a CI of
# width 0.02 * (seed + 1), n = 10; it fails for the seed named in a file unless a flag file exists.
MEASURING_CELL = """
from pathlib import Path
from radxai import report
fail_seed = Path(fail_file).read_text().strip() if Path(fail_file).exists() else ''
if str(seed) == fail_seed and not Path(fail_file + '.allow').exists():
    raise RuntimeError(f'seed {seed} fails on purpose')
value = 0.1 * seed
half_width = 0.01 * (seed + 1)
report.record_measurements(run_dir, [
    {'metric': 'auroc', 'setting': 'toy', 'value': value, 'ci_low': value - half_width,
     'ci_high': value + half_width, 'n': 10},
    {'metric': 'count', 'setting': 'toy', 'value': 5.0}],
    experiment='toy', work='radxai', reference='', seeds=seed, profile='tiny')
"""


@pytest.fixture
def project(tmp_path: Path) -> pipeline.RunSettings:
    notebooks, params = tmp_path / "notebooks", tmp_path / "params"
    notebooks.mkdir()
    params.mkdir()
    # A per-notebook seed that the sweep's seed must override.
    (params / "tiny.yaml").write_text(
        "description: tiny\nparameters:\n  seed: 0\nnotebooks:\n  01_measure: {seed: 9}\n"
    )
    make_notebook(
        notebooks / "01_measure.ipynb",
        f"seed = 0\nrun_dir = 'unset'\nfail_file = {str(tmp_path / 'fail_seed')!r}",
        [MEASURING_CELL],
    )
    return pipeline.RunSettings(
        notebooks_dir=notebooks,
        params_dir=params,
        runs_root=tmp_path / "runs",
        kernel_name=None,
        progress=lambda line: None,
    )


def test_parse_seeds_reads_distinct_integers() -> None:
    assert seed_sweep.parse_seeds("0, 1,2") == [0, 1, 2]
    assert seed_sweep.parse_seeds("7") == [7]


@pytest.mark.parametrize(
    ("text", "message"), [("", "no seed"), ("1,a", "'a'"), ("1,-2", "'-2'"), ("1,2,1", "seed 1 is given twice")]
)
def test_parse_seeds_names_the_bad_part(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        seed_sweep.parse_seeds(text)


@pytest.mark.slow
def test_a_sweep_runs_each_seed_and_tabulates_the_spread(project: pipeline.RunSettings) -> None:
    sweep_dir = seed_sweep.reproduce_seeds("tiny", project, [1, 3])
    record = seed_sweep.read_sweep_record(sweep_dir)
    assert record["status"] == "completed" and record["seeds"] == [1, 3]
    for seed in (1, 3):
        run = sweep_dir / record["runs"][str(seed)]["run"]
        assert run.name.endswith(f"-seed-{seed}")
        run_record = json.loads((run / "run.json").read_text())
        assert run_record["parameter_overrides"] == {"seed": seed}
        assert run_record["notebooks"]["01_measure.ipynb"]["seeds"] == {"seed": seed}
    table = pd.read_csv(sweep_dir / "tables" / seed_sweep.ACROSS_SEEDS_FILE).set_index("metric")
    auroc = table.loc["auroc"]
    assert auroc["seeds"] == "1,3" and auroc["seed_count"] == 2
    assert auroc["mean"] == pytest.approx(0.2)
    assert auroc["standard_deviation"] == pytest.approx(math.sqrt(0.02), rel=1e-5)  # 0.1 and 0.3, ddof 1
    assert (auroc["minimum"], auroc["maximum"]) == (pytest.approx(0.1), pytest.approx(0.3))
    assert auroc["mean_interval_width"] == pytest.approx((0.04 + 0.08) / 2)
    assert auroc["per_seed"] == "1: 0.1 [0.08, 0.12]; 3: 0.3 [0.26, 0.34]"
    count = table.loc["count"]
    assert count["standard_deviation"] == 0 and math.isnan(count["mean_interval_width"])


@pytest.mark.slow
def test_a_failed_seed_keeps_the_others_and_resumes(project: pipeline.RunSettings, tmp_path: Path) -> None:
    (tmp_path / "fail_seed").write_text("2")
    with pytest.raises(seed_sweep.SeedSweepError, match=r"1 of 2 seeds failed \(seed 2: .*-seed-2\)"):
        seed_sweep.reproduce_seeds("tiny", project, [1, 2])
    (sweep_dir,) = project.runs_root.iterdir()
    record = seed_sweep.read_sweep_record(sweep_dir)
    assert record["status"] == "failed" and record["runs"]["1"]["status"] == "completed"
    assert record["runs"]["2"]["status"] == "failed" and "fails on purpose" in record["runs"]["2"]["error"]
    assert seed_sweep.aggregate_seeds(sweep_dir)["seeds"].tolist() == ["1", "1"]
    (tmp_path / "fail_seed.allow").write_text("")
    pipeline.reproduce("tiny", project, run_dir=sweep_dir / record["runs"]["2"]["run"])
    table = seed_sweep.aggregate_seeds(sweep_dir)
    assert table["seeds"].tolist() == ["1,2", "1,2"]


@pytest.mark.slow
def test_seeds_on_a_dask_cluster_give_the_serial_table(project: pipeline.RunSettings) -> None:
    from distributed import Client, LocalCluster

    serial = seed_sweep.reproduce_seeds("tiny", project, [1, 2])
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        distributed = seed_sweep.reproduce_seeds("tiny", project, [1, 2], scheduler=cluster.scheduler_address)
    read = lambda sweep: pd.read_csv(sweep / "tables" / seed_sweep.ACROSS_SEEDS_FILE)  # noqa: E731
    pd.testing.assert_frame_equal(read(serial), read(distributed))
    assert seed_sweep.read_sweep_record(distributed)["status"] == "completed"


def test_an_unreachable_scheduler_starts_no_sweep(project: pipeline.RunSettings) -> None:
    with pytest.raises(seed_sweep.SeedSweepError, match="no Dask scheduler answers at tcp://127.0.0.1:9"):
        seed_sweep.reproduce_seeds("tiny", project, [1], scheduler="tcp://127.0.0.1:9", scheduler_timeout=1)
    assert not project.runs_root.exists() or not any(project.runs_root.iterdir())


def test_aggregating_a_folder_that_is_not_a_sweep_names_it(tmp_path: Path, capsys) -> None:
    with pytest.raises(seed_sweep.SeedSweepError, match=f"{tmp_path} is not a seed sweep"):
        seed_sweep.aggregate_seeds(tmp_path)
    assert cli.main(["aggregate-seeds", str(tmp_path)]) == 2
    assert "is not a seed sweep" in capsys.readouterr().err


def test_a_sweep_with_no_completed_seed_has_nothing_to_aggregate(tmp_path: Path) -> None:
    pipeline.write_json_atomically({"runs": {"0": {"status": "failed", "run": None}}}, tmp_path / "sweep.json")
    with pytest.raises(seed_sweep.SeedSweepError, match="no seed's run has completed"):
        seed_sweep.aggregate_seeds(tmp_path)


@pytest.mark.parametrize(
    "arguments", [["--seeds", "1,x"], ["--scheduler", "tcp://127.0.0.1:9"], ["--resume", "runs/x", "--seeds", "1"]]
)
def test_cli_refuses_bad_seed_arguments(project: pipeline.RunSettings, arguments: list[str], capsys) -> None:
    status = cli.main(
        [
            "reproduce",
            "--profile",
            "tiny",
            "--params",
            str(project.params_dir),
            "--notebooks",
            str(project.notebooks_dir),
            "--runs",
            str(project.runs_root),
            *arguments,
        ]
    )
    assert status == 2
    assert "radxai reproduce:" in capsys.readouterr().err
    assert not project.runs_root.exists()


def test_a_profile_with_malformed_seeds_names_its_file(project: pipeline.RunSettings) -> None:
    (project.params_dir / "bad.yaml").write_text("parameters: {seed: 0}\nseeds: [1, one]\n")
    with pytest.raises(pipeline.ProfileError, match=r"bad\.yaml: 'seeds' must be a list of distinct"):
        pipeline.load_profile("bad", project.params_dir)


@pytest.mark.slow
def test_a_profile_that_lists_seeds_runs_a_sweep_from_the_cli(project: pipeline.RunSettings, capsys) -> None:
    (project.params_dir / "swept.yaml").write_text("parameters: {seed: 0}\nseeds: [1, 2]\n")
    status = cli.main(
        [
            "reproduce",
            "--profile",
            "swept",
            "--params",
            str(project.params_dir),
            "--notebooks",
            str(project.notebooks_dir),
            "--runs",
            str(project.runs_root),
            "--kernel",
            "python3",
        ]
    )
    output = capsys.readouterr().out
    assert status == 0
    (sweep_dir,) = project.runs_root.iterdir()
    assert sweep_dir.name.endswith("-swept-seeds")
    assert "2 measurements across seeds" in output
    assert "toy / auroc / toy: mean 0.15" in output
    assert all(
        (sweep_dir / entry["run"] / "report" / "index.html").is_file()
        for entry in seed_sweep.read_sweep_record(sweep_dir)["runs"].values()
    )


def test_an_error_outside_the_notebooks_marks_the_sweep_interrupted(project: pipeline.RunSettings, monkeypatch) -> None:
    def run_seed(profile_name, notebooks_dir, params_dir, kernel_name, seed, only, sweep_dir, progress=None):
        if seed == 2:
            raise OSError("disk full")
        return f"20260101-000000-seed-{seed}"

    monkeypatch.setattr(seed_sweep, "_run_seed", run_seed)
    with pytest.raises(OSError, match="disk full"):
        seed_sweep.reproduce_seeds("tiny", project, [1, 2, 3])
    (sweep_dir,) = project.runs_root.iterdir()
    record = seed_sweep.read_sweep_record(sweep_dir)
    assert record["status"] == "interrupted" and record["error"] == "OSError: disk full"
    assert [record["runs"][seed]["status"] for seed in ("1", "2", "3")] == ["completed", "pending", "pending"]
