"""Step time of every weighting strategy, as a ratio to static weights, for T = 2, 4, 8 tasks.

One hard-sharing MLP (64-d input, two shared 256-unit layers, a linear head per task, batch 256,
shared input). For each T and strategy the compiled train step (`tf.function(model.train_step)`)
is timed on fixed tensors, interleaved with the static-weights model (median of repeats), so the
ratio is measured side by side. Gradient-level strategies are timed twice: on all shared
parameters and on the shared representation (`uses_representation = True`: one backward pass
through the trunk instead of T).

Run: `python -m mtl_keras.benchmarks.perf_weighting [--tasks 2,4,8 --steps 30 --repeats 3]`.
Targets: loss-level strategies <= 1.05x static; gradient methods on the representation <= 1.3x at T = 2.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mtl_keras as mk  # noqa: E402

INPUT_DIM, HIDDEN, BATCH = 64, 256, 256


def make_step(num_tasks, name, representation):
    keras.utils.set_random_seed(0)
    tasks = [mk.Task(f"t{i}", kind="regression") for i in range(num_tasks)]
    body = keras.Sequential([keras.layers.Dense(HIDDEN, activation="relu"), keras.layers.Dense(HIDDEN, activation="relu")])
    model = mk.MultiTaskModel(tasks, body=body, input_shape=(INPUT_DIM,))
    weighting = mk.weighting.get(name)
    if representation:
        weighting.uses_representation = True
    model.compile(optimizer="adam", weighting=weighting)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(BATCH, INPUT_DIM)).astype("float32"))
    y = {t.name: tf.constant(rng.normal(size=(BATCH, 1)).astype("float32")) for t in tasks}
    step = tf.function(model.train_step)
    for _ in range(3):
        step((x, y))
    return lambda: step((x, y))


def time_steps(step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        logs = step()
    float(logs["loss"])
    return (time.perf_counter() - start) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="2,4,8")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--strategies", default=None, help="comma-separated names (default: all)")
    args = parser.parse_args(argv)
    names = args.strategies.split(",") if args.strategies else [n for n in mk.weighting.WEIGHTINGS.names() if n != "static"]
    rows = []
    for num_tasks in [int(t) for t in args.tasks.split(",")]:
        static = make_step(num_tasks, "static", False)
        for name in names:
            variants = [False]
            if mk.weighting.get(name).uses_gradients and not getattr(mk.weighting.get(name), "uses_representation", False):
                variants.append(True)
            for representation in variants:
                step = make_step(num_tasks, name, representation)
                ratios = []
                for _ in range(args.repeats):
                    base = time_steps(static, args.steps)
                    ratios.append(time_steps(step, args.steps) / base)
                ratio = statistics.median(ratios)
                label = "representation" if representation or getattr(mk.weighting.get(name), "uses_representation", False) else (
                    "parameters" if mk.weighting.get(name).uses_gradients else "losses")
                rows.append((num_tasks, name, label, ratio))
                print(f"T={num_tasks} {name:12} {label:15} {ratio:6.2f}x static", flush=True)
    print("\n| T | strategy | gradients on | step time / static |\n|---:|---|---|---:|")
    for num_tasks, name, label, ratio in rows:
        print(f"| {num_tasks} | {name} | {label} | {ratio:.2f}x |")
    return rows


if __name__ == "__main__":
    main()
