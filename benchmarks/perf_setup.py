"""The shared set-up of the speed benchmarks: one hard-sharing MLP, its data, and interleaved timing.

The model of every speed figure in the README: a `MultiTaskModel` with a trunk of two 256-unit
ReLU layers on 64-d inputs and a linear head per task (regression tasks, Adam), and the same
network as a plain Keras functional model. Timings alternate short blocks of the candidates
(A, B, A, B, ...), because these machines drift between fast and slow phases lasting seconds;
a ratio is the median of the per-round ratios.
"""

import statistics
import time

import keras
import numpy as np

import mtl_keras as mk

INPUT_DIM, HIDDEN, BATCH = 64, 256, 256


def task_names(num_tasks):
    return [f"t{i}" for i in range(num_tasks)]


def arrays(num_tasks, examples, per_task, seed=0):
    """Training arrays: multi-input `{task: (x, y)}` or shared-input `(x, {task: y})`."""
    rng = np.random.default_rng(seed)
    names = task_names(num_tasks)
    if per_task:
        return {n: (rng.normal(size=(examples, INPUT_DIM)).astype("float32"), rng.normal(size=(examples, 1)).astype("float32")) for n in names}
    x = rng.normal(size=(examples, INPUT_DIM)).astype("float32")
    return x, {n: rng.normal(size=(examples, 1)).astype("float32") for n in names}


def stream(data, per_task, batch_size=BATCH, seed=0):
    """The library's training stream over `arrays(...)`."""
    if per_task:
        return mk.data.multitask_dataset(data, batch_size=batch_size, seed=seed)
    return mk.data.shared_input_dataset(data[0], data[1], batch_size=batch_size, seed=seed)


def multitask_model(num_tasks, per_task, tasks_per_step=None, weighting=None, seed=0, **compile_options):
    """The benchmark `MultiTaskModel`, compiled with Adam."""
    keras.utils.set_random_seed(seed)
    tasks = [mk.Task(n, kind="regression") for n in task_names(num_tasks)]
    body = keras.Sequential([keras.layers.Dense(HIDDEN, activation="relu"), keras.layers.Dense(HIDDEN, activation="relu")], name="trunk")
    shape = {n: (INPUT_DIM,) for n in task_names(num_tasks)} if per_task else (INPUT_DIM,)
    model = mk.MultiTaskModel(tasks, body=body, input_shape=shape, tasks_per_step=tasks_per_step, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), weighting=weighting, **compile_options)
    return model


def plain_model(num_tasks, per_task, seed=0):
    """The same network as a plain Keras functional model (one input per task in multi-input mode)."""
    keras.utils.set_random_seed(seed)
    names = task_names(num_tasks)
    trunk = keras.Sequential([keras.layers.Dense(HIDDEN, activation="relu"), keras.layers.Dense(HIDDEN, activation="relu")], name="trunk")
    if per_task:
        inputs = {n: keras.Input((INPUT_DIM,), name=n) for n in names}
        outputs = {n: keras.layers.Dense(1, name=f"{n}_head")(trunk(inputs[n])) for n in names}
    else:
        inputs = keras.Input((INPUT_DIM,))
        h = trunk(inputs)
        outputs = {n: keras.layers.Dense(1, name=f"{n}_head")(h) for n in names}
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss={n: "mse" for n in names}, metrics={n: ["mae"] for n in names})
    return model


def fixed_batch(num_tasks, per_task, seed=0):
    """One training batch as tensors (what a compiled step is timed on)."""
    data = arrays(num_tasks, BATCH, per_task, seed)
    if per_task:
        return {n: xy[0] for n, xy in data.items()}, {n: xy[1] for n, xy in data.items()}
    return data


def interleaved(timers, rounds):
    """Runs each timer (a function returning seconds per unit) once per round, in turn.

    Returns:
        dict `{name: [seconds per unit, one per round]}`.
    """
    times = {name: [] for name in timers}
    names = list(timers)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(timers[name]())
    return times


def median_ratio(numerator, denominator):
    """Median over rounds of `numerator[r] / denominator[r]`, and half the interquartile range."""
    ratios = [a / b for a, b in zip(numerator, denominator)]
    if len(ratios) < 2:
        return ratios[0], 0.0
    q = statistics.quantiles(ratios, n=4)
    return statistics.median(ratios), (q[2] - q[0]) / 2


def seconds(fn, units):
    """Wall time of `fn()` divided by `units`."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / units
