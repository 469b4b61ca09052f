"""The runner's data-size sweep, fair baselines (parameter-matched, tuned equal weights) and noise markers."""

import csv
import json
import math
import os

import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras.benchmarks.runner import (
    BenchmarkConfigError,
    BenchmarkRun,
    get_preset,
    plan_runs,
    report,
    run_benchmarks,
)
from mtl_keras.benchmarks.runner.baselines import param_matched
from mtl_keras.benchmarks.runner.config import BenchmarkSpec
from mtl_keras.benchmarks.runner.monitor import ValidationScore, main_metrics
from mtl_keras.benchmarks.runner.run import load
from mtl_keras.benchmarks.runner.stats import paired_test

TINY_DATA = {"num_train": 64, "num_validation": 32, "num_test": 32, "input_dim": 8}


# ------------------------------------------------------------------------------ the paired test
def test_paired_t_test_closed_form():
    # Two degrees of freedom: the two-sided p-value is 1 − |t| / sqrt(t² + 2).
    result = paired_test([1.0, 2.0, 3.0])
    t = 2.0 / (1.0 / math.sqrt(3))
    assert result["t"] == pytest.approx(t) and result["p_value"] == pytest.approx(1 - t / math.sqrt(t * t + 2))
    assert result["within_noise"] is True  # p = 0.074 >= 0.05
    assert paired_test([1.0, 2.0, 3.0], alpha=0.1)["within_noise"] is False
    assert paired_test([5.0, 5.2, 4.8])["within_noise"] is False
    assert paired_test([2.0, 2.0])["p_value"] == 0.0 and paired_test([0.0, 0.0])["p_value"] == 1.0
    single = paired_test([3.0])
    assert single["within_noise"] is None and single["p_value"] is None and single["mean"] == 3.0


def _record(model, seed, accuracy, role="model", weighting="static", benchmark="toy"):
    return {
        "benchmark": benchmark, "benchmark_name": benchmark, "model": model, "weighting": weighting, "seed": seed,
        "role": role, "test": {"a": {"loss": 1.0, "accuracy": accuracy}}, "tasks": [{"name": "a", "kind": "binary"}],
        "params": 10, "seconds": 1.0, "epochs_run": 3,
    }


def test_report_marks_differences_within_noise_and_compares_with_the_fair_baselines():
    base = [0.50, 0.60, 0.70]
    records = [_record("independent_mlp", s, b, role="baseline") for s, b in enumerate(base)]
    # A clear gain (+10 % on every seed) and a noisy one (+20 %, −10 %, +5 %).
    records += [_record("hard_sharing_mlp", s, b * 1.10) for s, b in enumerate(base)]
    records += [_record("mmoe_mlp", s, b * f) for s, (b, f) in enumerate(zip(base, (1.2, 0.9, 1.05)))]
    # Fair baselines of hard sharing: parameter-matched single-task (+10 % too), tuned equal weights (+5 %).
    records += [_record("hard_sharing_mlp", s, b * 1.10, role="param_matched") for s, b in enumerate(base)]
    records += [_record("hard_sharing_mlp", s, b * 1.05, role="tuned") for s, b in enumerate(base)]
    config = BenchmarkRun(benchmarks=["mmoe_synthetic"], models=["hard_sharing_mlp", "mmoe_mlp"], seeds=[0, 1, 2])
    rows = report.summarize(records, config)
    assert [r["role"] for r in rows] == ["baseline", "param_matched", "tuned", "model", "model"]
    hard, mmoe = rows[3], rows[4]
    assert hard["delta_m"]["mean"] == pytest.approx(10.0) and hard["delta_m"]["within_noise"] is False
    assert mmoe["delta_m"]["mean"] == pytest.approx(5.0) and mmoe["delta_m"]["within_noise"] is True
    assert hard["versus"]["param_matched"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert hard["versus"]["tuned"]["mean"] == pytest.approx(100 * (1.10 / 1.05 - 1))
    assert hard["versus"]["tuned"]["within_noise"] is False
    assert mmoe["versus"] == {"param_matched": None, "tuned": None}
    assert rows[2]["versus"]["param_matched"]["mean"] == pytest.approx(100 * (1.05 / 1.10 - 1))

    summary = report.summary_table(rows)
    assert "| `hard_sharing_mlp` | static | +10.00 ± 0.00 |" in summary
    assert "| `mmoe_mlp` | static | +5.00 ± 15.00 ≈ ⚠ 0/1 |" not in summary and "+5.00 ± 15.00 ≈" in summary
    assert "equal, tuned lr and wd" in summary and "(single-task, parameters of `hard_sharing_mlp`)" in summary
    fair = report.fair_table(rows)
    line = next(x for x in fair.splitlines() if "| `hard_sharing_mlp` | static |" in x)
    assert "+10.00 ± 0.00" in line and "+0.00 ± 0.00 ≈" in line and "+4.76 ± 0.00" in line


# ------------------------------------------------------------------------------ data-size sweep
def test_train_sizes_expand_the_benchmarks():
    config = BenchmarkRun(benchmarks=["mmoe_synthetic:p=0.5", "multi_digits:train_size=30"], models=["hard_sharing_mlp"],
                          train_sizes=[10, None])
    labels = [spec.label for spec in config.benchmarks]
    assert labels == ["mmoe_synthetic:p=0.5:train_size=10", "mmoe_synthetic:p=0.5", "multi_digits:train_size=30"]
    assert {spec.base_label for spec in config.benchmarks} == {"mmoe_synthetic:p=0.5", "multi_digits"}
    assert config.options_for(config.benchmarks[0]) == {"p": 0.5}  # the loader never sees train_size
    with pytest.raises(BenchmarkConfigError, match="train_sizes must be positive integers"):
        BenchmarkRun(benchmarks=["mmoe_synthetic"], models=["hard_sharing_mlp"], train_sizes=[0])
    with pytest.raises(BenchmarkConfigError, match="task_inputs must be one of"):
        BenchmarkRun(benchmarks=["mmoe_synthetic:task_inputs=own"], models=["hard_sharing_mlp"])
    with pytest.raises(BenchmarkConfigError, match="put train_size in the benchmark spec"):
        BenchmarkRun(benchmarks=["mmoe_synthetic"], models=["hard_sharing_mlp"],
                     benchmark_options={"mmoe_synthetic": {"train_size": 5}}).validate()


def test_train_subsets_are_nested_and_leave_validation_and_test_whole():
    config = BenchmarkRun(benchmarks=["mmoe_synthetic"], models=["test_hard_sharing_mlp"], benchmark_options={"mmoe_synthetic": TINY_DATA})
    full = load(config, BenchmarkSpec.parse("mmoe_synthetic"), seed=3)
    small = load(config, BenchmarkSpec.parse("mmoe_synthetic:train_size=10"), seed=3)
    larger = load(config, BenchmarkSpec.parse("mmoe_synthetic:train_size=20"), seed=3)
    rows = {tuple(r) for r in larger.splits["train"][0]}
    assert len(small.splits["train"][0]) == 10 and {tuple(r) for r in small.splits["train"][0]} <= rows
    for split in ("validation", "test"):
        np.testing.assert_array_equal(small.splits[split][0], full.splits[split][0])
    x, labels = small.splits["train"]
    index = [int(np.flatnonzero((full.splits["train"][0] == row).all(axis=1))[0]) for row in x]
    np.testing.assert_array_equal(labels["task_2"], full.splits["train"][1]["task_2"][index])  # labels stay with their inputs
    other_seed = load(config, BenchmarkSpec.parse("mmoe_synthetic:train_size=10"), seed=4)
    assert not np.array_equal(other_seed.splits["train"][0], small.splits["train"][0])

    separate = load(config, BenchmarkSpec.parse("mmoe_synthetic:task_inputs=separate:train_size=10"), seed=3)
    assert separate.mode == "multi" and separate.num_examples("train") == {"task_1": 10, "task_2": 10}
    assert not np.array_equal(separate.splits["train"]["task_1"][0], separate.splits["train"]["task_2"][0])
    assert separate.num_examples("test") == {"task_1": 32, "task_2": 32}
    with pytest.raises(BenchmarkConfigError, match="train_size=65 is larger than the training split \\(64 examples\\)"):
        load(config, BenchmarkSpec.parse("mmoe_synthetic:train_size=65"), seed=0)


# ------------------------------------------------------------------------------ fair baselines
def test_parameter_matched_baseline_is_the_closest_width():
    tasks = [mk.Task("a", num_classes=10), mk.Task("b", kind="binary"), mk.Task("c", kind="regression")]
    matched = param_matched("hard_sharing_mlp", tasks, (40,))
    assert matched["model"] == "independent_mlp"
    (width, second) = matched["overrides"]["units"]
    assert width == second  # the preset (64, 64) scaled together

    def count(w):
        return mk.zoo.create_model("independent_mlp", tasks=tasks, input_shape=(40,), units=(w, w)).count_params()

    target = mk.zoo.create_model("hard_sharing_mlp", tasks=tasks, input_shape=(40,)).count_params()
    assert matched["target"] == target and matched["params"] == count(width)
    assert abs(count(width) - target) <= min(abs(count(width - 1) - target), abs(count(width + 1) - target))
    assert abs(matched["params"] - target) / target < 0.05
    # Non-size overrides the baseline takes (the pooling of an image model) are kept.
    conv = param_matched("test_mtan_conv", tasks, (8, 8, 1), {"pooling": "flatten"})
    assert conv["model"] == "test_independent_conv" and conv["overrides"]["pooling"] == "flatten"


def test_plan_with_fair_baselines_and_image_models_on_vector_benchmarks():
    config = BenchmarkRun(
        benchmarks=["mmoe_synthetic"], models=["mmoe_mlp", "mtan_conv"], weightings=["static", "uncertainty"],
        seeds=[0, 1], param_matched=True, tuned_baseline=True,
    )
    plan = [(key.model, key.weighting, key.seed, role) for key, role in plan_runs(config)]
    assert plan == [
        ("independent_mlp", "static", 0, "baseline"),
        ("mmoe_mlp", "static", 0, "tuning"),
        ("mmoe_mlp", "static", 0, "param_matched"),
        ("mmoe_mlp", "static", 0, "tuned"),
        ("mmoe_mlp", "static", 0, "model"),
        ("mmoe_mlp", "uncertainty", 0, "model"),
        ("independent_mlp", "static", 1, "baseline"),
        ("mmoe_mlp", "static", 1, "param_matched"),
        ("mmoe_mlp", "static", 1, "tuned"),
        ("mmoe_mlp", "static", 1, "model"),
        ("mmoe_mlp", "uncertainty", 1, "model"),
    ]  # the image model is left out of the vector benchmark
    with pytest.raises(BenchmarkConfigError, match="'mtan_conv' takes images .* no benchmark of the run has images"):
        config.validate()
    with pytest.raises(BenchmarkConfigError, match="baseline must not be None"):
        BenchmarkRun(benchmarks=["mmoe_synthetic"], models=["mmoe_mlp"], baseline=None, param_matched=True).validate()


def test_validation_score_is_a_scale_free_delta_m_against_the_first_epoch():
    tasks = [mk.Task("a", num_classes=3), mk.Task("b", kind="regression")]
    metrics = main_metrics(tasks)
    assert metrics == {"a": "accuracy", "b": "mae"}
    score = ValidationScore(metrics)
    first = {"val_a_accuracy": 0.5, "val_b_mae": 200.0}
    score.on_epoch_end(0, first)
    later = {"val_a_accuracy": 0.6, "val_b_mae": 100.0}
    score.on_epoch_end(1, later)
    assert first["val_score"] == 0.0 and later["val_score"] == pytest.approx((20.0 + 50.0) / 2)
    with pytest.raises(ValueError, match=r"task\(s\) \['b'\]"):
        score.on_epoch_end(2, {"val_a_accuracy": 0.7})


# ------------------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_sweep_with_fair_baselines_end_to_end(tmp_path):
    config = BenchmarkRun(
        benchmarks=["mmoe_synthetic:p=0.9"], models=["test_hard_sharing_mlp"], weightings=["static"], seeds=[0, 1],
        epochs=2, batch_size=16, steps_per_epoch=2, patience=1, monitor="val_score", train_sizes=[16, None],
        param_matched=True, tuned_baseline=True, tuning_trials=2, benchmark_options={"mmoe_synthetic": TINY_DATA},
    )
    out = tmp_path / "sweep"
    results = run_benchmarks(config, out, progress=False)
    assert not results.failed
    roles = [r["role"] for r in results.records]
    assert roles.count("baseline") == 4 and roles.count("param_matched") == 4 and roles.count("tuned") == 4
    assert {r["train_examples"] for r in results.records} == {16, 64}
    stored = json.loads((out / "results.json").read_text())["runs"]
    searches = [r for r in stored.values() if r["role"] == "tuning"]
    assert len(searches) == 2 and all(len(s["trials"]) == 2 for s in searches)
    for record in results.records:
        if record["role"] == "tuned":
            search = next(s for s in searches if s["benchmark"] == record["benchmark"])
            assert record["learning_rate"] == search["best"]["learning_rate"] > 0
            assert record["weight_decay"] == search["best"]["weight_decay"] > 0
        if record["role"] == "param_matched":
            assert record["built_model"] == "test_independent_mlp" and record["param_matched"]["target"] == record["params"] + (
                record["param_matched"]["target"] - record["param_matched"]["params"]
            )
    assert os.path.isdir(out / "tuning")
    markdown = (out / "results.md").read_text()
    assert "### Fair comparisons" in markdown and "vs tuned equal weights" in markdown and "paired t-test" in markdown
    assert "sweep_mmoe_synthetic_p=0.9.png" in [os.path.basename(p) for p in results.files["plots"]]
    with open(out / "results.csv") as f:
        metrics = {row["metric"] for row in csv.DictReader(f)}
    assert {"delta_m_pct", "delta_m_vs_param_matched_pct", "delta_m_vs_tuned_pct"} <= metrics
    again = run_benchmarks(config, out, progress=False, plots=False)  # everything is reused, searches included
    assert len(again.records) == len(results.records)


def test_presets_are_valid():
    for name in ("quick", "offline", "sweep", "tiny"):
        get_preset(name).validate()
    quick = get_preset("quick")
    assert len(quick.seeds) >= 3 and len(quick.benchmarks) == 2
    sweep = get_preset("sweep")
    assert {spec.base_label for spec in sweep.benchmarks} >= {"multi_digits"} and len(sweep.train_sizes) >= 5
    offline = get_preset("offline")
    assert {"mtan_conv", "dselect_k_mlp"} <= set(offline.models) and offline.param_matched and offline.tuned_baseline
