"""What the data checks cost `fit`: a plain `tf.data` data set trained with and without its value checks.

`MultiTaskModel.fit` checks a `tf.data.Dataset` it did not build batch by batch inside the input
pipeline (finite inputs, finite non-negative sample weights, labels that fit every head). This
script times `fit` on such a data set (batches prepared in memory, so the pipeline itself costs
little) with the checks — `MultiTaskModel.fit` — and without them — `keras.Model.fit` called on the
same model, which skips the library's preparation — side by side (interleaved rounds, median of
the per-round ratio). The library's own streams are checked once, with NumPy, when `fit` starts.

Target: the checks cost <= 3 % of a step (ratio <= 1.03).

Run: `python -m mtl_keras.benchmarks.perf_checks [--rounds 9 --tasks 2,8]`.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mtl_keras.benchmarks import perf_setup as setup  # noqa: E402

STEPS, TARGET = 50, 1.03


def batches(num_tasks, per_task):
    """A `tf.data` data set of `STEPS` ready batches `(x, {task: y}, {task: w})` (classification and regression)."""
    rng = np.random.default_rng(0)
    names = setup.task_names(num_tasks)
    shape = (STEPS, setup.BATCH, setup.INPUT_DIM)
    x = {n: rng.normal(size=shape).astype("float32") for n in names} if per_task else rng.normal(size=shape).astype("float32")
    y = {n: rng.normal(size=(STEPS, setup.BATCH, 1)).astype("float32") for n in names}
    w = {n: np.ones((STEPS, setup.BATCH), "float32") for n in names}
    return tf.data.Dataset.from_tensor_slices((x, y, w)).cache()


def timers(num_tasks, per_task, epochs):
    model = setup.multitask_model(num_tasks, per_task)
    data = batches(num_tasks, per_task)
    steps = epochs * STEPS

    def checked():
        model.fit(data, epochs=epochs, verbose=0)

    def unchecked():
        keras.Model.fit(model, data, epochs=epochs, verbose=0)

    checked()
    unchecked()
    return {"checked": lambda: setup.seconds(checked, steps), "unchecked": lambda: setup.seconds(unchecked, steps)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--tasks", default="2,8")
    args = parser.parse_args(argv)
    rows = []
    for num_tasks in [int(t) for t in args.tasks.split(",")]:
        for per_task in (False, True):
            mode = "multi-input" if per_task else "shared-input"
            print(f"T = {num_tasks}, {mode}: timing {args.rounds} rounds ...", flush=True)
            times = setup.interleaved(timers(num_tasks, per_task, args.epochs), args.rounds)
            rows.append((num_tasks, mode, *setup.median_ratio(times["checked"], times["unchecked"])))
    print("\n| T | mode | step time with checks / without |")
    print("|---|---|---:|")
    for num_tasks, mode, ratio, spread in rows:
        print(f"| {num_tasks} | {mode} | {ratio:.3f} (±{spread:.3f}) |")
    met = all(r[2] <= TARGET for r in rows)
    print(f"\nTarget: <= {TARGET}: {'met' if met else 'NOT met'}.")
    return rows


if __name__ == "__main__":
    main()
