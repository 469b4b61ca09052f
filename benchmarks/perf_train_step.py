"""Speed of `MultiTaskModel`'s full training step against a plain Keras functional model with the same layers.

The hard-sharing MLP of `perf_setup` (64-d inputs, two shared 256-unit layers, a linear
regression head per task, Adam, batch 256 per task) is built once as a `MultiTaskModel` and once
as a plain functional `keras.Model` (one input per task in multi-input mode, one output per task),
with identical initial weights, losses and per-task metrics. Both compiled training steps
(`tf.function(model.train_step)`) are called on one fixed batch, in interleaved blocks (A, B, A,
B, ...), for two shapes: T = 2 tasks on a shared input, and T = 8 tasks with one input each.

What a user runs end to end — `fit` on the library's streams, against plain Keras `fit` on arrays —
is timed by `perf_fit`.

Run: `python -m mtl_keras.benchmarks.perf_train_step [--steps 100 --rounds 9]`.
Prints steps/s of both and the ratio (target: MultiTaskModel >= 0.95x plain Keras).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mtl_keras.benchmarks import perf_setup as setup  # noqa: E402

SHAPES = ((2, False), (8, True))  # (tasks, one input per task)
TARGET = 0.95


def build_pair(num_tasks, per_task):
    """Returns `(multitask_model, plain_model)` with identical layers and initial weights."""
    mtl = setup.multitask_model(num_tasks, per_task)
    plain = setup.plain_model(num_tasks, per_task)
    plain.set_weights([v.numpy() for v in mtl.body.weights] + [v.numpy() for v in mtl.heads.weights])
    x, _ = setup.fixed_batch(num_tasks, per_task)
    out_mtl, out_plain = mtl(x, raw=True), plain(x)
    for name in out_mtl:  # the same network
        np.testing.assert_allclose(out_mtl[name], out_plain[name], rtol=1e-5, atol=1e-5)
    return mtl, plain


def step_timer(model, num_tasks, per_task, steps):
    """Seconds per call of the compiled train step on a fixed batch, warmed up."""
    x, y = setup.fixed_batch(num_tasks, per_task)
    step = tf.function(model.train_step)
    for _ in range(5):
        step((x, y))

    def run():
        for _ in range(steps):
            logs = step((x, y))
        float(logs["loss"])

    return lambda: setup.seconds(run, steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    rows = []
    for num_tasks, per_task in SHAPES:
        mode = "multi-input" if per_task else "shared-input"
        print(f"T = {num_tasks}, {mode}: timing {args.rounds} rounds ...", flush=True)
        mtl, plain = build_pair(num_tasks, per_task)
        times = setup.interleaved(
            {
                "MultiTaskModel": step_timer(mtl, num_tasks, per_task, args.steps),
                "plain Keras": step_timer(plain, num_tasks, per_task, args.steps),
            },
            args.rounds,
        )
        ratio, spread = setup.median_ratio(times["plain Keras"], times["MultiTaskModel"])
        rate = {k: 1.0 / sorted(v)[len(v) // 2] for k, v in times.items()}
        rows.append((num_tasks, mode, rate, ratio, spread))
    print("\n| T | mode | MultiTaskModel steps/s | plain Keras steps/s | ratio |")
    print("|---|---|---:|---:|---:|")
    for num_tasks, mode, rate, ratio, spread in rows:
        print(f"| {num_tasks} | {mode} | {rate['MultiTaskModel']:.0f} | {rate['plain Keras']:.0f} | {ratio:.2f} (±{spread:.2f}) |")
    met = all(r[3] >= TARGET for r in rows)
    print(f"\nTarget: MultiTaskModel >= {TARGET}x plain Keras: {'met' if met else 'NOT met'}.")
    return rows


if __name__ == "__main__":
    main()
