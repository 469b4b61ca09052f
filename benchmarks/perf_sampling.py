"""What a step that trains K of T sampled tasks costs, as a ratio to the step that trains all T.

A step with `tasks_per_step=K` computes only the sampled tasks: the stream gathers their batches
only, and in multi-input mode only their batches go through the body and heads, forward and
backward (gradient-level weightings take per-task gradients of the sampled tasks only). This
script times `MultiTaskModel.fit` on the library's stream — the path a user runs — for T = 8 and
K = 1, 2, 4, 8, side by side in one process (interleaved rounds), with the hard-sharing MLP of
`perf_setup` (64-d inputs, two 256-unit layers, batch 256 per task, Adam), multi-input and
shared-input, with static weights and with PCGrad on the parameters.

The figure is the cost of a K-of-8 step over the cost of the full step (median over rounds of the
per-round ratio, ± half the interquartile range). Each timed `fit` call runs `--steps` steps (one
epoch of the stream), so that `fit`'s fixed cost per call (callbacks, the epoch's set-up) weighs on
the ratios about as much as it does in an epoch of a real run rather than dominating a cheap step. Target, multi-input: <= K/T + 0.15 (K = 1:
<= 0.275). In shared-input mode the body runs once on the shared batch whatever K, so only the
heads (and PCGrad's per-task backward passes) are saved.

Run: `python -m mtl_keras.benchmarks.perf_sampling [--rounds 5 --steps 100]` (about 15 minutes on
2 cores).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mtl_keras.benchmarks import perf_setup as setup  # noqa: E402

NUM_TASKS = 8
SAMPLED = (1, 2, 4)
TARGET_MARGIN = 0.15


def fit_timer(per_task, tasks_per_step, weighting, steps):
    """Seconds per step of `fit` on the library's stream, warmed up."""
    data = setup.arrays(NUM_TASKS, steps * setup.BATCH, per_task)
    model = setup.multitask_model(NUM_TASKS, per_task, tasks_per_step=tasks_per_step, weighting=weighting)
    train = setup.stream(data, per_task)

    def fit():
        model.fit(train, epochs=1, verbose=0)

    fit()
    return lambda: setup.seconds(fit, steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--weightings", default="static,pcgrad")
    args = parser.parse_args(argv)
    rows = []
    for per_task in (True, False):
        mode = "multi-input" if per_task else "shared-input"
        for weighting in args.weightings.split(","):
            print(f"{mode}, {weighting}: timing {args.rounds} rounds ...", flush=True)
            timers = {k: fit_timer(per_task, k, weighting, args.steps) for k in (*SAMPLED, NUM_TASKS)}
            times = setup.interleaved(timers, args.rounds)
            full = times[NUM_TASKS]
            ratios = {k: setup.median_ratio(times[k], full) for k in SAMPLED}
            step_ms = 1000 * sorted(full)[len(full) // 2]
            rows.append((mode, weighting, step_ms, ratios))
    print(f"\n| mode | weighting | full step (T = {NUM_TASKS}) | " + " | ".join(f"K = {k}" for k in SAMPLED) + " |")
    print("|---|---|---:|" + "---:|" * len(SAMPLED))
    for mode, weighting, step_ms, ratios in rows:
        cells = " | ".join(f"{r:.2f}× (±{spread:.2f})" for r, spread in ratios.values())
        print(f"| {mode} | `{weighting}` | {step_ms:.1f} ms | {cells} |")
    targets = {k: k / NUM_TASKS + TARGET_MARGIN for k in SAMPLED}
    print("\nTarget, multi-input: " + ", ".join(f"K = {k}: <= {t:.3f}" for k, t in targets.items()))
    met = all(r[3][k][0] <= targets[k] for r in rows if r[0] == "multi-input" for k in SAMPLED)
    print("Multi-input target met." if met else "Multi-input target NOT met.")
    return rows


if __name__ == "__main__":
    main()
