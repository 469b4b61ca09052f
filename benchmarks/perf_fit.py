"""`fit` on the library's own streams against the compiled step, the stream alone and plain Keras `fit`.

What a user runs is `model.fit(mk.data.multitask_dataset(arrays...))`. For the hard-sharing MLP
of `perf_setup` (64-d inputs, two 256-unit layers, regression heads, Adam, batch 256 per task,
12,800 examples per task in memory), with T = 2 and 8 tasks, multi-input and shared-input, this
prints, measured side by side in one process (interleaved rounds, medians):

- **fit**: `MultiTaskModel.fit` on the library's stream (`epochs` passes of 50 steps);
- **step**: the compiled training step alone, called on one fixed batch (no input pipeline);
- **stream**: the stream alone, batches per second pulled by a compiled loop (as `fit`'s training
  function pulls them, one endless iterator);
- **keras fit**: a plain Keras functional model with the same layers, `fit` on the same arrays.

Targets: stream >= 10x the step rate; fit >= 0.9x the compiled step; fit >= 2x plain Keras fit.

Run: `python -m mtl_keras.benchmarks.perf_fit [--rounds 5 --epochs 4 --tasks 2,8]`
(about 5 minutes on 2 cores).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from mtl_keras.benchmarks import perf_setup as setup  # noqa: E402

STEPS_PER_EPOCH = 50
TARGETS = {"stream / step": 10.0, "fit / step": 0.9, "fit / keras fit": 2.0}


def timers(num_tasks, per_task, epochs, steps_per_execution=None):
    """The four timers of one configuration, warmed up (each returns seconds per step)."""
    examples = STEPS_PER_EPOCH * setup.BATCH
    data = setup.arrays(num_tasks, examples, per_task)
    options = {} if steps_per_execution is None else {"steps_per_execution": steps_per_execution}
    model = setup.multitask_model(num_tasks, per_task, **options)  # by default fit picks steps per call
    train = setup.stream(data, per_task)
    plain = setup.plain_model(num_tasks, per_task)
    if per_task:
        keras_x = {n: xy[0] for n, xy in data.items()}
        keras_y = {n: xy[1] for n, xy in data.items()}
    else:
        keras_x, keras_y = data
    x, y = setup.fixed_batch(num_tasks, per_task)
    step = tf.function(model.train_step)
    steps = epochs * STEPS_PER_EPOCH

    def fit():
        model.fit(train, epochs=epochs, verbose=0)

    def compiled_step():
        for _ in range(steps):
            logs = step((x, y))
        float(logs["loss"])

    endless = train.mtl_stream.training_dataset(endless=True)  # what fit iterates
    iterator = iter(endless)

    @tf.function
    def pull():  # the stream alone, pulled by a compiled loop as fit's training function pulls it
        for _ in tf.range(steps):
            element = next(iterator)
        return tf.nest.flatten(element)[0][0]

    def read_stream():
        pull()

    def keras_fit():
        plain.fit(keras_x, keras_y, batch_size=setup.BATCH, epochs=epochs, verbose=0)

    for warm_up in (fit, compiled_step, read_stream, keras_fit):
        warm_up()
    return {
        "fit": lambda: setup.seconds(fit, steps),
        "step": lambda: setup.seconds(compiled_step, steps),
        "stream": lambda: setup.seconds(read_stream, steps),
        "keras fit": lambda: setup.seconds(keras_fit, steps),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--tasks", default="2,8")
    parser.add_argument("--steps-per-execution", type=int, default=None, help="default: the model's choice")
    args = parser.parse_args(argv)
    rows = []
    for num_tasks in [int(t) for t in args.tasks.split(",")]:
        for per_task in (True, False):
            mode = "multi-input" if per_task else "shared-input"
            print(f"T = {num_tasks}, {mode}: timing {args.rounds} rounds ...", flush=True)
            times = setup.interleaved(timers(num_tasks, per_task, args.epochs, args.steps_per_execution), args.rounds)
            rate = {name: 1.0 / sorted(values)[len(values) // 2] for name, values in times.items()}
            ratios = {
                "fit / step": setup.median_ratio(times["step"], times["fit"]),
                "stream / step": setup.median_ratio(times["step"], times["stream"]),
                "fit / keras fit": setup.median_ratio(times["keras fit"], times["fit"]),
            }
            rows.append((num_tasks, mode, rate, ratios))
    print("\n| T | mode | fit steps/s | compiled step | stream batches/s | plain Keras fit | fit / step | stream / step | fit / Keras fit |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for num_tasks, mode, rate, ratios in rows:
        cells = " | ".join(f"{ratios[k][0]:.2f}" for k in ("fit / step", "stream / step", "fit / keras fit"))
        print(
            f"| {num_tasks} | {mode} | {rate['fit']:.0f} | {rate['step']:.0f} | {rate['stream']:.0f} | "
            f"{rate['keras fit']:.0f} | {cells} |"
        )
    print("\nTargets: " + ", ".join(f"{k} >= {v:g}" for k, v in TARGETS.items()))
    met = all(ratios[k][0] >= v for _, _, _, ratios in rows for k, v in TARGETS.items())
    print("All targets met." if met else "Some targets are NOT met.")
    return rows


if __name__ == "__main__":
    main()
