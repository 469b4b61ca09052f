"""Step time of every weighting strategy, as a ratio to static weights, for T = 2, 4, 8 tasks.

One hard-sharing MLP (64-d input, two shared 256-unit layers, a linear head per task, batch 256,
shared input). For each T, every strategy's compiled train step (`tf.function(model.train_step)`)
is timed against the static-weights step of the same model, side by side: `rounds` rounds, each
timing one short block of `steps` steps of both (static first in even rounds, second in odd
ones). These machines drift between fast and slow phases lasting seconds; short alternating
blocks put both steps in the same phase, so the ratio is steady where whole-run timings are not.
The figure is the median over rounds of the per-round ratio, with half the interquartile range of
those ratios as its spread (±). Gradient-level strategies are timed twice:
on all shared parameters, and on the shared representation (`uses_representation=True`: one
backward pass through the heads and one through the trunk, instead of one through the trunk per
task); those with per-parameter state (`db_mtl`, `excess_mtl`, `moco`) only on the parameters,
built with the shared-parameter count.

Run: `python -m mtl_keras.benchmarks.perf_weighting [--tasks 2,4,8 --steps 3 --rounds 160]`
(about 15 minutes on 2 cores; `--strategies pcgrad,mgda` for a subset, `--json out.json` for the
raw numbers). `static` itself is timed as a control, against a second static model: its distance
from 1 is the resolution of the run. Targets: loss-level strategies <= 1.05x static; gradient
methods on the representation <= 1.3x at T = 2.
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mtl_keras as mk  # noqa: E402

INPUT_DIM, HIDDEN, BATCH = 64, 256, 256
LOSS_TARGET, REPRESENTATION_TARGET = 1.05, 1.3


def make_step(num_tasks, name, representation=None):
    """A compiled train step of the benchmark model with strategy `name`, warmed up."""
    keras.utils.set_random_seed(0)
    tasks = [mk.Task(f"t{i}", kind="regression") for i in range(num_tasks)]
    body = keras.Sequential(
        [keras.layers.Dense(HIDDEN, activation="relu"), keras.layers.Dense(HIDDEN, activation="relu")]
    )
    model = mk.MultiTaskModel(tasks, body=body, input_shape=(INPUT_DIM,))
    config = {} if representation is None else {"uses_representation": representation}
    weighting = mk.weighting.WEIGHTINGS.get(name)(**config)
    if weighting.needs_gradient_size:  # state sized by the shared parameters (DB-MTL, ExcessMTL, MoCo)
        weighting.build((num_tasks, sum(int(np.prod(v.shape)) for v in model.shared_variables)))
    model.compile(optimizer="adam", weighting=weighting)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(BATCH, INPUT_DIM)).astype("float32"))
    y = {t.name: tf.constant(rng.normal(size=(BATCH, 1)).astype("float32")) for t in tasks}
    step = tf.function(model.train_step)
    for _ in range(5):
        step((x, y))
    return lambda: step((x, y))


def time_block(step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        logs = step()
    float(logs["loss"])  # wait for the last step
    return (time.perf_counter() - start) / steps


def ratio_to(static, step, steps, rounds):
    """Median and interquartile range of `time(step) / time(static)` over interleaved rounds."""
    ratios = []
    for r in range(rounds):
        if r % 2 == 0:
            base = time_block(static, steps)
            ratios.append(time_block(step, steps) / base)
        else:
            other = time_block(step, steps)
            ratios.append(other / time_block(static, steps))
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return statistics.median(ratios), quartiles[2] - quartiles[0]


def variants(name):
    """`(label, uses_representation)` pairs to time for a strategy."""
    if name == "static":  # a second static model: the ratio any two equal steps measure here
        return [("control", None)]
    strategy = mk.weighting.get(name)
    if not strategy.uses_gradients:
        return [("losses", None)]
    if strategy.uses_representation:  # representation-only by design (mgda_ub)
        return [("representation", None)]
    if not strategy.supports_representation:  # per-parameter state (db_mtl, excess_mtl, moco)
        return [("parameters", None)]
    return [("parameters", False), ("representation", True)]


def cell(t, on, rows):
    r = rows.get((t, on))
    return f"{r['ratio']:.2f}× (±{r['iqr'] / 2:.2f})" if r else "—"


def markdown(results, task_counts):
    """The README table: one row per strategy, columns T on parameters / on the representation."""
    header = (
        ["strategy", "level"] + [f"T={t}" for t in task_counts] + [f"on representation: T={t}" for t in task_counts]
    )
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (2 * len(task_counts))]
    names = sorted({r["strategy"] for r in results}, key=lambda n: (n != "static", n))
    for name in names:
        rows = {(r["tasks"], r["on"]): r for r in results if r["strategy"] == name}
        level = "losses" if any(on == "losses" for _, on in rows) else "gradients"
        if name == "static":
            cells = [cell(t, "control", rows) for t in task_counts]
            lines.append(
                "| `static` (control: a second static model) | — | "
                + " | ".join(cells + ["—"] * len(task_counts))
                + " |"
            )
            continue

        direct = [cell(t, "losses" if level == "losses" else "parameters", rows) for t in task_counts]
        on_z = [cell(t, "representation", rows) for t in task_counts]
        lines.append(f"| `{name}` | {level} | " + " | ".join(direct + on_z) + " |")
    return "\n".join(lines)


def check_targets(results):
    """Lines saying whether the issue's two targets are met, with the worst offender, and the control."""
    lines = []
    controls = [r["ratio"] for r in results if r["on"] == "control"]
    if controls:
        lines.append(
            f"control (static vs static): {min(controls):.2f}x-{max(controls):.2f}x: differences smaller "
            "than its distance from 1 are not resolved by this run"
        )
    losses = [r for r in results if r["on"] == "losses"]
    on_z = [r for r in results if r["on"] == "representation" and r["tasks"] == 2]
    for label, rows, target in (
        ("loss-level strategies", losses, LOSS_TARGET),
        ("gradient methods on the representation at T = 2", on_z, REPRESENTATION_TARGET),
    ):
        if not rows:
            continue
        worst = max(rows, key=lambda r: r["ratio"])
        verdict = "met" if round(worst["ratio"], 2) <= target else "NOT met"  # the figure as printed
        lines.append(
            f"{label} <= {target}x: {verdict} (worst: {worst['strategy']} at T={worst['tasks']}, {worst['ratio']:.2f}x)"
        )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="2,4,8", help="comma-separated numbers of tasks")
    parser.add_argument("--steps", type=int, default=3, help="steps per timed block")
    parser.add_argument("--rounds", type=int, default=160, help="interleaved rounds per figure")
    parser.add_argument(
        "--strategies", default=None, help="comma-separated names (default: all; static is the control)"
    )
    parser.add_argument("--json", default=None, help="also write the raw figures to this file")
    args = parser.parse_args(argv)
    names = args.strategies.split(",") if args.strategies else mk.weighting.WEIGHTINGS.names()
    for name in names:
        mk.weighting.WEIGHTINGS.get(name)  # unknown names fail before any timing
    task_counts = [int(t) for t in args.tasks.split(",")]
    results = []
    for num_tasks in task_counts:
        static = make_step(num_tasks, "static")
        base = statistics.median(time_block(static, args.steps) for _ in range(20))
        print(f"T={num_tasks}: static step {base * 1e3:.2f} ms", flush=True)
        for name in names:
            for label, representation in variants(name):
                ratio, iqr = ratio_to(static, make_step(num_tasks, name, representation), args.steps, args.rounds)
                results.append({"tasks": num_tasks, "strategy": name, "on": label, "ratio": ratio, "iqr": iqr})
                print(f"T={num_tasks} {name:12} {label:15} {ratio:5.2f}x static (±{iqr / 2:.2f})", flush=True)
    print()
    print(markdown(results, task_counts))
    print()
    print("\n".join(check_targets(results)))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"steps": args.steps, "rounds": args.rounds, "results": results}, f, indent=1)
    return results


if __name__ == "__main__":
    main()
