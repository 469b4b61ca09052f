"""Gram matrix of per-task parameter gradients: from per-variable blocks versus the concatenated `[T, P]` matrix.

On the shared parameters a gradient-level step today flattens each task's gradients into one row,
stacks the rows into `G` `[T, P]`, combines `G` into a direction `[P]` and splits it back into
the variables' shapes. For a Gram-based strategy the same result comes from the blocks, one per
shared variable (`[T, ...]`: the tasks' gradients of that variable): `K = Σ_b B_b B_bᵀ`
(`mtl_keras.weighting.gram_from_blocks`), then `d_b = Σ_i w_i B_b[i]`
(`mtl_keras.weighting.combine_blocks`), without the `[T, P]` matrix, its copy and the split.

Both paths start from the same per-task gradient lists and end with per-variable directions,
with the same weights (UPGrad's, from `K`), compiled with `tf.function` (and, second figure,
`jit_compile=True`). The variables are those of the hard-sharing MLP of `perf_weighting`
(64-d input, two shared 256-unit layers: P = 82,432). For scale, the script also times the `T`
per-task backward passes that produce the gradients (batch 256). Timings are interleaved
(concatenated, blocks, concatenated, ...) and the medians of the per-round ratios printed.

Run: `python -m mtl_keras.benchmarks.perf_gram_blocks [--tasks 2,8 --rounds 60 --steps 20]`.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mtl_keras import weighting as W  # noqa: E402
from mtl_keras.weighting._ops import combine, gram  # noqa: E402

INPUT_DIM, HIDDEN, BATCH = 64, 256, 256


def trunk_and_heads(num_tasks):
    keras.utils.set_random_seed(0)
    trunk = keras.Sequential(
        [keras.layers.Dense(HIDDEN, activation="relu"), keras.layers.Dense(HIDDEN, activation="relu")]
    )
    trunk.build((None, INPUT_DIM))
    heads = [keras.layers.Dense(1) for _ in range(num_tasks)]
    for head in heads:
        head.build((None, HIDDEN))
    return trunk, heads


def per_task_gradients(trunk, heads):
    """A compiled function: the `T` per-task gradient lists of the trunk's variables (one backward pass each)."""
    variables = trunk.trainable_variables

    @tf.function
    def run(x, y):
        with tf.GradientTape(persistent=True) as tape:
            h = trunk(x)
            losses = [tf.reduce_mean(tf.square(head(h)[:, 0] - y)) for head in heads]
        return [tape.gradient(loss, variables) for loss in losses]

    return run


def concatenated(task_grads):
    """Today's path: rows `[T, P]`, weights from `G Gᵀ`, `Gᵀ w`, split into the variables' shapes."""
    rows = tf.stack([tf.concat([tf.reshape(g, [-1]) for g in grads], axis=0) for grads in task_grads])
    weights = W.upgrad_weights_from_gram(gram(rows))
    direction = combine(weights, rows)
    sizes = [int(np.prod(g.shape)) for g in task_grads[0]]
    return [tf.reshape(d, g.shape) for d, g in zip(tf.split(direction, sizes), task_grads[0])]


def blocks(task_grads):
    """The block path: one `[T, ...]` block per variable, `K` summed over blocks, directions per block."""
    per_variable = [tf.stack(grads) for grads in zip(*task_grads)]
    weights = W.upgrad_weights_from_gram(W.gram_from_blocks(per_variable))
    return W.combine_blocks(weights, per_variable)


def time_block(function, args, steps):
    start = time.perf_counter()
    for _ in range(steps):
        out = function(*args)
    float(tf.reduce_sum(tf.nest.flatten(out)[0]))  # wait for the last call
    return (time.perf_counter() - start) / steps


def compare(first, second, args, steps, rounds):
    """Median times of both (seconds) and the median of the per-round ratios second / first."""
    a_times, b_times, ratios = [], [], []
    for r in range(rounds):
        pair = (first, second) if r % 2 == 0 else (second, first)
        t = [time_block(f, args, steps) for f in pair]
        a, b = (t[0], t[1]) if r % 2 == 0 else (t[1], t[0])
        a_times.append(a)
        b_times.append(b)
        ratios.append(b / a)
    return statistics.median(a_times), statistics.median(b_times), statistics.median(ratios)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="2,8")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(BATCH, INPUT_DIM)).astype("float32"))
    y = tf.constant(rng.normal(size=(BATCH,)).astype("float32"))
    for num_tasks in [int(t) for t in args.tasks.split(",")]:
        trunk, heads = trunk_and_heads(num_tasks)
        backward = per_task_gradients(trunk, heads)
        task_grads = backward(x, y)
        size = sum(int(np.prod(g.shape)) for g in task_grads[0])
        backward_time = statistics.median(time_block(backward, (x, y), args.steps) for _ in range(10))
        print(
            f"T={num_tasks}, P={size}: {num_tasks} per-task backward passes take {backward_time * 1e3:.2f} ms",
            flush=True,
        )
        for label, jit in (("tf.function", False), ("jit_compile", True)):
            first = tf.function(concatenated, jit_compile=jit)
            second = tf.function(blocks, jit_compile=jit)
            for f in (first, second):
                f(task_grads)
            a, b, ratio = compare(first, second, (task_grads,), args.steps, args.rounds)
            print(
                f"  {label:12} concatenated {a * 1e3:.3f} ms, blocks {b * 1e3:.3f} ms: "
                f"blocks / concatenated = {ratio:.2f}x (saves {(a - b) * 1e3:+.3f} ms per step)",
                flush=True,
            )


if __name__ == "__main__":
    main()
