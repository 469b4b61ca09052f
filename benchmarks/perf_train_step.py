"""Speed of `MultiTaskModel`'s training step against a plain Keras functional model.

The same hard-sharing MLP (64-d input, a shared 256-unit trunk, one head per task) is trained
once as a `MultiTaskModel` and once as a plain functional `keras.Model` with one input and one
output per task, with identical layers, optimizer and batches. Two timings, interleaved
(A, B, A, B, ...) so machine noise hits both alike, the median reported:

- `fit`: `model.fit` on a repeated batch for a fixed number of steps;
- `direct`: the compiled train step called on fixed tensors (`tf.function(model.train_step)`),
  which removes `fit`'s own loop (on small VMs it can stall at a fixed step rate and hide a
  difference).

Run: `python -m mtl_keras.benchmarks.perf_train_step [--steps 200 --repeats 5]`.
Prints steps/s for both models and the ratio (target: MultiTaskModel >= 0.95x plain Keras).
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

INPUT_DIM, HIDDEN, BATCH, CLASSES = 64, 256, 256, 10


def build_pair(seed=0):
    """Returns `(multitask_model, plain_model)` with identical layers and initial weights."""
    tasks = [mk.Task("a", num_classes=CLASSES), mk.Task("b", kind="regression")]
    keras.utils.set_random_seed(seed)
    trunk = keras.Sequential([keras.layers.Dense(HIDDEN, activation="relu"), keras.layers.Dense(HIDDEN, activation="relu")])
    mtl = mk.MultiTaskModel(tasks, body=trunk, input_shape=(INPUT_DIM,))
    mtl.compile(optimizer=keras.optimizers.Adam(1e-3))

    inputs = keras.Input((INPUT_DIM,))
    h = keras.layers.Dense(HIDDEN, activation="relu")(inputs)
    h = keras.layers.Dense(HIDDEN, activation="relu")(h)
    outputs = {"a": keras.layers.Dense(CLASSES, name="a")(h), "b": keras.layers.Dense(1, name="b")(h)}
    plain = keras.Model(inputs, outputs)
    plain.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss={"a": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "b": "mse"},
        metrics={"a": ["accuracy"], "b": ["mae"]},  # the same per-task metrics the MultiTaskModel logs
    )
    plain.set_weights(_same_order(mtl))
    return mtl, plain


def _same_order(mtl):
    """MultiTaskModel weights (trunk, then heads) in the plain model's order."""
    trunk = [v.numpy() for v in mtl.body.weights]
    heads = [v.numpy() for v in mtl.heads.weights]
    return trunk + heads


def batch(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, INPUT_DIM)).astype("float32")
    y = {"a": rng.integers(0, CLASSES, BATCH).astype("int32"), "b": rng.normal(size=(BATCH, 1)).astype("float32")}
    return tf.constant(x), {k: tf.constant(v) for k, v in y.items()}


def time_fit(model, steps):
    x, y = batch()
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    model.fit(data, steps_per_epoch=5, epochs=1, verbose=0)  # warm-up and tracing
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps / (time.perf_counter() - start)


def time_direct(model, steps):
    x, y = batch()
    step = tf.function(model.train_step)
    for _ in range(5):
        step((x, y))
    start = time.perf_counter()
    for _ in range(steps):
        logs = step((x, y))
    float(logs["loss"])
    return steps / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    mtl, plain = build_pair()
    x, y = batch()
    out_mtl = mtl(x, raw=True)
    out_plain = plain(x)
    np.testing.assert_allclose(out_mtl["a"], out_plain["a"], rtol=1e-5, atol=1e-5)  # same network
    results = {}
    for mode, timer in (("fit", time_fit), ("direct", time_direct)):
        runs = {"MultiTaskModel": [], "plain Keras": []}
        for r in range(args.repeats):
            print(f"  {mode}: repeat {r + 1}/{args.repeats}", flush=True)
            runs["MultiTaskModel"].append(timer(mtl, args.steps))
            runs["plain Keras"].append(timer(plain, args.steps))
        results[mode] = {k: statistics.median(v) for k, v in runs.items()}
    print(f"\nHard-sharing MLP, 2 tasks, {INPUT_DIM}-d input, {HIDDEN} hidden x2, batch {BATCH}; median of {args.repeats}")
    print(f"{'timing':8} {'MultiTaskModel steps/s':>24} {'plain Keras steps/s':>21} {'ratio':>7}")
    for mode, r in results.items():
        ratio = r["MultiTaskModel"] / r["plain Keras"]
        print(f"{mode:8} {r['MultiTaskModel']:24.1f} {r['plain Keras']:21.1f} {ratio:7.3f}")
    return results


if __name__ == "__main__":
    main()
