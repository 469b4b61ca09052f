"""Checks of the arguments of `MultiTaskModel` (construction, `compile`, `fit`, `predict`) that Keras leaves unchecked.

Each check raises a `ValueError` naming the argument (and the task, when there is one) and the
value received, before any training starts: a negative learning rate or a `validation_split` of
1.5 would otherwise train, silently wrong.
"""

import math

import numpy as np

from mtl_keras.data import checks


def check_input_shape(input_shape, task_names):
    """Returns `input_shape` if it is `None`, a tuple of positive sizes, or a dict of them; raises otherwise.

    A dict is keyed by task (one input per task) or by feature (one shared input of named
    features); a dict mixing task names with other keys is ambiguous and refused.
    """
    if input_shape is None:
        return None
    if isinstance(input_shape, dict):
        keys = set(map(str, input_shape))
        if keys & set(task_names) and keys - set(task_names):
            raise ValueError(
                f"input_shape mixes task names with other keys: {sorted(keys - set(task_names))} are not tasks. "
                f"Key it by task (one input per task) or by feature only. Model tasks: {task_names}"
            )
        for name, shape in input_shape.items():
            _check_shape(shape, f"input_shape['{name}']")
        return input_shape
    _check_shape(input_shape, "input_shape")
    return input_shape


def _check_shape(shape, what):
    ok = isinstance(shape, (tuple, list)) and all(
        s is None or (isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1) for s in shape
    )
    if not ok:
        raise ValueError(
            f"{what} must be a tuple of positive integers (one example's shape, without the batch axis), "
            f"e.g. (32,). Received: {what}={shape!r}"
        )


def check_body(body):
    """Raises unless `body` is `None` or callable (a Keras layer or model)."""
    if body is not None and not callable(body):
        raise ValueError(f"body must be a Keras layer or model (or None for heads on the raw input). Received: body={body!r}")


def check_learning_rate(optimizer):
    """Raises when the optimizer's learning rate is a constant that is negative, NaN or infinite (schedules pass)."""
    try:
        rate = optimizer.get_config().get("learning_rate")
    except (AttributeError, NotImplementedError):
        return
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating, np.integer)):
        return  # a schedule (serialized as a dict) or a callable: left to Keras
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(
            f"The optimizer's learning rate must be a finite number >= 0. Received: {type(optimizer).__name__}(learning_rate={rate!r})"
        )


def check_fit_arguments(kwargs):
    """Checks `fit`'s keyword arguments that Keras accepts silently or with an unclear error."""
    if kwargs.get("class_weight") is not None:
        raise ValueError(
            "class_weight is not supported by MultiTaskModel (it has one output per task). Weight tasks with "
            "Task(weight=...) or a weighting strategy, and examples with per-task sample weights "
            "({task: weights}). Received: class_weight=" + repr(kwargs["class_weight"])[:80]
        )
    split = kwargs.get("validation_split")
    if split is not None and (isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 <= split < 1):
        raise ValueError(f"validation_split must be a number in [0, 1). Received: validation_split={split!r}")
    steps = kwargs.get("steps_per_epoch")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1):
        raise ValueError(f"steps_per_epoch must be a positive integer. Received: steps_per_epoch={steps!r}")
    if kwargs.get("batch_size") is not None:
        checks.check_batch_size(kwargs["batch_size"])
    epochs = kwargs.get("epochs")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0):
        raise ValueError(f"epochs must be a non-negative integer. Received: epochs={epochs!r}")


def check_predict_inputs(x, task_names, built_shape):
    """Raises for `predict` inputs keyed by tasks the model lacks (a model built with an input per task) or with no example."""
    built_per_task = isinstance(built_shape, dict) and bool(built_shape) and set(map(str, built_shape)) <= set(task_names)
    if built_per_task and isinstance(x, dict):
        unknown = sorted(set(map(str, x)) - set(task_names))
        if unknown:
            raise ValueError(f"Inputs given for tasks the model does not have: {unknown}. Model tasks: {task_names}")
    first = next(iter(x.values()), None) if isinstance(x, dict) else x
    shape = getattr(first, "shape", None)
    if shape is not None and len(shape) > 0 and shape[0] == 0:
        raise ValueError("predict received inputs with no example (0 rows).")
