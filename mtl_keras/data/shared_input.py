"""`shared_input_dataset`: one input, a label per task."""

import math

import numpy as np

from mtl_keras.data import checks
from mtl_keras.data.multitask import as_inputs, as_labels
from mtl_keras.data.stream import ArrayStream, Group


def shared_input_dataset(
    x,
    labels,
    *,
    masks=None,
    batch_size=32,
    tasks=None,
    shuffle=True,
    seed=0,
    repeat=True,
    steps_per_epoch=None,
):
    """Builds a shared-input stream: one input, one label per task (e.g. several attributes of one image).

    Like `multitask_dataset` the stream is batch-level and indexed by the step: step `s` takes the
    examples at positions `s·b … (s+1)·b − 1` of an endless walk through the examples, reshuffled
    every epoch from `(seed, epoch)` alone, so a resumed run sees the batches an uninterrupted one
    would. With `repeat=False` it makes one pass over the examples in order (evaluation).

    Args:
        x: input array (or dict of arrays) with `n` examples.
        labels: dict `{task_name: y}`, each with `n` labels.
        masks: optional dict `{task_name: mask}` of 0/1 (or bool) arrays; 0 marks a missing
            label, which is left out of that task's loss and metrics. Tasks may also declare
            `missing_label` (e.g. `-1`) in their `Task`.
        batch_size: examples per step.
        tasks: optional list of `mtl_keras.Task` to check names and labels against.
        shuffle: shuffle the examples every epoch (training only). Defaults to True.
        seed: shuffle seed.
        repeat: `True` (training): endless, in epochs of `steps_per_epoch` steps; `False`
            (evaluation): one pass over every example, the last batch smaller.
        steps_per_epoch: steps per epoch with `repeat=True`. Defaults to `ceil(n / batch_size)`.

    Returns:
        A `tf.data.Dataset` of `(x, {task: y}, {task: mask})`.

    Example:

    >>> train = shared_input_dataset(images, {"smiling": y_s, "young": y_y}, batch_size=64)
    >>> test = shared_input_dataset(test_images, test_labels, repeat=False)
    """
    if not isinstance(labels, dict) or not labels:
        raise ValueError(f"labels must be a non-empty dict {{task_name: y}}. Received: {type(labels).__name__}")
    names = list(labels)
    checks.check_task_names(names, tasks)
    batch_size = checks.check_batch_size(batch_size)
    seed, shuffle, repeat = checks.check_seed(seed), checks.check_flag("shuffle", shuffle), checks.check_flag("repeat", repeat)
    x = as_inputs(x)
    if isinstance(x, dict) and not x:
        raise ValueError("x must hold at least one input array. Received: x={}")
    n = checks.num_examples(x)
    if n == 0:
        raise ValueError("The data set is empty: x has 0 examples.")
    checks.check_inputs("shared input", x)
    masks = dict(masks or {})
    unknown = sorted(set(masks) - set(names))
    if unknown:
        raise ValueError(f"Masks given for tasks without labels: {unknown}. Tasks: {names}")
    by_name = {t.name: t for t in tasks or []}
    ys, ws = {}, {}
    for name in names:
        y = checks.as_array(name, labels[name], "y")
        if len(y) != n:
            raise ValueError(f"Task '{name}': {len(y)} labels for {n} inputs. Every task needs one label per input.")
        weight = np.ones(n, "float32") if name not in masks else checks.check_weights(name, masks[name], n, what="mask")
        if name in by_name:
            by_name[name].check_labels(y[weight > 0], allow_empty=True)
        if name in masks and np.issubdtype(y.dtype, np.integer):
            y = np.where(weight.reshape((-1,) + (1,) * (y.ndim - 1)) > 0, y, 0)
        ys[name], ws[name] = as_labels(y), weight
    if steps_per_epoch is None:
        steps_per_epoch = math.ceil(n / batch_size)
    elif isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, (int, np.integer)) or steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be a positive integer. Received: steps_per_epoch={steps_per_epoch!r}")
    group = Group(x, ys, ws, batch_size, seed)
    stream = ArrayStream({"shared": group}, {name: "shared" for name in names}, False, steps_per_epoch, shuffle)
    return stream.training_dataset() if repeat else stream.evaluation_dataset()
