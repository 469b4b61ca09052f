"""Named benchmark runs: `PRESETS` (plain data) and `get_preset(name, **overrides)`."""

from .config import BenchmarkConfigError, BenchmarkRun

#: The synthetic set of the quick preset and the sweep: GradNorm's regression pair with equal label
#: scales and small task-specific perturbations (`eps_std=1` against the shared `b_std=10`), i.e.
#: two closely related tasks.
RELATED_PAIR = "gradnorm_scales:eps_std=1.0:scales=(1.0,1.0)"
#: The same pair with the second task's labels 100 times larger.
SCALED_PAIR = "gradnorm_scales:eps_std=1.0:scales=(1.0,100.0)"
#: Training of the data-scarce presets: the same 5 × epochs steps at every training-set size,
#: early stopping on the scale-free validation score.
_SCARCE_TRAINING = dict(steps_per_epoch=5, monitor="val_score", batch_size=64, learning_rate=3e-3)
#: Image models see where features are (left vs right digit): flatten, for them and their baselines.
_FLATTEN = {"pooling": "flatten"}

#: Named configurations. `quick` (the README's main job) takes about a minute on 2 CPU cores and
#: shows sharing helping and hurting; `offline` (the tables of `benchmarks/RESULTS.md`) runs every
#: offline benchmark with little and with all of its data, with both fair baselines; `sweep` is the
#: data-size sweep (Δm against training-set size); `correlation` sweeps the MMoE task correlation.
PRESETS = {
    "quick": dict(
        benchmarks=[f"{RELATED_PAIR}:train_size=100", f"{SCALED_PAIR}:train_size=100"],
        models=["hard_sharing_mlp", "soft_sharing_mlp"],
        weightings=["static"],
        seeds=[0, 1, 2],
        epochs=20,
        patience=5,
        **_SCARCE_TRAINING,
    ),
    "offline": dict(
        benchmarks=["multi_digits", "gradnorm_scales", "mmoe_synthetic:p=0.5", "mmoe_synthetic:p=0.9"],
        train_sizes=[100, None],
        models=["hard_sharing_mlp", "mmoe_mlp", "cross_stitch_mlp", "soft_sharing_mlp", "dselect_k_mlp", "mtan_conv"],
        model_options={"mtan_conv": _FLATTEN, "independent_conv": _FLATTEN},
        weightings=["static", "uncertainty", "famo"],
        seeds=[0, 1, 2],
        epochs=40,
        patience=10,
        param_matched=True,
        tuned_baseline=True,
        tuning_trials=6,
        **{**_SCARCE_TRAINING, "steps_per_epoch": 8},
    ),
    "sweep": dict(
        benchmarks=["multi_digits", RELATED_PAIR],
        train_sizes=[25, 50, 100, 200, 500, None],
        models=["hard_sharing_mlp", "mmoe_mlp", "soft_sharing_mlp", "dselect_k_mlp", "mtan_conv"],
        model_options={"mtan_conv": _FLATTEN, "independent_conv": _FLATTEN},
        weightings=["static"],
        seeds=[0, 1, 2],
        epochs=40,
        patience=10,
        param_matched=True,
        **{**_SCARCE_TRAINING, "steps_per_epoch": 8},
    ),
    "correlation": dict(
        benchmarks=[f"mmoe_synthetic:p={p}" for p in (0.0, 0.5, 0.9, 1.0)],
        models=["hard_sharing_mlp", "mmoe_mlp"],
        weightings=["static"],
        seeds=[0, 1, 2],
        epochs=15,
        batch_size=64,
        learning_rate=2e-3,
    ),
    "tiny": dict(
        benchmarks=["mmoe_synthetic:p=0.2", "mmoe_synthetic:p=0.9"],
        models=["test_hard_sharing_mlp"],
        weightings=["static"],
        seeds=[0],
        epochs=2,
        batch_size=32,
        benchmark_options={"mmoe_synthetic": {"num_train": 64, "num_validation": 32, "num_test": 32, "input_dim": 8}},
    ),
}


def get_preset(name, **overrides):
    """Returns the `BenchmarkRun` of preset `name` (`"quick"`, `"offline"`, `"sweep"`, `"correlation"`, `"tiny"`).

    Args:
        name: a key of `PRESETS`.
        **overrides: fields replacing the preset's, e.g. `seeds=[0, 1, 2]`.
    """
    if name not in PRESETS:
        import difflib

        close = difflib.get_close_matches(str(name), list(PRESETS), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise BenchmarkConfigError(f"Unknown preset: '{name}'.{hint} Available: {', '.join(sorted(PRESETS))}.")
    fields = {**PRESETS[name], "name": name}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return BenchmarkRun(**fields)
