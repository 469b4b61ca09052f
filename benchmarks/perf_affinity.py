"""Cost of the diagnostics callbacks: `fit` with `TaskAffinity` / `TrainingDiagnostics` against plain `fit`.

For the hard-sharing MLP of `perf_setup` (64-d inputs, two 256-unit layers, regression heads,
Adam, batch 256) in shared-input mode, with T = 4 and 8 tasks, this prints, measured side by side
in one process (interleaved rounds, medians of per-round ratios):

- **affinity**: `fit` with `TaskAffinity(data, every=10)` (the default `every`) over plain `fit`;
- **diagnostics**: `fit` with `TrainingDiagnostics(log_dir, data, every=100)` over plain `fit`.

Targets: affinity <= 1.5x, diagnostics <= 1.3x plain training.

Run: `python -m mtl_keras.benchmarks.perf_affinity [--rounds 7 --epochs 10 --tasks 4,8]`
(about 4 minutes on 2 cores).
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mtl_keras.benchmarks import perf_setup as setup  # noqa: E402
from mtl_keras.diagnostics import TaskAffinity, TrainingDiagnostics  # noqa: E402

STEPS_PER_EPOCH = 50
TARGETS = {"affinity": 1.5, "diagnostics": 1.3}


def timers(num_tasks, epochs, log_dir, every=None, diagnostics_every=100):
    """Plain fit, fit with TaskAffinity and fit with TrainingDiagnostics, warmed up (seconds per step)."""
    data = setup.arrays(num_tasks, STEPS_PER_EPOCH * setup.BATCH, per_task=False)
    model = setup.multitask_model(num_tasks, per_task=False)
    train = setup.stream(data, per_task=False)
    probe = setup.stream(data, per_task=False, seed=1)
    affinity = TaskAffinity(probe, **({} if every is None else {"every": every}))
    diagnostics = TrainingDiagnostics(log_dir, data=probe, every=diagnostics_every)
    steps = epochs * STEPS_PER_EPOCH

    def runner(callbacks):
        return lambda: model.fit(train, epochs=epochs, callbacks=callbacks, verbose=0)

    fits = {"plain": runner([]), "affinity": runner([affinity]), "diagnostics": runner([diagnostics])}
    for warm_up in fits.values():
        warm_up()
    return {name: (lambda fn=fn: setup.seconds(fn, steps)) for name, fn in fits.items()}, affinity


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--tasks", default="4,8")
    parser.add_argument("--every", type=int, default=None, help="TaskAffinity's every (default: its default)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as log_dir:
        for num_tasks in [int(t) for t in args.tasks.split(",")]:
            print(f"T = {num_tasks}: timing {args.rounds} rounds ...", flush=True)
            clocks, affinity = timers(num_tasks, args.epochs, log_dir, args.every)
            times = setup.interleaved(clocks, args.rounds)
            ratios = {name: setup.median_ratio(times[name], times["plain"]) for name in ("affinity", "diagnostics")}
            rows.append((num_tasks, 1.0 / sorted(times["plain"])[args.rounds // 2], ratios, affinity.every))
    print("\n| T | plain fit steps/s | with TaskAffinity (every) | with TrainingDiagnostics (every=100) |")
    print("|---|---:|---:|---:|")
    for num_tasks, rate, ratios, every in rows:
        print(
            f"| {num_tasks} | {rate:.0f} | {ratios['affinity'][0]:.2f}x ± {ratios['affinity'][1]:.2f} ({every}) | "
            f"{ratios['diagnostics'][0]:.2f}x ± {ratios['diagnostics'][1]:.2f} |"
        )
    print("\nTargets: " + ", ".join(f"{k} <= {v:g}x" for k, v in TARGETS.items()))
    met = all(ratios[k][0] <= v for _, _, ratios, _ in rows for k, v in TARGETS.items())
    print("All targets met." if met else "Some targets are NOT met.")
    return rows


if __name__ == "__main__":
    main()
