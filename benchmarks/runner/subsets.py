"""Training-set subsets of a data-size sweep: `train_size` examples per task, shared or separate inputs."""

import dataclasses

from .config import BenchmarkConfigError


def _prefix(size, n, seed, stream, label):
    """The sorted first `size` indices of a permutation of `n` seeded by `(seed, stream)`: nested across sizes."""
    import numpy as np

    if size > n:
        raise BenchmarkConfigError(f"Benchmark '{label}': train_size={size} is larger than the training split ({n} examples).")
    return np.sort(np.random.default_rng([seed, 17, stream]).permutation(n)[:size])


def subsample_train(bench, size, seed, label=None):
    """`bench` with `size` training examples per task, drawn without replacement (seeded).

    The draw is a prefix of one permutation per task that depends only on `seed`, so the subset
    of a smaller size is part of the subset of every larger one: a data-size sweep adds examples
    rather than drawing new sets. In shared-input mode the tasks keep sharing their inputs (the
    same `size` examples, labelled for every task). Validation and test splits are kept whole.

    Raises:
        BenchmarkConfigError: `size` is larger than a task's training split.
    """
    import numpy as np

    label = label or bench.name
    train = bench.splits["train"]
    if bench.mode == "shared":
        x, labels = train
        index = _prefix(size, len(x), seed, 0, label)
        subset = (x[index], {t: np.asarray(y)[index] for t, y in labels.items()})
    else:
        subset = {}
        for k, (task, (x, y)) in enumerate(train.items()):
            index = _prefix(size, len(x), seed, k + 1, label)
            subset[task] = (x[index], np.asarray(y)[index])
    return dataclasses.replace(bench, splits={**bench.splits, "train": subset}, info={**bench.info, "train_size": size})


def separate_task_inputs(bench, seed, size=None, label=None):
    """`bench` in multi-input form where every task draws its own training examples (`task_inputs=separate`).

    Task `i` keeps `size` examples of the shared training split (all of them when `size` is
    `None`), drawn from its own seeded permutation, so the tasks see different inputs, as when
    each task comes with its own data set: a shared network then learns from up to `T · size`
    inputs, a single-task network from `size`. Validation and test splits give every task all
    their examples.
    """
    from mtl_keras.benchmarks.datasets.base import to_multi_input

    if bench.mode != "shared":
        return subsample_train(bench, size, seed, label) if size is not None else bench
    label = label or bench.name
    x, labels = bench.splits["train"]
    train = {}
    for k, (task, y) in enumerate(labels.items()):
        index = _prefix(len(x) if size is None else size, len(x), seed, k + 1, label)
        train[task] = (x[index], y[index])
    splits = {"train": train, **{split: to_multi_input(bench.splits[split]) for split in ("validation", "test")}}
    return dataclasses.replace(bench, mode="multi", splits=splits, info={**bench.info, "train_size": size, "task_inputs": "separate"})
