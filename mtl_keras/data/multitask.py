"""`multitask_dataset`: the multi-input stream, one mini-batch per task per step."""

import math

import numpy as np
import tensorflow as tf

from mtl_keras.data import checks
from mtl_keras.data.stream import AUTOTUNE, ArrayStream, Group


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

    Each task has its own data set `D_i = (x_i, y_i)` of any size. Every task's examples are
    shuffled and repeated on their own, so a small task cycles while a large one makes one pass,
    and each step yields one batch per task: `({task: x_i}, {task: y_i}, {task: weight_i})`.

    Arrays are served batch by batch (one gather per array and step) and *indexed by the step*:
    the batch of step `s` depends only on the seed and `s`, so a run restored from a checkpoint
    sees exactly the batches an uninterrupted run would. `MultiTaskModel.fit` keeps the stream in
    step with the model's optimizer and, when the model samples `tasks_per_step < T` tasks per
    step, gathers only the sampled tasks' examples.

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
            `steps_per_epoch` steps; `False` (evaluation) makes one pass over every example of
            every task in order, a task that runs out getting empty batches.
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
    from mtl_keras.data.shared_input import shared_input_dataset

    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], dict):
        return shared_input_dataset(
            data[0], data[1], batch_size=batch_size, tasks=tasks, shuffle=shuffle, seed=seed, repeat=repeat,
            steps_per_epoch=steps_per_epoch,
        )
    if not isinstance(data, dict) or not data:
        raise ValueError(
            "multitask_dataset expects a non-empty dict {task_name: (x, y)} (multi-input mode) or a tuple "
            f"(x, {{task_name: y}}) (shared-input mode). Received: {type(data).__name__}"
        )
    names = list(data)
    checks.check_task_names(names, tasks)
    if isinstance(batch_size, dict) and set(batch_size) - set(names):
        raise ValueError(
            f"batch_size names tasks without data: {sorted(set(batch_size) - set(names), key=str)}. Tasks: {names}"
        )
    sizes = {name: checks.check_batch_size(_batch_size_of(batch_size, name), name) for name in names}
    seed, shuffle, repeat = checks.check_seed(seed), checks.check_flag("shuffle", shuffle), checks.check_flag("repeat", repeat)
    steps_per_epoch = _check_steps(steps_per_epoch)
    by_name = {t.name: t for t in tasks or []}
    if all(not isinstance(item, tf.data.Dataset) for item in data.values()):
        groups = {}
        for i, name in enumerate(names):
            x, y, w = _task_arrays(name, data[name], by_name.get(name))
            groups[name] = Group(x, {name: y}, {name: w}, sizes[name], seed + i)
        if steps_per_epoch is None:
            steps_per_epoch = max(math.ceil(groups[n].count / sizes[n]) for n in names)
        stream = ArrayStream(groups, {n: n for n in names}, True, steps_per_epoch, shuffle)
        return stream.training_dataset() if repeat else stream.evaluation_dataset()
    return _dataset_stream(data, names, sizes, by_name, shuffle, seed, repeat, steps_per_epoch, shuffle_buffer)


def _batch_size_of(batch_size, name):
    return batch_size.get(name) if isinstance(batch_size, dict) else batch_size


def _check_steps(steps_per_epoch):
    if steps_per_epoch is None:
        return None
    if isinstance(steps_per_epoch, bool) or int(steps_per_epoch) != steps_per_epoch or steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be a positive integer. Received: steps_per_epoch={steps_per_epoch!r}")
    return int(steps_per_epoch)


def _task_arrays(name, item, task):
    """Checked `(x, y, w)` arrays of one task (float64 inputs and labels as float32)."""
    if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
        raise ValueError(f"Task '{name}': expected (x, y) or (x, y, sample_weight) arrays. Received: {type(item).__name__}")
    x, y = as_inputs(item[0], name), checks.as_array(name, item[1], "y")
    weights = checks.check_task_arrays(name, x, y, item[2] if len(item) == 3 else None, task)
    if weights is None:
        weights = np.ones(len(y), "float32")
    return x, as_labels(y), weights


def as_inputs(x, name=None, what="x"):
    """Inputs as arrays (a dict stays a dict), float64 made float32; a `ValueError` naming task `name` if not arrays."""
    if isinstance(x, dict):
        return {k: as_inputs(v, name, f"{what}[{k!r}]") for k, v in x.items()}
    x = checks.as_array(name, x, what)
    return x.astype("float32") if x.dtype == np.float64 else x


def as_labels(y):
    """Labels as an array, float64 made float32."""
    y = np.asarray(y)
    return y.astype("float32") if y.dtype == np.float64 else y


# ---------------------------------------------------------------------------- tf.data inputs
def _dataset_stream(data, names, sizes, by_name, shuffle, seed, repeat, steps_per_epoch, shuffle_buffer):
    """The stream of tasks given as `tf.data.Dataset`s (arrays mixed in are served the same way)."""
    streams, counts = {}, {}
    for name in names:
        streams[name], counts[name] = _task_examples(name, data[name], by_name.get(name))
    if not repeat:
        unknown = [n for n in names if counts[n] is None]
        if unknown:
            raise ValueError(f"For evaluation (repeat=False) every task's size must be known. Unknown: {unknown}")
        steps = max(math.ceil(counts[n] / sizes[n]) for n in names)
        batched = {}
        for name in names:
            padding = steps * sizes[name] - counts[name]
            stream = streams[name].map(_example_with_weight)
            if padding:
                stream = stream.concatenate(stream.take(1).map(_masked).repeat(padding))
            batched[name] = stream.batch(sizes[name])
        return _zip(batched).prefetch(AUTOTUNE)
    known = [counts[n] / sizes[n] for n in names if counts[n] is not None]
    if steps_per_epoch is None and known:
        steps_per_epoch = math.ceil(max(known))
    batched = {}
    for i, name in enumerate(names):
        stream = streams[name]
        if shuffle:
            buffer = counts[name] if counts[name] is not None else shuffle_buffer
            stream = stream.shuffle(buffer, seed=seed + i, reshuffle_each_iteration=True)
        batched[name] = stream.repeat().batch(sizes[name], drop_remainder=True).map(_with_weights)
    dataset = _zip(batched)
    if steps_per_epoch is not None:
        dataset = dataset.take(int(steps_per_epoch))
    return dataset.prefetch(AUTOTUNE)


def _task_examples(name, item, task):
    """One task's unbatched `(x, y, w)` examples and their number (None if unknown)."""
    if not isinstance(item, tf.data.Dataset):
        x, y, w = _task_arrays(name, item, task)
        return tf.data.Dataset.from_tensor_slices((x, y, w)), len(y)
    spec = item.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise ValueError(f"Task '{name}': the data set must yield (x, y) or (x, y, sample_weight). Received spec: {spec}")
    label_shape = spec[1].shape
    if label_shape.rank and label_shape[0] is None:
        raise ValueError(
            f"Task '{name}': the data set yields batches (label shape {tuple(label_shape)}); give it single "
            "examples (call .unbatch() on it): the stream batches every task itself."
        )
    count = int(item.cardinality())
    if count == 0:
        raise ValueError(f"Task '{name}': the data set is empty.")
    return item, (count if count > 0 else None)


def _with_weights(x, y, w=None):
    """A batch `(x, y, w)` with float32 weights, ones when the data has none."""
    return x, y, tf.cast(tf.ones(tf.shape(y)[:1]) if w is None else w, tf.float32)


def _example_with_weight(x, y, w=None):
    """One example `(x, y, w)` with a float32 weight, 1 when the data has none."""
    return x, y, tf.constant(1.0) if w is None else tf.cast(w, tf.float32)


def _masked(x, y, w):
    return x, y, tf.zeros_like(w)


def _zip(batched):
    names = list(batched)

    def regroup(*parts):
        return tuple({n: p[k] for n, p in zip(names, parts)} for k in range(3))

    return tf.data.Dataset.zip(tuple(batched[n] for n in names)).map(regroup)
