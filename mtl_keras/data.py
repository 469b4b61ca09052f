"""Multi-task data streams: one mini-batch per task per step, whatever the data-set sizes.

Two modes:

- **multi-input** (`multitask_dataset`): each task has its own data set `D_i = (x_i, y_i)`,
  of any size. Every task's examples are shuffled and repeated on their own, and each step
  yields one batch per task: `({task: x_i}, {task: y_i}, {task: weight_i})`. A small task is
  cycled more often than a large one, so every task gets a mini-batch at every step; an epoch
  is one pass over the largest task (or `steps_per_epoch` steps).
- **shared-input** (`shared_input_dataset`): one input with a label per task (e.g. several
  attributes of one image): `(x, {task: y_i}, {task: mask_i})`. Missing labels are masked
  with a mask array or with the task's `missing_label`.

For evaluation (`repeat=False`), multi-input streams are padded to the largest task with
masked examples so that one pass covers every example of every task exactly once.
"""

import math

import numpy as np
import tensorflow as tf

from mtl_keras.task import Task

AUTOTUNE = tf.data.AUTOTUNE


def multitask_dataset(
    data,
    batch_size=32,
    *,
    tasks=None,
    shuffle=True,
    seed=0,
    repeat=True,
    steps_per_epoch=None,
    shuffle_buffer=10_000,
):
    """Builds a multi-input stream yielding one batch per task at every step.

    Args:
        data: dict `{task_name: (x, y)}` or `{task_name: (x, y, sample_weight)}` of arrays, or
            `{task_name: tf.data.Dataset}` yielding single (unbatched) `(x, y)` or
            `(x, y, sample_weight)` examples. A tuple `(x, {task_name: y})` is passed on to
            `shared_input_dataset`.
        batch_size: examples per task per step, an int or a dict by task name.
        tasks: optional list of `mtl_keras.Task` to check names and labels against.
        shuffle: shuffle each task's examples (reshuffled every pass). Defaults to True.
        seed: seed of the shuffles. Task `i` uses `seed + i`.
        repeat: `True` (training) repeats every task's data without end and cuts epochs of
            `steps_per_epoch` steps; `False` (evaluation) makes one pass over every example,
            padding smaller tasks with masked examples.
        steps_per_epoch: steps per epoch with `repeat=True`. Defaults to one pass over the
            largest task: `max_i ceil(n_i / batch_size_i)`.
        shuffle_buffer: shuffle buffer size for `tf.data.Dataset` inputs (arrays are shuffled
            whole).

    Returns:
        A `tf.data.Dataset` of `({task: x}, {task: y}, {task: sample_weight})`.

    Example:

    >>> train = multitask_dataset({"left": (x_l, y_l), "right": (x_r, y_r)}, batch_size=64)
    >>> model.fit(train, epochs=3)
    """
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], dict):
        return shared_input_dataset(data[0], data[1], batch_size=batch_size, tasks=tasks, shuffle=shuffle, seed=seed)
    if not isinstance(data, dict) or not data:
        raise ValueError(
            "multitask_dataset expects a non-empty dict {task_name: (x, y)} (multi-input mode) or a tuple "
            f"(x, {{task_name: y}}) (shared-input mode). Received: {type(data).__name__}"
        )
    names = list(data)
    _check_task_names(names, tasks)
    sizes = {name: _batch_size_of(batch_size, name) for name in names}
    streams, counts = {}, {}
    for name in names:
        stream, count = _task_stream(name, data[name], tasks)
        streams[name], counts[name] = stream, count
    known = [counts[n] for n in names if counts[n] is not None]
    if not repeat:
        if len(known) != len(names):
            unknown = [n for n in names if counts[n] is None]
            raise ValueError(f"For evaluation (repeat=False) every task's size must be known. Unknown: {unknown}")
        longest = max(known)
        batched = {}
        for name in names:
            stream = streams[name]
            if counts[name] < longest:
                stream = stream.concatenate(_padding(stream, longest - counts[name]))
            batched[name] = stream.batch(max(sizes.values()))
        return _zip(batched).prefetch(AUTOTUNE)
    if steps_per_epoch is None and known:
        steps_per_epoch = max(math.ceil(counts[n] / sizes[n]) for n in names if counts[n] is not None)
    if steps_per_epoch is not None and (int(steps_per_epoch) != steps_per_epoch or steps_per_epoch < 1):
        raise ValueError(f"steps_per_epoch must be a positive integer. Received: steps_per_epoch={steps_per_epoch}")
    arrays = {name: _arrays_of(data[name]) for name in names}
    if all(a is not None for a in arrays.values()):
        return _indexed_stream(arrays, sizes, int(steps_per_epoch), seed, shuffle)
    batched = {}
    for i, name in enumerate(names):
        stream = streams[name]
        if shuffle:
            buffer = counts[name] if counts[name] is not None else shuffle_buffer
            stream = stream.shuffle(buffer, seed=seed + i, reshuffle_each_iteration=True)
        batched[name] = stream.repeat().batch(sizes[name], drop_remainder=True)
    dataset = _zip(batched)
    if steps_per_epoch is not None:
        dataset = dataset.take(int(steps_per_epoch))
    return dataset.prefetch(AUTOTUNE)


def shared_input_dataset(x, labels, *, masks=None, batch_size=32, tasks=None, shuffle=True, seed=0, drop_remainder=False):
    """Builds a shared-input stream: one input, one label per task.

    Args:
        x: input array (or dict of arrays) with `n` examples.
        labels: dict `{task_name: y}`, each with `n` labels.
        masks: optional dict `{task_name: mask}` of 0/1 (or bool) arrays; 0 marks a missing
            label, which is left out of that task's loss and metrics. Tasks may also declare
            `missing_label` (e.g. `-1`) in their `Task`.
        batch_size: examples per step.
        tasks: optional list of `mtl_keras.Task` to check names and labels against.
        shuffle: shuffle the examples every epoch. Defaults to True.
        seed: shuffle seed.
        drop_remainder: drop the last, smaller batch.

    Returns:
        A `tf.data.Dataset` of `(x, {task: y}, {task: mask})`, one pass per epoch.
    """
    if not isinstance(labels, dict) or not labels:
        raise ValueError(f"labels must be a non-empty dict {{task_name: y}}. Received: {type(labels).__name__}")
    names = list(labels)
    _check_task_names(names, tasks)
    x = _as_inputs(x)
    n = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
    if n == 0:
        raise ValueError("The data set is empty: x has 0 examples.")
    masks = dict(masks or {})
    unknown = sorted(set(masks) - set(names))
    if unknown:
        raise ValueError(f"Masks given for tasks without labels: {unknown}. Tasks: {names}")
    ys, ws = {}, {}
    by_name = {t.name: t for t in tasks or []}
    for name in names:
        y = np.asarray(labels[name])
        if len(y) != n:
            raise ValueError(f"Task '{name}': {len(y)} labels for {n} inputs. Every task needs one label per input.")
        weight = np.ones(n, "float32") if name not in masks else np.asarray(masks[name], "float32").reshape(-1)
        if len(weight) != n:
            raise ValueError(f"Task '{name}': mask has {len(weight)} entries for {n} inputs.")
        if name in by_name:
            by_name[name].check_labels(y[weight > 0] if name in masks else y)
        if name in masks and np.issubdtype(y.dtype, np.integer):
            y = np.where(weight.reshape((-1,) + (1,) * (y.ndim - 1)) > 0, y, 0)
        ys[name] = _as_labels(y)
        ws[name] = weight
    dataset = tf.data.Dataset.from_tensor_slices((x, ys, ws))
    if shuffle:
        dataset = dataset.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)


def split(data, fractions=(0.8, 0.2), seed=0):
    """Splits per-task arrays `{task: (x, y)}` into parts by `fractions`, shuffling each task.

    Returns:
        A list of dicts `{task: (x, y)}`, one per fraction.
    """
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1. Received: fractions={fractions}")
    rng = np.random.default_rng(seed)
    parts = [{} for _ in fractions]
    for name, arrays in data.items():
        n = len(arrays[0])
        order = rng.permutation(n)
        bounds = np.cumsum([0] + [round(f * n) for f in fractions])
        bounds[-1] = n
        for k in range(len(fractions)):
            index = order[bounds[k] : bounds[k + 1]]
            parts[k][name] = tuple(np.asarray(a)[index] for a in arrays)
    return parts


# ---------------------------------------------------------------------------- helpers
def _check_task_names(names, tasks):
    if tasks is None:
        return
    model_names = [t.name for t in tasks]
    unknown = sorted(set(names) - set(model_names))
    if unknown:
        raise ValueError(f"Data given for tasks the model does not have: {unknown}. Tasks: {model_names}")
    missing = [n for n in model_names if n not in names]
    if missing:
        raise ValueError(f"Tasks with no data: {missing}. Every task needs data.")


def _batch_size_of(batch_size, name):
    size = batch_size.get(name) if isinstance(batch_size, dict) else batch_size
    if size is None or int(size) != size or size < 1:
        raise ValueError(f"Task '{name}': batch_size must be a positive integer. Received: batch_size={size!r}")
    return int(size)


def _as_inputs(x):
    if isinstance(x, dict):
        return {k: _as_inputs(v) for k, v in x.items()}
    x = np.asarray(x)
    return x.astype("float32") if x.dtype == np.float64 else x


def _as_labels(y):
    y = np.asarray(y)
    return y.astype("float32") if y.dtype == np.float64 else y


def _task_stream(name, item, tasks):
    """Returns an unbatched `(x, y, w)` stream for one task and its size (or None)."""
    task = next((t for t in tasks or [] if t.name == name), None)
    if isinstance(item, tf.data.Dataset):
        spec = item.element_spec
        if not isinstance(spec, tuple) or len(spec) not in (2, 3):
            raise ValueError(f"Task '{name}': the data set must yield (x, y) or (x, y, sample_weight). Received spec: {spec}")
        if len(spec) == 2:
            item = item.map(lambda x, y: (x, y, tf.constant(1.0)))
        else:
            item = item.map(lambda x, y, w: (x, y, tf.cast(w, tf.float32)))
        count = int(item.cardinality())
        if count == 0:
            raise ValueError(f"Task '{name}': the data set is empty.")
        return item, (count if count > 0 else None)
    if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
        raise ValueError(f"Task '{name}': expected (x, y) or (x, y, sample_weight) arrays. Received: {type(item).__name__}")
    x, y = _as_inputs(item[0]), np.asarray(item[1])
    n = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
    if n == 0 or len(y) == 0:
        raise ValueError(f"Task '{name}': the data set is empty (x has {n} examples, y has {len(y)}).")
    if len(y) != n:
        raise ValueError(f"Task '{name}': x has {n} examples but y has {len(y)} labels.")
    w = np.ones(n, "float32") if len(item) == 2 else np.asarray(item[2], "float32").reshape(-1)
    if len(w) != n:
        raise ValueError(f"Task '{name}': sample_weight has {len(w)} entries for {n} examples.")
    if isinstance(task, Task):
        task.check_labels(y)
    return tf.data.Dataset.from_tensor_slices((x, _as_labels(y), w)), n


def _arrays_of(item):
    """`(x, y, w)` arrays of an array-given task (as `_task_stream` made them), or None for a Dataset."""
    if isinstance(item, tf.data.Dataset):
        return None
    x, y = _as_inputs(item[0]), _as_labels(item[1])
    n = len(y)
    w = np.ones(n, "float32") if len(item) == 2 else np.asarray(item[2], "float32").reshape(-1)
    return x, y, w


def _permutation(n, seed, epoch, shuffle):
    if not shuffle:
        return tf.range(n, dtype=tf.int64)
    keys = tf.random.stateless_uniform([n], seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
    return tf.cast(tf.argsort(keys, stable=True), tf.int64)


def _indexed_stream(arrays, sizes, steps_per_epoch, seed, shuffle):
    """A training stream whose batch at step `s` depends only on `(seed, s)`.

    Task `i` walks through its examples epoch by epoch, epoch `e` in the order of a permutation
    drawn from `(seed + i, e)`; step `s` takes its examples `s·b_i ... (s+1)·b_i - 1` of that
    walk. Each pass over the returned data set (a Keras epoch) starts at the step held in the
    variable `dataset.mtl_position` and advances it by `steps_per_epoch`; `MultiTaskModel.fit`
    sets it from the optimizer's step count at every epoch start, so a run restored from a
    checkpoint (`keras.callbacks.BackupAndRestore`) sees exactly the batches an uninterrupted run
    would have seen.
    """
    names = list(arrays)
    position = tf.Variable(0, dtype=tf.int64, trainable=False, name="mtl_data_position")
    constants = {name: tuple(tf.constant(a) if not isinstance(a, dict) else {k: tf.constant(v) for k, v in a.items()}
                             for a in arrays[name]) for name in names}
    counts = {name: len(arrays[name][1]) for name in names}

    def one_pass(_):
        start = position.assign_add(steps_per_epoch) - steps_per_epoch
        index_streams = []
        for i, name in enumerate(names):
            n, b = counts[name], sizes[name]
            first = start * b

            def epoch_indices(epoch, n=n, i=i):
                return tf.data.Dataset.from_tensor_slices(_permutation(n, seed + i, epoch, shuffle))

            index_streams.append(
                tf.data.Dataset.range(first // n, 2**62).flat_map(epoch_indices).skip(first % n).batch(b, drop_remainder=True)
            )
        return tf.data.Dataset.zip(tuple(index_streams)).take(steps_per_epoch)

    def gather(*indices):
        parts = {}
        for name, index in zip(names, indices):
            parts[name] = tuple(
                {k: tf.gather(v, index) for k, v in c.items()} if isinstance(c, dict) else tf.gather(c, index)
                for c in constants[name]
            )
        return ({n: p[0] for n, p in parts.items()}, {n: p[1] for n, p in parts.items()}, {n: p[2] for n, p in parts.items()})

    dataset = tf.data.Dataset.from_tensors(0).flat_map(one_pass).map(gather, num_parallel_calls=AUTOTUNE, deterministic=True)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps_per_epoch)).prefetch(AUTOTUNE)
    dataset.mtl_position = position
    return dataset


def _padding(stream, count):
    """`count` copies of the stream's first example with weight 0."""
    return stream.take(1).map(lambda x, y, w: (x, y, tf.zeros_like(w))).repeat(count)


def _zip(batched):
    names = list(batched)

    def regroup(*parts):
        return (
            {n: p[0] for n, p in zip(names, parts)},
            {n: p[1] for n, p in zip(names, parts)},
            {n: p[2] for n, p in zip(names, parts)},
        )

    return tf.data.Dataset.zip(tuple(batched[n] for n in names)).map(regroup)
