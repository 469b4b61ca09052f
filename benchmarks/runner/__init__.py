"""The benchmark runner: benchmarks × zoo models × weightings × seeds, against single-task baselines.

`run_benchmarks(BenchmarkRun(...), out_dir)` trains the grid (with one line of progress per
run), keeps every number in `out_dir/results.json` (a re-run skips finished runs) and writes
`results.md` / `results.csv` (per-task test metrics, mean ± std over seeds, Δm % against the
`independent` single-task models, negative transfer flagged per task) and PNG figures (per-task
learning curves; test loss against task correlation on `mmoe_synthetic`). `run_preset("quick",
out_dir)` is the under-a-minute demo; the command line is `mtl-keras bench` (see
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
    PRESETS,
    BenchmarkConfigError,
    BenchmarkRun,
    BenchmarkSpec,
    check_writable,
    get_preset,
    matched_baseline,
)
from .run import BenchmarkResults, plan_runs, run_benchmarks, run_preset

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
    "plan_runs",
    "run_benchmarks",
    "run_preset",
]
