"""Small training runs for task grouping: measure affinity on a benchmark, train a model per group.

Used by `mtl-keras affinity` and `benchmarks/task_grouping.py`. Models are hard-sharing MLPs
(inputs flattened), small enough for a laptop.
"""

import time
from typing import NamedTuple

import keras

from mtl_keras import data as mtl_data
from mtl_keras.diagnostics.affinity import TaskAffinity
from mtl_keras.model import MultiTaskModel


class AffinityRun(NamedTuple):
    """The result of `measure_affinity`: `matrix` `[T, T]`, `task_names`, the trained `model`, `seconds`, `measurements`."""

    matrix: object
    task_names: list
    model: object
    seconds: float
    measurements: int


def hard_sharing_model(tasks, input_shape, hidden=(64, 32), seed=0, name="hard_sharing"):
    """A `MultiTaskModel` with an MLP trunk (`Flatten` then `Dense` ReLU layers of sizes `hidden`)."""
    layers = [keras.layers.Flatten()] + [keras.layers.Dense(int(u), activation="relu") for u in hidden]
    body = keras.Sequential(layers, name="trunk")
    return MultiTaskModel(tasks, body=body, input_shape=tuple(input_shape), seed=seed, name=name)


def training_stream(bench, task_names=None, batch_size=64, seed=0, split="train"):
    """A `mtl_keras.data` stream of a shared-input benchmark split, for the tasks `task_names` (all by default)."""
    x, labels = bench.splits[split]
    names = task_names or bench.task_names
    tasks = [t for t in bench.tasks if t.name in names]
    return mtl_data.shared_input_dataset(
        x, {n: labels[n] for n in names}, batch_size=batch_size, seed=seed, shuffle=split == "train", tasks=tasks
    )


def measure_affinity(bench, epochs=5, every=10, learning_rate=None, batch_size=64, hidden=(64, 32), optimizer_lr=2e-3, seed=0, verbose=0):
    """Trains a hard-sharing model on a benchmark with a `TaskAffinity` callback; returns an `AffinityRun`.

    Args:
        bench: a shared-input `MultiTaskBenchmark`.
        epochs: training epochs.
        every: steps between affinity measurements.
        learning_rate: the lookahead step (defaults to the optimizer's learning rate).
        batch_size: batch size of training and of the measurements.
        hidden: the trunk's layer sizes.
        optimizer_lr: the Adam learning rate of training.
        seed: seed of the model and the data order.
        verbose: Keras's `fit` verbosity.
    """
    if bench.mode != "shared":
        raise ValueError(f"measure_affinity needs a shared-input benchmark. Received '{bench.name}' with mode={bench.mode!r}")
    keras.utils.set_random_seed(seed)
    train = training_stream(bench, batch_size=batch_size, seed=seed)
    model = hard_sharing_model(bench.tasks, bench.input_shape, hidden, seed)
    model.compile(optimizer=keras.optimizers.Adam(optimizer_lr))
    probe_data = training_stream(bench, batch_size=batch_size, seed=seed + 1)
    affinity = TaskAffinity(probe_data, every=every, learning_rate=learning_rate)
    start = time.perf_counter()
    model.fit(train, epochs=epochs, callbacks=[affinity], verbose=verbose)
    return AffinityRun(affinity.matrix, list(affinity.task_names), model, time.perf_counter() - start, len(affinity.history))


def train_and_test(bench, task_names, epochs=10, batch_size=64, hidden=(64, 32), optimizer_lr=2e-3, seed=0):
    """Trains one hard-sharing model on `task_names`; returns its test results `{task: {metric: value}}`."""
    keras.utils.set_random_seed(seed)
    tasks = [t for t in bench.tasks if t.name in task_names]
    model = hard_sharing_model(tasks, bench.input_shape, hidden, seed)
    model.compile(optimizer=keras.optimizers.Adam(optimizer_lr))
    model.fit(training_stream(bench, task_names, batch_size, seed), epochs=epochs, verbose=0)
    test = training_stream(bench, task_names, 256, seed, split="test")
    return model.results_by_task(model.evaluate(test, return_dict=True, verbose=0))
