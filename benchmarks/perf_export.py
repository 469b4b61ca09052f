"""Speed of an exported SavedModel against the in-process Keras model.

Two small `MultiTaskModel`s (64-d input, a 2x256 trunk, a 10-class and a 10-output regression
task): a hard-sharing trunk and a FiLM-conditioned trunk. Each is exported with
`mtl_keras.export.export_saved_model`, reloaded with `tf.saved_model.load` in this process, and
timed on the same inputs, calls interleaved (A, B, C, A, B, C, ...) so machine noise hits all alike:

- `saved`: the loaded `serving_default` signature (`loaded.signatures["serving_default"]`), the
  call TensorFlow Serving makes;
- `model(x)`: the in-process Keras model called eagerly, `model(x, training=False)`;
- `tf.function`: the in-process model wrapped once in `tf.function` (a compiled reference);
- `saved, unchecked`: the same export with `check_finite=False` (no in-graph NaN / inf check of the
  inputs), for the cost of that check.

Reported: p50 / p99 latency of a single-example call (ms; target: `saved` <= 1.2x `model(x)`),
`serve_<task>` and `serve_by_task_id` single-example p50, and batch-256 throughput (examples/s).

Run: `python -m mtl_keras.benchmarks.perf_export [--calls 400 --batches 30]`.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mtl_keras as mk  # noqa: E402
from mtl_keras.export import export_saved_model  # noqa: E402
from mtl_keras.layers import FiLM, TaskAwareLayer  # noqa: E402

INPUT_DIM, HIDDEN, UNITS = 64, 256, 10


class FiLMTrunk(TaskAwareLayer):
    """Dense -> FiLM(task) -> ReLU -> Dense -> FiLM(task) -> ReLU: a task-conditioned trunk."""

    def __init__(self, num_tasks, **kwargs):
        super().__init__(num_tasks, **kwargs)
        self.dense1 = keras.layers.Dense(HIDDEN)
        self.dense2 = keras.layers.Dense(HIDDEN)
        self.film1 = FiLM(num_tasks)
        self.film2 = FiLM(num_tasks)

    def build(self, input_shape):
        self.dense1.build(input_shape)
        self.dense2.build((None, HIDDEN))
        self.film1.build((None, HIDDEN))
        self.film2.build((None, HIDDEN))
        self.built = True

    def _one(self, x, task_index):
        h = keras.ops.relu(self.film1(self.dense1(x), task_index=task_index))
        return keras.ops.relu(self.film2(self.dense2(h), task_index=task_index))

    def call(self, inputs, task_index=None):
        if task_index is None:
            return [self._one(inputs, i) for i in range(self.num_tasks)]
        return self._one(inputs, task_index)

    def compute_output_shape(self, input_shape, task_index=None):
        shape = tuple(input_shape[:-1]) + (HIDDEN,)
        return shape if task_index is not None else [shape] * self.num_tasks


def build_model(kind, seed=0):
    keras.utils.set_random_seed(seed)
    tasks = [mk.Task("a", num_classes=UNITS), mk.Task("b", kind="regression", units=UNITS, label_scaling="standard")]
    if kind == "hard_sharing":
        body = keras.Sequential(
            [keras.layers.Dense(HIDDEN, activation="relu"), keras.layers.Dense(HIDDEN, activation="relu")]
        )
    else:
        body = FiLMTrunk(len(tasks))
    model = mk.MultiTaskModel(tasks, body=body, input_shape=(INPUT_DIM,), name=kind)
    model.adapt_label_scaling({"b": np.random.default_rng(seed).normal(3.0, 2.0, size=(100, UNITS))})
    return model


def percentile_ms(times, q):
    return 1000.0 * float(np.percentile(times, q))


def time_interleaved(calls, n):
    """Times each callable `n` times, interleaved; returns one array of seconds per callable."""
    times = [[] for _ in calls]
    for _ in range(n):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            call()
            times[i].append(time.perf_counter() - start)
    return [np.asarray(t) for t in times]


def bench(kind, calls, batches, workdir):
    model = build_model(kind)
    start = time.perf_counter()
    path = export_saved_model(model, os.path.join(workdir, kind), version=1)
    export_seconds = time.perf_counter() - start
    served = tf.saved_model.load(path)
    unchecked = tf.saved_model.load(
        export_saved_model(model, os.path.join(workdir, f"{kind}_unchecked"), version=1, check_finite=False)
    ).signatures["serving_default"]
    default = served.signatures["serving_default"]
    serve_a = served.signatures["serve_a"]
    by_id = served.signatures["serve_by_task_id"]
    compiled = tf.function(lambda x: model(x, training=False))

    rng = np.random.default_rng(0)
    one = tf.constant(rng.normal(size=(1, INPUT_DIM)), tf.float32)
    big = tf.constant(rng.normal(size=(256, INPUT_DIM)), tf.float32)
    ids = tf.constant([1], tf.int32)

    # Same outputs (sanity), and warm-up of every path.
    want = model(big, training=False)
    got = default(inputs=big)
    for name in model.task_names:
        np.testing.assert_allclose(got[name].numpy(), np.asarray(want[name]), rtol=1e-5, atol=1e-5)
    for _ in range(20):
        (
            default(inputs=one),
            model(one, training=False),
            compiled(one),
            serve_a(inputs=one),
            by_id(inputs=one, task_id=ids),
            unchecked(inputs=one),
        )

    t_saved, t_eager, t_compiled, t_task, t_by_id, t_unchecked = time_interleaved(
        [
            lambda: default(inputs=one),
            lambda: model(one, training=False),
            lambda: compiled(one),
            lambda: serve_a(inputs=one),
            lambda: by_id(inputs=one, task_id=ids),
            lambda: unchecked(inputs=one),
        ],
        calls,
    )
    b_saved, b_eager, b_compiled, b_unchecked = time_interleaved(
        [
            lambda: default(inputs=big),
            lambda: model(big, training=False),
            lambda: compiled(big),
            lambda: unchecked(inputs=big),
        ],
        batches,
    )
    return {
        "export_s": export_seconds,
        "single": {"saved": t_saved, "model(x)": t_eager, "tf.function": t_compiled, "saved, unchecked": t_unchecked},
        "serve_task_p50": percentile_ms(t_task, 50),
        "by_task_id_p50": percentile_ms(t_by_id, 50),
        "throughput": {
            k: 256.0 / float(np.median(v))
            for k, v in (
                ("saved", b_saved),
                ("model(x)", b_eager),
                ("tf.function", b_compiled),
                ("saved, unchecked", b_unchecked),
            )
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="single-example calls per path (default 400)")
    parser.add_argument("--batches", type=int, default=30, help="batch-256 calls per path (default 30)")
    parser.add_argument("--models", default="hard_sharing,film", help="comma-separated: hard_sharing, film")
    args = parser.parse_args(argv)
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}; {os.cpu_count()} CPU(s); {args.calls} calls, {args.batches} batches"
    )
    with tempfile.TemporaryDirectory() as workdir:
        for kind in args.models.split(","):
            r = bench(kind.strip(), args.calls, args.batches, workdir)
            single = r["single"]
            print(
                f"\n== {kind}: {INPUT_DIM}-d input, 2x{HIDDEN} trunk, 2 tasks x {UNITS} outputs (export took {r['export_s']:.1f} s)"
            )
            print(f"{'single example':16} {'p50 ms':>8} {'p99 ms':>8}")
            for name, times in single.items():
                print(f"{name:16} {percentile_ms(times, 50):8.3f} {percentile_ms(times, 99):8.3f}")
            ratio50 = percentile_ms(single["saved"], 50) / percentile_ms(single["model(x)"], 50)
            ratio99 = percentile_ms(single["saved"], 99) / percentile_ms(single["model(x)"], 99)
            verdict = "OK" if ratio50 <= 1.2 else "ABOVE TARGET"
            print(f"saved / model(x): p50 {ratio50:.2f}x, p99 {ratio99:.2f}x (target <= 1.2x: {verdict})")
            compiled50 = percentile_ms(single["saved"], 50) / percentile_ms(single["tf.function"], 50)
            print(f"saved / tf.function: p50 {compiled50:.2f}x")
            print(f"serve_a p50 {r['serve_task_p50']:.3f} ms, serve_by_task_id p50 {r['by_task_id_p50']:.3f} ms")
            check50 = percentile_ms(single["saved"], 50) / percentile_ms(single["saved, unchecked"], 50)
            check_batch = r["throughput"]["saved, unchecked"] / r["throughput"]["saved"]
            print(f"NaN/inf input check (saved / saved, unchecked): p50 {check50:.2f}x, batch-256 time {check_batch:.2f}x")
            print(
                "batch-256 throughput (examples/s): " + ", ".join(f"{k} {v:,.0f}" for k, v in r["throughput"].items())
            )


if __name__ == "__main__":
    main()
