"""Checks of multi-task data against the tasks, before any training: every error names the task and the value.

Three places data reaches a model, three kinds of check:

- arrays given to the stream builders (`multitask_dataset`, `shared_input_dataset`) or to
  `fit(x, y)`: checked once with NumPy (`check_task_arrays`): sizes, finite inputs and labels,
  label values that fit the task's head, finite non-negative sample weights;
- a `tf.data.Dataset` given to `fit` / `evaluate`: its structure is checked against the tasks
  (`check_element_spec`), and its values batch by batch inside the input pipeline
  (`with_value_checks`), so a bad value stops training with the task named, at no cost to the
  compiled training step (which may run under XLA, where assertions are dropped);
- the model's own streams carry their arrays, which `fit` checks with NumPy against the
  model's tasks.
"""

import re

import numpy as np
import tensorflow as tf

#: Prefix of the messages of in-pipeline checks (recognised by `as_value_error`).
MARKER = "mtl_keras:"


# ---------------------------------------------------------------------------- names and sizes
def check_task_names(names, tasks, training=True):
    """Raises a `ValueError` for data of unknown tasks, or (in training) tasks without data."""
    if tasks is None:
        return
    for task in tasks:
        if not hasattr(task, "name") or not hasattr(task, "check_labels"):
            raise ValueError(f"tasks must be a list of mtl_keras.Task objects. Received: {task!r} in tasks")
    model_names = [t.name for t in tasks]
    unknown = sorted(set(names) - set(model_names))
    if unknown:
        raise ValueError(f"Data given for tasks the model does not have: {unknown}. Tasks: {model_names}")
    missing = [n for n in model_names if n not in names]
    if missing and training:
        raise ValueError(f"Tasks with no data: {missing}. Every task needs data to train.")


def check_batch_size(batch_size, name=None):
    """Returns `int(batch_size)`, or raises a `ValueError` naming the task and the value."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer, float)) or int(batch_size) != batch_size or batch_size < 1:
        where = f"Task '{name}': " if name else ""
        raise ValueError(f"{where}batch_size must be a positive integer. Received: batch_size={batch_size!r}")
    return int(batch_size)


def check_seed(seed):
    """Returns `int(seed)`, or raises a `ValueError` for a seed that is not an integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer. Received: seed={seed!r}")
    return int(seed)


def check_flag(name, value):
    """Returns `value` if it is a bool, else raises (a string such as `"no"` would count as True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False. Received: {name}={value!r}")
    return bool(value)


def check_fractions(fractions):
    """Returns `fractions` as floats, or raises: each in (0, 1], summing to 1."""
    try:
        values = [float(f) for f in fractions]
    except (TypeError, ValueError):
        raise ValueError(f"fractions must be a list of numbers. Received: fractions={fractions!r}") from None
    if not values:
        raise ValueError("fractions must not be empty. Received: fractions=[]")
    for value in values:
        if not np.isfinite(value) or not 0 < value <= 1:
            raise ValueError(f"Every fraction must be in (0, 1]. Received: fractions={list(fractions)}")
    if abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1. Received: fractions={list(fractions)} (sum {sum(values):g})")
    return values


# ---------------------------------------------------------------------------- arrays
def num_examples(x):
    """The number of examples of an input array or dict of arrays."""
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def as_array(name, value, what):
    """`value` as a NumPy array with one entry per example, or a `ValueError` naming the task and `what`.

    Refuses what `np.asarray` cannot make an array of one row per example: a scalar, `None`, a
    generator, ragged nested lists, and (inputs only) Python objects.

    Args:
        name: the task's name (or a description such as `"shared input"`), `None` for none.
        what: what the value is, e.g. `"x"`, `"y"`, `"sample_weight"`.
    """
    where = f"Task '{name}': " if name is not None else ""
    try:
        array = np.asarray(value)
    except ValueError as error:
        raise ValueError(
            f"{where}{what} must be an array whose examples all have the same shape. "
            f"Received: a ragged {type(value).__name__} ({error})"
        ) from None
    if array.ndim == 0:
        raise ValueError(
            f"{where}{what} must be an array with one entry per example (NumPy array, list or tensor). "
            f"Received: {type(value).__name__} {_short(value)}"
        )
    if what.startswith("x") and array.dtype == object:
        raise ValueError(
            f"{where}{what} holds Python objects (dtype=object), not numbers or strings. "
            f"Received: {what}[0]={_short(array.reshape(-1)[0])}"
        )
    return array


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_inputs(name, x):
    """Raises a `ValueError` naming the task for inputs of unequal lengths or with NaN / inf values."""
    parts = x if isinstance(x, dict) else {None: x}
    lengths = {key: len(value) for key, value in parts.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"Task '{name}': the input features have different numbers of examples: {lengths}")
    for key, value in parts.items():
        value = np.asarray(value)
        if np.issubdtype(value.dtype, np.floating) and value.size and not np.isfinite(value).all():
            position = np.unravel_index(int(np.flatnonzero(~np.isfinite(value))[0]), value.shape)
            feature = f" (feature '{key}')" if key is not None else ""
            raise ValueError(
                f"Task '{name}': the inputs{feature} must be finite. Received: x{[int(p) for p in position]}={value[position]}"
            )


def check_weights(name, weights, count, what="sample_weight"):
    """Returns `weights` as a float32 vector, or raises naming the task.

    Refused: a length other than `count`, a shape other than `(count,)` or `(count, 1)`,
    non-numbers, NaN / inf, negative values, and for `what="mask"` anything but 0 / 1 (or bools):
    a mask is not a weight, so a 2 or an index array must not silently up-weight examples.
    """
    raw = as_array(name, weights, what)
    try:
        weights = raw.astype("float32")
    except (TypeError, ValueError):
        raise ValueError(
            f"Task '{name}': {what} must be numbers. Received: dtype={raw.dtype}, {what}[0]={_short(raw.reshape(-1)[0].item())}"
        ) from None
    if weights.ndim > 2 or (weights.ndim == 2 and weights.shape[1] != 1):
        raise ValueError(
            f"Task '{name}': {what} must have shape ({count},) or ({count}, 1), one value per example. "
            f"Received: shape={weights.shape}"
        )
    weights = weights.reshape(-1)
    if len(weights) != count:
        raise ValueError(f"Task '{name}': {what} has {len(weights)} entries for {count} examples.")
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        raise ValueError(
            f"Task '{name}': {what} must be finite and >= 0. Received: {what}[{int(np.flatnonzero(bad)[0])}]="
            f"{weights[bad][0]}"
        )
    if what == "mask":
        bad = (weights != 0) & (weights != 1)
        if bad.any():
            raise ValueError(
                f"Task '{name}': mask must hold 0 (missing label) or 1 (known label), or bools. "
                f"Received: mask[{int(np.flatnonzero(bad)[0])}]={raw.reshape(-1)[bad][0].item()!r}"
            )
    return weights


def check_task_arrays(name, x, y, weights=None, task=None):
    """Checks one task's arrays: sizes, finite inputs, weights, and labels that fit the task's head.

    Labels of examples with weight 0 (masked) are not checked, as they are never used.
    """
    n = num_examples(x)
    y = as_array(name, y, "y")
    if n == 0 or len(y) == 0:
        raise ValueError(f"Task '{name}': the data set is empty (x has {n} examples, y has {len(y)}).")
    if len(y) != n:
        raise ValueError(f"Task '{name}': x has {n} examples but y has {len(y)} labels.")
    check_inputs(name, x)
    if weights is not None:
        weights = check_weights(name, weights, n)
    if task is not None:
        task.check_labels(y if weights is None else y[weights > 0], allow_empty=weights is not None)
    return weights


# ---------------------------------------------------------------------------- tf.data structure
def check_element_spec(tasks, spec, training, per_task_input):
    """Checks a `tf.data` element spec `(x, {task: y}[, w])` against the tasks (names, label shapes)."""
    names = [t.name for t in tasks]
    if not isinstance(spec, tuple) or len(spec) < 2:
        raise ValueError(
            "A multi-task model expects a data set of (x, y) or (x, y, sample_weight) with y a dict by task. "
            f"Received element_spec={spec}"
        )
    x_spec, y_spec = spec[0], spec[1]
    if not isinstance(y_spec, dict):
        raise ValueError(f"Labels must be a dict {{task_name: labels}}. Received label spec: {y_spec}")
    unknown = sorted(set(y_spec) - set(names))
    if unknown:
        raise ValueError(f"The data has labels for tasks the model does not have: {unknown}. Model tasks: {names}")
    if training:
        missing = [t for t in names if t not in y_spec]
        if missing:
            raise ValueError(f"Model tasks with no data: {missing}. Every task needs data to train.")
    if per_task_input:
        absent = sorted(set(y_spec) - set(x_spec))
        if absent:
            raise ValueError(f"Tasks with labels but no inputs: {absent}.")
    for task in tasks:
        if task.name in y_spec:
            check_label_spec(task, y_spec[task.name])


def check_label_spec(task, spec):
    """Raises a `ValueError` naming the task if a label `tf.TensorSpec` does not fit its head."""
    shape, dtype = spec.shape, spec.dtype
    if task.kind == "classification":
        if not (dtype.is_integer or dtype.is_floating):
            raise ValueError(f"Task '{task.name}': classification labels must be integer class ids. Received dtype={dtype.name}")
        if shape.rank is not None and (shape.rank > 2 or (shape.rank == 2 and shape[-1] not in (1, None))):
            raise ValueError(
                f"Task '{task.name}': labels must be class ids of shape (batch,) or (batch, 1); "
                f"got shape {tuple(shape)}. (One-hot labels? Pass class ids.)"
            )
        return
    if not (dtype.is_floating or dtype.is_integer or dtype.is_bool):
        raise ValueError(f"Task '{task.name}': labels must be numeric. Received dtype={dtype.name}")
    width = 1 if shape.rank == 1 else (shape[-1] if shape.rank else None)
    if shape.rank is not None and (shape.rank > 2 or (width is not None and width != task.output_units)):
        raise ValueError(
            f"Task '{task.name}': labels of shape {tuple(shape)} do not fit a head of "
            f"{task.output_units} unit(s); expected (batch,) or (batch, {task.output_units})."
        )


# ---------------------------------------------------------------------------- tf.data values
def with_value_checks(dataset, tasks, per_task_input):
    """Adds batch-level value checks to a `(x, {task: y}[, w])` data set.

    Each batch is checked inside the input pipeline: finite float inputs, finite non-negative
    sample weights, and labels that fit each task's head (class ids in `[0, num_classes)`, binary
    labels in {0, 1}, finite regression labels), masked and missing labels excepted. A bad batch
    raises an error naming the task and the value (see `as_value_error`).
    """
    by_name = {t.name: t for t in tasks}

    def check(*element):
        x, y = element[0], element[1]
        weights = element[2] if len(element) > 2 else None
        problems = []
        for name, labels in y.items():
            task = by_name[name]
            w = weights.get(name) if isinstance(weights, dict) else None
            problems += _label_problems(task, labels, w)
            task_x = x[name] if per_task_input else (x if name == next(iter(y)) else None)
            if task_x is not None:
                problems += _input_problems(name if per_task_input else None, task_x)
        if problems:
            ok = tf.reduce_all(tf.stack([p[0] for p in problems]))
            _assert_all(ok, problems)
        return element

    return dataset.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _label_problems(task, labels, weights):
    labels = tf.convert_to_tensor(labels)
    flat = tf.reshape(tf.cast(labels, tf.float64), [tf.shape(labels)[0], -1])
    keep = tf.ones_like(flat, tf.bool)
    if weights is not None:
        w = tf.reshape(tf.cast(weights, tf.float64), [-1])
        keep = keep & (w > 0)[:, None]
    if task.missing_label is not None:
        missing = tf.math.is_nan(flat) if task.missing_label == "nan" else tf.equal(flat, float(task.missing_label))
        keep = keep & ~tf.reduce_any(missing, axis=1, keepdims=True)
    if task.kind == "classification":
        bad = (flat < 0) | (flat >= task.num_classes) | (flat != tf.floor(flat)) | tf.math.is_nan(flat)
        message = f"Task '{task.name}': class labels must be integers in [0, {task.num_classes}). Received: label="
    elif task.kind == "binary":
        bad = (flat != 0) & (flat != 1)
        message = f"Task '{task.name}': binary labels must be 0 or 1. Received: label="
    else:
        bad = ~tf.math.is_finite(flat)
        message = f"Task '{task.name}': regression labels must be finite. Received: label="
    bad = bad & keep
    problems = [(~tf.reduce_any(bad), message, tf.boolean_mask(flat, bad))]
    if weights is not None:
        w = tf.reshape(tf.cast(weights, tf.float64), [-1])
        bad_w = ~tf.math.is_finite(w) | (w < 0)
        problems.append((~tf.reduce_any(bad_w), f"Task '{task.name}': sample weights must be finite and >= 0. Received: sample_weight=", tf.boolean_mask(w, bad_w)))
    return problems


def _input_problems(name, x):
    problems = []
    for key, value in (x.items() if isinstance(x, dict) else [(None, x)]):
        value = tf.convert_to_tensor(value)
        if not value.dtype.is_floating:
            continue
        where = f"Task '{name}': the inputs" if name else "The inputs"
        if key is not None:
            where += f" (feature '{key}')"
        flat = tf.reshape(value, [-1])
        bad = ~tf.math.is_finite(flat)
        problems.append((~tf.reduce_any(bad), f"{where} must be finite. Received: x=", tf.cast(tf.boolean_mask(flat, bad), tf.float64)))
    return problems


def _assert_all(ok, problems):
    def fail():
        checks = [tf.debugging.Assert(p[0], [f"{MARKER} {p[1]}", p[2][:1]]) for p in problems]
        with tf.control_dependencies(checks):
            return tf.constant(True)

    tf.cond(ok, lambda: tf.constant(True), fail)


_ASSERTION = re.compile(r"\[" + re.escape(MARKER) + r" (?P<message>[^\]]*)\] \[(?P<value>[^\]]*)\]")


def as_value_error(error):
    """The `ValueError` a failed in-pipeline check stands for, or `None` for other errors."""
    match = _ASSERTION.search(str(error).replace("\\'", "'"))
    if match is None:
        return None
    value = match.group("value").strip()
    try:
        value = repr(float(value)) if "." in value or "e" in value or "n" in value else value
        if value.endswith(".0"):
            value = value[:-2]
    except ValueError:
        pass
    return ValueError(match.group("message") + value)
