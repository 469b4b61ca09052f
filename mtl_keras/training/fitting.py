"""What `MultiTaskModel.fit` and `evaluate` do around Keras's loops: check the data, build, keep streams in step."""

import contextlib

import keras
import numpy as np
import tensorflow as tf

from mtl_keras.callbacks import SyncDataPosition, SyncDataPositionExact, TerminateOnNaNTask
from mtl_keras.data import checks
from mtl_keras.data.stream import Sampling
from mtl_keras.training import arguments


# ---------------------------------------------------------------------------- shapes
def batch_shapes(shape, has_batch=None):
    """An input shape (or dict / list of shapes) with a leading batch axis `None`.

    Args:
        shape: the shape(s).
        has_batch: whether the shapes already start with the batch axis; `None` to guess (a
            leading `None` is taken for the batch axis).
    """
    if isinstance(shape, dict):
        return {k: batch_shapes(v, has_batch) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict)):
        return type(shape)(batch_shapes(s, has_batch) for s in shape)
    shape = tuple(shape)
    if has_batch is False or (has_batch is None and (not shape or shape[0] is not None)):
        shape = (None,) + shape
    return shape


def zeros_like_shapes(shapes):
    """A batch of one example of zeros for every input shape in `shapes` (to build a model eagerly).

    Args:
        shapes: a shape (with batch axis), or a dict / list of them.
    """
    if isinstance(shapes, dict):
        return {k: zeros_like_shapes(v) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)) and shapes and isinstance(shapes[0], (list, tuple, dict)):
        return [zeros_like_shapes(v) for v in shapes]
    if any(d is None for d in shapes[1:]):
        raise ValueError(f"Cannot build the model from an input shape with unknown dimensions: {tuple(shapes)}")
    return keras.ops.zeros((1,) + tuple(shapes[1:]))


def build_from_spec(model, x_spec):
    """Builds `model` from a data set's input spec (under its distribution strategy)."""
    if model.built:
        return
    with strategy_scope(model):
        shapes = keras.tree.map_structure(lambda s: (None,) + tuple(s.shape)[1:], x_spec)
        if model.is_per_task_input(x_spec):
            for name in model.task_names:
                shapes.setdefault(name, next(iter(shapes.values())))
        model.build(shapes)


def strategy_scope(model):
    """The scope of the model's `tf.distribute` strategy (TensorFlow backend), or an empty context (JAX)."""
    strategy = getattr(model, "distribute_strategy", None)
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def keyed_by_tasks(inputs, task_names):
    """Whether `inputs` is a dict keyed by task names (multi-input mode); raises for a dict mixing other keys."""
    if not isinstance(inputs, dict) or not inputs:
        return False
    keys, names = set(inputs), set(task_names)
    if keys <= names:
        return True
    if keys & names:
        raise ValueError(f"Received inputs for tasks the model does not have: {sorted(keys - names)}. Model tasks: {task_names}")
    return False


# ---------------------------------------------------------------------------- compile checks
def compiled_weighting(tasks, weighting, loss=None, metrics=None):
    """The weighting strategy `compile()` sets up for `tasks`, after checking `compile()`'s arguments."""
    from mtl_keras import weighting as weighting_module

    if loss is not None or metrics is not None:
        raise ValueError(
            "MultiTaskModel takes its losses and metrics from its Tasks (Task(loss=..., metrics=...)); "
            f"do not pass loss or metrics to compile(). Received: loss={loss!r}, metrics={metrics!r}"
        )
    strategy = weighting_module.get(weighting)
    strategy.configure(tasks)
    check_backend(strategy, tasks)
    check_weights_train_something(strategy, tasks)
    return strategy


def check_backend(weighting, tasks):
    """Refuses a weighting strategy that the running Keras backend cannot train with yet, naming both.

    On JAX: loss-level strategies marked for it (`Weighting.backends`), and parameter-level
    gradient strategies without state (their maths runs on the host, see
    `mtl_keras/training/jax/gradients.py`).
    """
    from mtl_keras.training import backend

    running = backend.name()
    if running in weighting.backends:
        return
    name = type(weighting).__name__
    if not weighting.uses_gradients:
        raise backend.unavailable(name, "loss-level weighting")
    if weighting.uses_representation:
        raise backend.unavailable(f"{name} with uses_representation=True", "representation-level gradient weighting")
    probe = type(weighting).from_config(weighting.get_config())
    probe.configure(tasks)
    probe.build((len(tasks), 1))
    if probe.variables:
        raise backend.unavailable(name, "gradient-level weighting with state")


def check_weights_train_something(weighting, tasks):
    """Refuses fixed weights that are all zero: such a model would train nothing, silently."""
    values = None if weighting.adaptive else getattr(weighting, "values", None)
    if values is not None and len(values) and all(float(w) == 0.0 for w in values):
        received = {t.name: float(w) for t, w in zip(tasks, values)}
        raise ValueError(f"Every task weight is 0, so training would change nothing. Received: weights={received}")


# ---------------------------------------------------------------------------- fit
def training_data(model, x, y, kwargs, callbacks=None):
    """Checks and prepares the training (and validation) data of `fit`.

    Returns:
        `(x, y, kwargs, callbacks)`: what to hand to `keras.Model.fit`, and callbacks to add.
    """
    kwargs = dict(kwargs)
    arguments.check_fit_arguments(kwargs)
    extra = []
    stream = getattr(x, "mtl_stream", None)
    if stream is not None:
        check_stream(model, stream, training=True)
        steps = kwargs.pop("steps_per_epoch", None) or stream.steps_per_epoch
        sampling = None
        if model.tasks_per_step < len(model.tasks):
            sampling = Sampling(model.sampler, model.tasks_per_step, model.seed)
        resumable = any(isinstance(c, keras.callbacks.BackupAndRestore) for c in callbacks or [])
        choose_steps_per_execution(model, steps, callbacks)
        if steps % model.steps_per_execution == 0:
            # One endless stream for the whole run (a new iterator every epoch costs tens of ms).
            x = stream.training_dataset(sampling, steps_per_epoch=steps, resumable=resumable, endless=True)
            kwargs["steps_per_epoch"] = steps
        else:  # Keras would run whole calls past the epoch's end: one pass per epoch instead
            x = stream.training_dataset(sampling, steps_per_epoch=steps, resumable=resumable)
        extra.append(SyncDataPosition(stream, steps))
        kwargs.setdefault("shuffle", False)
        _prepare(model, x, training=True)
        model.epoch_origin.assign(int(model.optimizer.iterations.numpy()) - int(kwargs.get("initial_epoch", 0)) * steps)
    elif isinstance(x, tf.data.Dataset):
        _prepare(model, x, training=True)
        x = checks.with_value_checks(x, model.tasks, model.is_per_task_input(x.element_spec[0]))
        kwargs.setdefault("shuffle", False)
    elif x is not None:
        check_arrays(model, x, y, kwargs.get("sample_weight"), training=True)
    if "validation_data" in kwargs and kwargs["validation_data"] is not None:
        kwargs["validation_data"], _ = evaluation_data(model, kwargs["validation_data"], None)
    if model.label_scaler is not None and not model.label_scaler.adapted:
        source = stream if stream is not None else (x if isinstance(x, tf.data.Dataset) else y)
        if source is not None:
            model.label_scaler.adapt(scaling_labels(model, source))
    return x, y, kwargs, extra


def choose_steps_per_execution(model, steps_per_epoch, callbacks=None, most=32):
    """Sets a model's `steps_per_execution` (when compiled without one) to the largest divisor of the epoch up to `most`.

    Running several steps per call of the compiled function saves the Python loop's overhead of
    each step (results are the same). It stays 1 under a `tf.distribute` strategy (TensorFlow
    refuses more there) and when one of the user's own callbacks has a per-batch hook, so that
    the hook sees every batch as it would without this choice.
    """
    if not getattr(model, "auto_steps_per_execution", False):
        return
    chosen = 1
    if (
        not tf.distribute.has_strategy()
        and getattr(model, "distribute_strategy", tf.distribute.get_strategy()) is tf.distribute.get_strategy()
        and not model.run_eagerly
        and not any(wants_every_batch(c) for c in callbacks or [])
    ):
        chosen = max(d for d in range(1, min(most, steps_per_epoch) + 1) if steps_per_epoch % d == 0)
    if chosen != model.steps_per_execution:
        model.steps_per_execution = chosen
        model.train_function = None  # rebuilt by fit with the new count


_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")


def wants_every_batch(callback):
    """Whether `callback` is a user's own callback with a per-batch training hook.

    Keras's and this library's callbacks count batches correctly when several run per call; a
    user's hook may rely on seeing each batch index, so it keeps one step per call.
    """
    module = type(callback).__module__ or ""
    if module.split(".")[0] in ("keras", "mtl_keras", "tensorflow", "tf_keras", "keras_tuner"):
        return False
    return any(getattr(type(callback), hook, None) is not getattr(keras.callbacks.Callback, hook) for hook in _BATCH_HOOKS)


def training_callbacks(model, callbacks, extra, terminate_on_nan):
    """The user's callbacks with the model's own: the stream's position keeper first, the NaN check last."""
    callbacks = list(callbacks or [])
    if terminate_on_nan and not any(isinstance(c, TerminateOnNaNTask) for c in callbacks):
        callbacks.append(TerminateOnNaNTask())
    if any(isinstance(c, keras.callbacks.BackupAndRestore) for c in callbacks):
        # A restored run may start mid-epoch: end that epoch after the steps it had left.
        extra = [SyncDataPositionExact(c.stream, c.steps_per_epoch) if type(c) is SyncDataPosition else c for c in extra]
    return list(extra) + callbacks


def evaluation_data(model, x, y):
    """Checks and prepares the data of `evaluate` (or `fit`'s validation data)."""
    stream = getattr(x, "mtl_stream", None)
    if stream is not None:
        check_stream(model, stream, training=False)
        x = stream.evaluation_dataset()
        _prepare(model, x, training=False)
        return x, y
    if isinstance(x, tuple) and len(x) in (2, 3) and not isinstance(x[0], tf.data.Dataset):
        check_arrays(model, x[0], x[1], x[2] if len(x) == 3 else None, training=False)
        return x, y
    if isinstance(x, tf.data.Dataset):
        _prepare(model, x, training=False)
        return checks.with_value_checks(x, model.tasks, model.is_per_task_input(x.element_spec[0])), y
    if x is not None:
        check_arrays(model, x, y, None, training=False)
    return x, y


def _prepare(model, dataset, training):
    """Checks a `tf.data` stream's structure against the tasks and builds the model (and optimizer) from it."""
    spec = dataset.element_spec
    per_task = isinstance(spec, tuple) and model.is_per_task_input(spec[0])
    checks.check_element_spec(model.tasks, spec, training, per_task)
    if dataset.cardinality() == 0:
        raise ValueError("The data set is empty (cardinality 0).")
    build_from_spec(model, spec[0])
    if model.compiled:
        with strategy_scope(model):
            model.build_optimizer()


def check_stream(model, stream, training):
    """Checks a `mtl_keras.data` stream's names and label values against the model's tasks (once)."""
    key = tuple(repr(t.get_config()) for t in model.tasks) + (training,)
    if key in stream.checked:
        return
    checks.check_task_names(stream.task_names, model.tasks, training=training)
    by_name = {t.name: t for t in model.tasks}
    for name in stream.task_names:
        group = stream.groups[stream.task_groups[name]]
        labels, weights = group.labels[name].numpy(), group.weights[name].numpy()
        by_name[name].check_labels(labels[weights > 0], allow_empty=True)
    stream.checked.add(key)


def check_arrays(model, x, y, sample_weight, training):
    """Checks arrays given to `fit` / `evaluate` directly: labels a dict by task, values that fit the heads."""
    if not isinstance(y, dict):
        raise ValueError(f"MultiTaskModel expects labels as a dict {{task_name: labels}}. Received: {type(y).__name__}")
    checks.check_task_names(list(y), model.tasks, training=training)
    if isinstance(sample_weight, dict) and set(sample_weight) - set(y):
        raise ValueError(f"sample_weight names tasks with no labels here: {sorted(set(sample_weight) - set(y))}. Labels: {sorted(y)}")
    by_name = {t.name: t for t in model.tasks}
    per_task = model.is_per_task_input(x)
    for name, labels in y.items():
        inputs = x[name] if per_task else x
        weights = sample_weight.get(name) if isinstance(sample_weight, dict) else sample_weight
        checks.check_task_arrays(name, inputs, labels, weights, by_name[name])
        _check_input_width(model, name, inputs, per_task)


def _check_input_width(model, name, inputs, per_task):
    """Raises when an array's example shape differs from the one the model was built for."""
    built = getattr(model, "built_input_shape", None) if model.built else None
    built = built.get(name) if isinstance(built, dict) and per_task else (None if isinstance(built, dict) else built)
    shape = getattr(inputs, "shape", None)
    if built is None or shape is None or not isinstance(built, tuple) or len(shape) != len(built):
        return
    if any(b is not None and s != b for s, b in zip(tuple(shape)[1:], built[1:])):
        raise ValueError(f"Task '{name}': inputs of shape {tuple(shape)} for a model built for inputs of shape {built}.")


@contextlib.contextmanager
def data_errors():
    """Turns a failed in-pipeline data check into the `ValueError` it stands for."""
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        clean = checks.as_value_error(error)
        if clean is None:
            raise
        raise clean from None


# ---------------------------------------------------------------------------- label scaling
def scaling_labels(model, data, steps=100):
    """Per scaled task, its labelled values (missing and masked labels left out), from data of any kind."""
    names = model.label_scaler.task_names
    by_name = {t.name: t for t in model.tasks}
    collected = {name: [] for name in names}
    stream = getattr(data, "mtl_stream", data if hasattr(data, "groups") else None)
    if stream is not None:
        for name in names:
            if name in stream.task_groups:
                group = stream.groups[stream.task_groups[name]]
                collected[name].append((group.labels[name].numpy(), group.weights[name].numpy()))
    elif isinstance(data, tf.data.Dataset):
        for element in data.take(steps):
            weights = element[2] if len(element) > 2 and isinstance(element[2], dict) else {}
            for name in names:
                if name in element[1]:
                    w = weights.get(name)
                    collected[name].append((np.asarray(element[1][name]), None if w is None else np.asarray(w)))
    else:
        for name in names:
            if name in data:
                collected[name].append((np.asarray(data[name]), None))
    result = {}
    for name, parts in collected.items():
        if not parts:
            continue
        values = np.concatenate([v.reshape(len(v), -1).astype("float64") for v, _ in parts])
        keep = np.concatenate([np.ones(len(v), bool) if w is None else np.asarray(w).reshape(-1) > 0 for v, w in parts])
        missing = by_name[name].missing_label
        if missing is not None:
            keep &= ~(np.isnan(values).any(axis=1) if missing == "nan" else (values == float(missing)).any(axis=1))
        if not keep.any():
            raise ValueError(f"Task '{name}': no labels to adapt label scaling from.")
        result[name] = values[keep]
    return result
