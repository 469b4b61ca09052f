"""Tests of the benchmark runner: a tiny grid end to end, Δm / negative transfer, bad inputs, the CLI."""

import csv
import json
import os

import pytest

from mtl_keras.benchmarks import cli as bench_cli
from mtl_keras.benchmarks.datasets import DatasetNotAvailableError
from mtl_keras.benchmarks.runner import (
    BenchmarkConfigError,
    BenchmarkRun,
    BenchmarkSpec,
    get_preset,
    matched_baseline,
    plan_runs,
    report,
    run_benchmarks,
)

TINY_DATA = {"num_train": 64, "num_validation": 32, "num_test": 32, "input_dim": 8}


def _tiny(**overrides):
    return get_preset("tiny", **overrides)


# ------------------------------------------------------------------------------ end to end
def test_tiny_grid_writes_tables_plots_and_resumes(tmp_path, capsys):
    out = tmp_path / "bench"
    results = run_benchmarks(_tiny(), out, progress=True)
    printed = capsys.readouterr().out
    assert "[1/4]" in printed and "[4/4]" in printed and "Δm" in printed
    # 2 correlations x (baseline + 1 model) x 1 seed
    assert len(results.records) == 4 and not results.failed
    assert {r["model"] for r in results.records} == {"test_independent_mlp", "test_hard_sharing_mlp"}

    markdown = (out / "results.md").read_text()
    assert markdown == results.markdown
    assert "mmoe_synthetic:p=0.2" in markdown and "mmoe_synthetic:p=0.9" in markdown
    assert "`task_1` mae ↓" in markdown and "Δm %" in markdown and "(single-task baseline)" in markdown

    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    deltas = [r for r in rows if r["metric"] == "delta_m_pct"]
    assert len(deltas) == 2 and {r["model"] for r in deltas} == {"test_hard_sharing_mlp"}
    assert {r["task"] for r in rows} == {"task_1", "task_2", "(all)"}

    assert sorted(os.path.basename(p) for p in results.files["plots"]) == [
        "curves_mmoe_synthetic_p=0.2.png",
        "curves_mmoe_synthetic_p=0.9.png",
        "mmoe_correlation.png",
    ]
    for path in results.files["plots"]:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.getsize(path) > 1000

    stored = json.loads((out / "results.json").read_text())
    assert len(stored["runs"]) == 4 and stored["config"]["name"] == "tiny"
    record = next(iter(stored["runs"].values()))
    assert set(record["test"]) == {"task_1", "task_2"} and len(record["history"]["validation"]["task_1"]["loss"]) == 2

    # An interrupted grid: drop one finished run; a re-run trains only that one.
    dropped = results.records[-1]["id"]
    del stored["runs"][dropped]
    (out / "results.json").write_text(json.dumps(stored))
    again = run_benchmarks(_tiny(), out, progress=True, plots=False)
    printed = capsys.readouterr().out
    assert "(3 already in" in printed and "[1/1]" in printed and "[2/" not in printed
    assert len(again.records) == 4 and dropped in json.loads((out / "results.json").read_text())["runs"]

    # Changed settings (more epochs) are not reused.
    changed = run_benchmarks(_tiny(epochs=1, benchmarks=["mmoe_synthetic:p=0.2"]), out, progress=False, plots=False)
    assert all(r["epochs_run"] == 1 for r in changed.records)


# ------------------------------------------------------------------------------ Δm, negative transfer
def _record(model, seed, test, role="model", benchmark="toy"):
    return {
        "benchmark": benchmark, "benchmark_name": benchmark, "model": model, "weighting": "static",
        "seed": seed, "role": role, "test": test, "tasks": [{"name": "a", "kind": "binary"}, {"name": "b", "kind": "regression"}],
        "params": 10, "seconds": 1.0, "epochs_run": 3,
    }


def test_delta_m_and_negative_transfer_on_a_constructed_case(tmp_path):
    base = {"a": {"loss": 0.5, "accuracy": 0.8}, "b": {"loss": 4.0, "mae": 2.0}}
    records = [
        _record("independent_mlp", 0, base, role="baseline"),
        _record("independent_mlp", 1, base, role="baseline"),
        # seed 0: a +10 %, b -5 % (mae up);  seed 1: a +5 %, b -15 %
        _record("hard_sharing_mlp", 0, {"a": {"loss": 0.4, "accuracy": 0.88}, "b": {"loss": 4.4, "mae": 2.1}}),
        _record("hard_sharing_mlp", 1, {"a": {"loss": 0.45, "accuracy": 0.84}, "b": {"loss": 5.0, "mae": 2.3}}),
    ]
    config = BenchmarkRun(benchmarks=["mmoe_synthetic"], models=["hard_sharing_mlp"], seeds=[0, 1])
    rows = report.summarize(records, config)
    assert [r["role"] for r in rows] == ["baseline", "model"]
    assert rows[0]["delta_m"] is None and rows[0]["negative_transfer"] == []
    row = rows[1]
    assert row["baseline"] == "independent_mlp"
    assert row["delta_m"]["values"] == pytest.approx([2.5, -5.0])
    assert row["delta_m"]["mean"] == pytest.approx(-1.25)
    assert row["delta_m"]["std"] == pytest.approx(5.3033, abs=1e-3)
    assert row["relative"]["a"]["mean"] == pytest.approx(7.5)
    assert row["relative"]["b"]["mean"] == pytest.approx(-10.0)
    assert row["negative_transfer"] == ["b"]
    assert row["tasks"]["a"]["accuracy"]["mean"] == pytest.approx(0.86)

    table = report.benchmark_table(rows)
    line = next(x for x in table.splitlines() if x.startswith("| `hard_sharing_mlp`"))
    assert "0.860 ± 0.028 (+7.5%)" in line and "2.200 ± 0.141 (−10.0% ⚠)" in line and "−1.25 ± 5.30" in line
    assert "⚠ 1/2" in report.summary_table(rows)

    report.write_csv(rows, tmp_path / "r.csv")
    with open(tmp_path / "r.csv") as f:
        by_key = {(r["model"], r["task"], r["metric"]): r for r in csv.DictReader(f)}
    assert by_key[("hard_sharing_mlp", "b", "mae")]["negative_transfer"] == "True"
    assert by_key[("hard_sharing_mlp", "a", "accuracy")]["negative_transfer"] == "False"
    assert float(by_key[("hard_sharing_mlp", "(all)", "delta_m_pct")]["mean"]) == pytest.approx(-1.25)


# ------------------------------------------------------------------------------ configuration
def test_benchmark_spec_parsing():
    spec = BenchmarkSpec.parse("gradnorm_scales:scales=(1.0,10.0):num_train=100")
    assert spec.name == "gradnorm_scales" and dict(spec.options) == {"scales": (1.0, 10.0), "num_train": 100}
    assert spec.label == "gradnorm_scales:num_train=100:scales=(1.0,10.0)"
    assert BenchmarkSpec.parse("mmoe_synthetic").label == "mmoe_synthetic"
    with pytest.raises(BenchmarkConfigError, match="name:key=value"):
        BenchmarkSpec.parse("mmoe_synthetic:0.9")
    from mtl_keras.benchmarks.runner.config import split_list

    assert split_list("a:s=(1,2), b ,c") == ["a:s=(1,2)", "b", "c"]


def test_matched_baselines_and_plan_order():
    assert matched_baseline("hard_sharing_mlp") == "independent_mlp"
    assert matched_baseline("mmoe_mlp_small") == "independent_mlp_small"
    assert matched_baseline("test_film_conv") == "test_independent_conv"
    config = BenchmarkRun(
        benchmarks=["mmoe_synthetic"], models=["independent_mlp", "mmoe_mlp"], weightings=["static", "uncertainty"]
    )
    plan = [(key.model, key.weighting, role) for key, role in plan_runs(config)]
    assert plan == [
        ("independent_mlp", "static", "baseline"),
        ("independent_mlp", "uncertainty", "model"),
        ("mmoe_mlp", "static", "model"),
        ("mmoe_mlp", "uncertainty", "model"),
    ]


# ------------------------------------------------------------------------------ bad input
def test_unknown_names_are_reported_together_before_training(tmp_path):
    config = BenchmarkRun(
        benchmarks=["multi_digit"], models=["hard_sharng_mlp"], weightings=["static", "uncertanty"], seeds=[0]
    )
    out = tmp_path / "out"
    with pytest.raises(BenchmarkConfigError) as info:
        run_benchmarks(config, out, progress=False)
    message = str(info.value)
    assert "Unknown benchmark: 'multi_digit'. Did you mean: multi_digits" in message
    assert "Unknown zoo model: 'hard_sharng_mlp'. Did you mean: hard_sharing_mlp" in message
    assert "Unknown weighting" in message and "uncertainty" in message
    assert not out.exists()  # nothing started


def test_weightings_take_constructor_options(tmp_path):
    from mtl_keras import weighting
    from mtl_keras.benchmarks.runner.config import build_weighting

    strategy = build_weighting("pcgrad:uses_representation=True")
    assert isinstance(strategy, weighting.PCGrad) and strategy.uses_representation
    assert build_weighting("cagrad:c=0.25:iterations=50").get_config()["c"] == 0.25
    config = BenchmarkRun(
        benchmarks=["mmoe_synthetic"], models=["hard_sharing_mlp"],
        weightings=["cagrad:c=-1.0", "pcgrad:alpha=2", "mgda:normalization"], seeds=[0],
    )
    with pytest.raises(BenchmarkConfigError) as info:
        run_benchmarks(config, tmp_path / "bad", progress=False)
    message = str(info.value)
    assert "c must be a finite number >= 0. Received: c=-1.0" in message
    assert "Weighting 'pcgrad:alpha=2'" in message and "alpha" in message
    assert "Could not read the option 'normalization'" in message
    label = "mgda_ub:normalization='l2'"
    results = run_benchmarks(
        _tiny(benchmarks=["mmoe_synthetic:p=0.5"], weightings=[label], epochs=1), tmp_path / "ok", progress=False,
        plots=False,
    )
    assert not results.failed and label in {r["weighting"] for r in results.records}


def test_other_bad_configurations(tmp_path):
    with pytest.raises(BenchmarkConfigError, match="Unknown preset: 'quik'. Did you mean: quick"):
        get_preset("quik")
    with pytest.raises(BenchmarkConfigError, match="not an independent"):
        BenchmarkRun(benchmarks=["mmoe_synthetic"], models=["test_mmoe_mlp"], baseline="test_mmoe_mlp").validate()
    with pytest.raises(BenchmarkConfigError, match="epochs must be a positive integer"):
        BenchmarkRun(benchmarks=["mmoe_synthetic"], models=["test_mmoe_mlp"], epochs=0)
    with pytest.raises(BenchmarkConfigError, match="lists a name twice"):
        BenchmarkRun(benchmarks=["mmoe_synthetic"], models=["test_mmoe_mlp", "test_mmoe_mlp"])
    with pytest.raises(BenchmarkConfigError, match="takes images"):
        run_benchmarks(
            BenchmarkRun(benchmarks=["mmoe_synthetic"], models=["test_hard_sharing_conv"],
                         benchmark_options={"mmoe_synthetic": TINY_DATA}),
            tmp_path / "a", progress=False,
        )
    with pytest.raises(BenchmarkConfigError, match="mmoe_synthetic:q=1"):
        run_benchmarks(BenchmarkRun(benchmarks=["mmoe_synthetic:q=1"], models=["test_mmoe_mlp"]), tmp_path / "b", progress=False)


def test_output_folder_must_be_writable(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(BenchmarkConfigError, match="not writable"):
        run_benchmarks(_tiny(), blocker / "out", progress=False)


def test_missing_tfds_data_set_is_a_clear_error(tmp_path):
    config = BenchmarkRun(benchmarks=[f"mnist_fashion:data_dir={tmp_path / 'no_tfds'}"], models=["test_hard_sharing_conv"])
    with pytest.raises(DatasetNotAvailableError, match="not available"):
        run_benchmarks(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "results.json").exists()


# ------------------------------------------------------------------------------ command line
def test_cli_runs_a_tiny_config(tmp_path, capsys):
    out = tmp_path / "cli"
    code = bench_cli.main([
        "bench", "--benchmarks", "mmoe_synthetic:p=0.5:num_train=64:num_validation=32:num_test=32:input_dim=8",
        "--models", "test_hard_sharing_mlp", "--weightings", "static", "--seeds", "1", "--epochs", "1",
        "--out", str(out),
    ])
    printed = capsys.readouterr().out
    assert code == 0
    assert "[2/2]" in printed and "| `test_hard_sharing_mlp` | static |" in printed
    markdown = (out / "results.md").read_text()
    assert "Produced by `python -m mtl_keras.benchmarks.cli bench --benchmarks" in markdown
    assert (out / "results.csv").exists() and (out / "curves_mmoe_synthetic_input_dim=8_num_test=32_num_train=64_num_validation=32_p=0.5.png").exists()


def test_cli_bad_inputs_exit_with_a_message(tmp_path, capsys):
    code = bench_cli.main(["bench", "--benchmarks", "mmoe_synthetc", "--models", "test_mmoe_mlp", "--out", str(tmp_path)])
    error = capsys.readouterr().err
    assert code == 2 and "mtl-keras bench: error:" in error and "Did you mean: mmoe_synthetic" in error
    assert "Traceback" not in error
    code = bench_cli.main([
        "bench", "--benchmarks", f"mnist_fashion:data_dir={tmp_path / 'none'}", "--models", "test_mmoe_conv",
        "--out", str(tmp_path / "o"),
    ])
    error = capsys.readouterr().err
    assert code == 2 and "not available" in error and "tfds build mnist" in error and "Traceback" not in error
    assert bench_cli.main(["bench", "--models", "test_mmoe_mlp", "--out", str(tmp_path)]) == 2
    assert "Give --benchmarks" in capsys.readouterr().err
    assert bench_cli.main(["bench", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "mmoe_synthetic" in listed and "hard_sharing_mlp" in listed and "uncertainty" in listed and "quick" in listed


def test_mtl_keras_console_script_has_bench_when_wired(tmp_path, capsys):
    from mtl_keras import cli

    parser = cli.build_parser()
    try:
        parser.parse_args(["bench", "--list"])
    except SystemExit:
        pytest.skip("`bench` is not wired into mtl_keras.cli yet")
    assert cli.main(["bench", "--list"]) == 0
    assert "Presets:" in capsys.readouterr().out


def test_run_preset_prints_the_per_task_table(tmp_path, capsys):
    from mtl_keras.benchmarks.runner import run_preset

    results = run_preset("tiny", tmp_path / "preset", progress=False, benchmarks=["mmoe_synthetic:p=0.5"])
    printed = capsys.readouterr().out
    assert "#### `mmoe_synthetic:p=0.5`" in printed and "`task_2` mae ↓" in printed
    assert results.files["markdown"].endswith("results.md") and len(results.rows) == 2
