"""The benchmark runner: benchmarks × zoo models × weightings × seeds, against single-task baselines.

`run_benchmarks(BenchmarkRun(...), out_dir)` trains the grid (with one line of progress per
run), keeps every number in `out_dir/results.json` (a re-run skips finished runs) and writes
`results.md` / `results.csv` (per-task test metrics, mean ± std over seeds, Δm % against the
`independent` single-task models, negative transfer flagged per task, `≈` where a paired t-test
over seeds cannot tell a Δm from noise) and PNG figures (per-task learning curves; test loss
against task correlation on `mmoe_synthetic`; Δm against training-set size for a data-size sweep).
Besides one network per task, a grid can train two fair baselines per model: one network per
task with the model's parameter count (`param_matched`) and equal weights with a KerasTuner-tuned
learning rate and weight decay (`tuned_baseline`). `run_preset("quick", out_dir)` is the
one-minute demo (sharing helping and hurting); the command line is `mtl-keras bench` (see
`mtl_keras.benchmarks.cli`).

Example:

>>> from mtl_keras.benchmarks.runner import BenchmarkRun, run_benchmarks
>>> config = BenchmarkRun(benchmarks=["multi_digits", "mmoe_synthetic:p=0.9"],
...                       models=["hard_sharing_mlp", "mmoe_mlp"], weightings=["static", "uncertainty"],
...                       seeds=[0, 1], epochs=10)
>>> results = run_benchmarks(config, "runs/bench")
"""

from .config import (
    MATCHED,
    BenchmarkConfigError,
    BenchmarkRun,
    BenchmarkSpec,
    check_writable,
    matched_baseline,
)
from .presets import PRESETS, get_preset
from .run import BenchmarkResults, plan_runs, run_benchmarks, run_preset
from .stats import paired_test

__all__ = [
    "MATCHED",
    "PRESETS",
    "BenchmarkConfigError",
    "BenchmarkResults",
    "BenchmarkRun",
    "BenchmarkSpec",
    "check_writable",
    "get_preset",
    "matched_baseline",
    "paired_test",
    "plan_runs",
    "run_benchmarks",
    "run_preset",
]
