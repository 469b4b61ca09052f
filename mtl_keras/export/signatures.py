"""Serving signatures of a `MultiTaskModel`: named input specs and the functions behind them.

`build_signatures(model)` returns, by signature name, the function to trace and its input
signature (named `tf.TensorSpec`s). `mtl_keras.export.export_saved_model` registers them on a
`keras.export.ExportArchive`; see `mtl_keras.export` for the table of signatures.
"""

import keras
import numpy as np
import tensorflow as tf

from mtl_keras.layers.base import TaskAwareLayer

#: Name of the shared input (a single tensor) in every signature.
INPUT_NAME = "inputs"
#: Name of the task id input of `serve_by_task_id`.
TASK_ID_NAME = "task_id"
#: Name of the output of `serve_by_task_id`.
BY_TASK_ID_OUTPUT = "outputs"
#: Name of the signature that routes each example to the task given by its id.
BY_TASK_ID = "serve_by_task_id"
#: The default signature (TensorFlow Serving's default).
DEFAULT = "serving_default"


def task_signature_name(task_name):
    """The name of the signature serving one task: `serve_<task>`."""
    return f"serve_{task_name}"


class SignatureSet:
    """The signatures of one model, traced.

    Attributes:
        functions: dict `{signature name: tf.function}` (with a fixed input signature) in export order
            (`serving_default`, then `serve_<task>` in task order, then `serve_by_task_id`).
        per_task_inputs: whether the model takes one input per task (multi-input model).
        by_task_id_mode: how `serve_by_task_id` computes its output: `"conditioned"` (one pass of
            a body that takes per-example task ids), `"select"` (every task computed, each
            example's row picked by its id) or `None` (no such signature).
        by_task_id_reason: why there is no `serve_by_task_id` (empty when there is one).
    """

    def __init__(self, functions, per_task_inputs, by_task_id_mode, by_task_id_reason):
        self.functions = functions
        self.per_task_inputs = per_task_inputs
        self.by_task_id_mode = by_task_id_mode
        self.by_task_id_reason = by_task_id_reason


# ---------------------------------------------------------------------------- input specs
def _shape_from_build(model):
    shapes = model.get_build_config() or {}
    if "input_shape" in shapes:
        return shapes["input_shape"]
    if getattr(model, "_input_shape_arg", None) is not None:
        return model._input_shape_arg
    return None


def _is_shape(value):
    return isinstance(value, (tuple, list, tf.TensorShape)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in value
    )


def _to_spec(value, name, dtype):
    """A named `tf.TensorSpec` with a free batch axis from a shape, `TensorSpec`, `InputSpec` or tensor."""
    if isinstance(value, tf.TensorSpec):
        shape, spec_dtype = value.shape, value.dtype
    elif isinstance(value, keras.InputSpec):
        shape, spec_dtype = value.shape, value.dtype or dtype
    elif isinstance(value, keras.KerasTensor) or tf.is_tensor(value) or isinstance(value, np.ndarray):
        shape, spec_dtype = value.shape, value.dtype
    elif _is_shape(value):
        shape, spec_dtype = value, dtype
    else:
        raise ValueError(
            f"Cannot make an input spec for '{name}' from {value!r}: give a shape (without or with the batch "
            "axis), a tf.TensorSpec or a keras.InputSpec."
        )
    shape = tuple(None if d is None else int(d) for d in tf.TensorShape(shape).as_list())
    return tf.TensorSpec((None,) + shape[1:] if shape else (None,), tf.as_dtype(spec_dtype), name=name)


def _with_batch(shape):
    shape = tuple(shape)
    return shape if shape and shape[0] is None else (None,) + shape


def _structure_specs(structure, base_name, dtype):
    """Named specs for a shared input: one tensor (`inputs`), a flat dict (by key) or a list (`inputs_<i>`)."""
    if isinstance(structure, dict):
        bad = [k for k, v in structure.items() if not isinstance(k, str) or isinstance(v, (dict,))]
        if bad:
            raise ValueError(
                f"Cannot export inputs nested deeper than one dict level (keys {bad}); pass input_signature."
            )
        return {k: _leaf_spec(v, k, dtype) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)) and not _is_shape(structure):
        return [_leaf_spec(v, f"{base_name}_{i}", dtype) for i, v in enumerate(structure)]
    return _leaf_spec(structure, base_name, dtype)


def _leaf_spec(value, name, dtype):
    if _is_shape(value):
        value = _with_batch(value)
    return _to_spec(value, name, dtype)


def input_specs(model, input_signature=None, dtype="float32"):
    """Named input specs of a built `MultiTaskModel`: `(specs, per_task_inputs)`.

    For a shared-input model `specs` is one `tf.TensorSpec` named `inputs` (or a dict of specs
    named by feature, or a list named `inputs_<i>`, when the model takes a structure of
    features); for a multi-input model it is a dict `{task: spec}`, each spec named by its task.
    The batch axis is always free (`None`); the other axes are those the model was built for.

    Args:
        model: a built `MultiTaskModel`.
        input_signature: optional override of the model's build shapes: a shape, `tf.TensorSpec`
            or `keras.InputSpec` (or a structure of them, a dict by task for a multi-input model).
            Names given here are replaced by the standard names above.
        dtype: the input dtype when only shapes are known. Defaults to `"float32"`.
    """
    structure = input_signature if input_signature is not None else _shape_from_build(model)
    if structure is None:
        raise ValueError(
            f"Model '{model.name}' has no recorded input shape. Build it with input_shape=... (or fit it), "
            "or pass input_signature=... to the export."
        )
    per_task = isinstance(structure, dict) and model.is_per_task_input(structure)
    if per_task:
        missing = [t for t in model.task_names if t not in structure]
        if missing:
            raise ValueError(
                f"Model '{model.name}' takes one input per task but has no input shape for tasks {missing}; "
                "pass input_signature={task: shape, ...} for every task."
            )
        return {name: _leaf_spec(structure[name], name, dtype) for name in model.task_names}, True
    return _structure_specs(structure, INPUT_NAME, dtype), False


# ---------------------------------------------------------------------------- forward passes
def check_inputs(inputs, spec, signature="", check_finite=True):
    """`inputs` after run-time checks of their shapes against `spec` and, optionally, of their values.

    A signature's placeholders carry the expected shape, but a loaded SavedModel does not check it
    at call time: a wrong width or rank would fail deep inside a layer with a matrix-size message.
    The shape check fails first with `Shape of tensor <input> [..] is not compatible with expected
    shape [?, ..]`. With `check_finite`, a floating input holding NaN or inf fails with
    `<signature>: input '<name>' holds NaN or inf ...` (an `InvalidArgumentError` whose message ends
    with `Tensor had NaN values` or `Tensor had Inf values`) instead of giving finite-looking
    outputs computed from garbage.
    """

    def check(x, s):
        x = tf.ensure_shape(x, s.shape)
        if check_finite and x.dtype.is_floating:
            x = tf.debugging.check_numerics(
                x,
                f"{signature}: input '{s.name}' holds NaN or inf; every input value must be finite "
                "(replace missing values before serving)",
            )
        return x

    return tf.nest.map_structure(check, inputs, spec)


def _finalize(model, index, raw):
    out = model.finalize_output(model.tasks[index], raw)
    return tf.cast(out, tf.float32) if out.dtype.is_floating and out.dtype != tf.float32 else out


def task_output(model, inputs, index):
    """Task `index`'s output (natural units) for a batch of its inputs, computing that task only.

    The same path as `MultiTaskModel` for one task: the body with `task_index=index` (a
    task-aware body) or once (a shared body), then head `index`, then `finalize_output`
    (softmax / sigmoid / label scaling's inverse).
    """
    body = model.body
    if body is None:
        h = inputs
    elif isinstance(body, TaskAwareLayer):
        h = body(inputs, task_index=index, training=False)
    else:
        h = body(inputs, training=False)
    return _finalize(model, index, model.heads(h, task_index=index, training=False))


def _all_heads(model, features):
    """Every task's finalized output on one feature (or a list of one feature per task)."""
    features = features if isinstance(features, (list, tuple)) else [features] * len(model.tasks)
    return [_finalize(model, i, model.heads(h, task_index=i, training=False)) for i, h in enumerate(features)]


def _shared_outputs(model, inputs):
    body = model.body
    if body is None:
        h = inputs
    elif isinstance(body, TaskAwareLayer):
        h = body(inputs, training=False)
    else:
        h = body(inputs, training=False)
    return _all_heads(model, h)


def _checked_task_ids(model, task_id, inputs):
    """`task_id` after in-graph checks of its range and its length against the batch."""
    num_tasks = len(model.tasks)
    legend = ", ".join(f"{i}={name}" for i, name in enumerate(model.task_names))
    first = tf.nest.flatten(inputs)[0]
    checks = [
        tf.debugging.assert_non_negative(
            task_id, message=f"{BY_TASK_ID}: task_id must be in [0, {num_tasks}) ({legend}); got a negative id"
        ),
        tf.debugging.assert_less(
            task_id,
            tf.constant(num_tasks, task_id.dtype),
            message=f"{BY_TASK_ID}: task_id must be in [0, {num_tasks}) ({legend}); got an id >= {num_tasks}",
        ),
        tf.debugging.assert_equal(
            tf.shape(task_id)[0],
            tf.shape(first)[0],
            message=f"{BY_TASK_ID}: task_id must hold one id per example (shape (batch,)); its length differs from the batch of '{INPUT_NAME}'",
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(task_id)


def _select(outputs, task_id):
    """Row `j` of `outputs[task_id[j]]`: stacks the tasks' outputs on axis 1 and gathers per example."""
    stacked = tf.stack(outputs, axis=1)
    return tf.gather(stacked, task_id, axis=1, batch_dims=1)


def _random_batch(spec, rng, batch):
    def one(s):
        shape = [batch] + [d if d is not None else 2 for d in s.shape.as_list()[1:]]
        if s.dtype.is_floating:
            return tf.constant(rng.normal(size=shape), dtype=s.dtype)
        return tf.zeros(shape, s.dtype)

    return tf.nest.map_structure(one, spec)


def _trace(fn, signature):
    """`fn` as a `tf.function` with a fixed input signature, traced once (reused by the export)."""
    function = tf.function(fn, input_signature=signature, autograph=False)
    function.get_concrete_function()
    return function


# ---------------------------------------------------------------------------- the signatures
def build_signatures(model, input_signature=None, by_task_id="auto", dtype="float32", verify=True, check_finite=True):
    """The serving functions of a built `MultiTaskModel`, traced, with named input signatures.

    Args:
        model: a built `mtl_keras.MultiTaskModel`.
        input_signature: optional override of the input specs (see `input_specs`).
        by_task_id: `"auto"` (default) adds `serve_by_task_id` when the tasks' outputs have the same
            shape and all tasks take the same input; `True` requires it (raises if impossible);
            `False` leaves it out.
        dtype: input dtype when only shapes are known. Defaults to `"float32"`.
        verify: check, on a small random batch, that a body fed per-example task ids gives the
            same outputs as `serving_default` before serving `serve_by_task_id` with one
            conditioned pass (otherwise the signature computes every task and selects).
            Defaults to `True`.
        check_finite: make every signature fail, naming itself and the input, when a floating
            input holds NaN or inf (`InvalidArgumentError`). Defaults to `True`.

    Returns:
        A `SignatureSet` whose `functions` are `tf.function`s with their input signature, each
        traced once.
    """
    if by_task_id not in ("auto", True, False):
        raise ValueError(f"by_task_id must be 'auto', True or False. Received: by_task_id={by_task_id!r}")
    spec, per_task = input_specs(model, input_signature, dtype)
    functions = {DEFAULT: _trace(_default_function(model, spec, per_task, check_finite), [spec])}
    for i, name in enumerate(model.task_names):
        task_spec = tf.TensorSpec(spec[name].shape, spec[name].dtype, name=INPUT_NAME) if per_task else spec
        functions[task_signature_name(name)] = _trace(_task_function(model, i, task_spec, check_finite), [task_spec])

    mode, reason = None, ""
    if by_task_id is not False:
        mode, reason, function = _by_task_id_plan(model, spec, per_task, functions[DEFAULT], verify, check_finite)
        if mode is None and by_task_id is True:
            raise ValueError(f"Cannot add the {BY_TASK_ID} signature to model '{model.name}': {reason}")
        if function is not None:
            functions[BY_TASK_ID] = function
    return SignatureSet(functions, per_task, mode, reason)


def _default_function(model, spec, per_task, check_finite):
    names = model.task_names

    def serving_default(inputs):
        inputs = check_inputs(inputs, spec, DEFAULT, check_finite)
        if per_task:
            return {name: task_output(model, inputs[name], i) for i, name in enumerate(names)}
        return dict(zip(names, _shared_outputs(model, inputs)))

    return serving_default


def _task_function(model, index, spec, check_finite):
    name = model.task_names[index]

    def serve_task(inputs):
        return {name: task_output(model, check_inputs(inputs, spec, task_signature_name(name), check_finite), index)}

    serve_task.__name__ = task_signature_name(name)
    return serve_task


def _by_task_id_plan(model, spec, per_task, default, verify, check_finite):
    """Returns `(mode, reason, traced function)` of `serve_by_task_id`; `mode` is `None` when impossible."""
    if per_task:
        specs = [spec[name] for name in model.task_names]
        first = specs[0]
        if any(s.shape != first.shape or s.dtype != first.dtype for s in specs[1:]):
            return None, "the tasks take inputs of different shapes or dtypes", None
        id_spec = tf.TensorSpec(first.shape, first.dtype, name=INPUT_NAME)
    else:
        id_spec = spec
    outputs = default.get_concrete_function().structured_outputs
    shapes = [tuple(outputs[name].shape.as_list()[1:]) for name in model.task_names]
    if any(s != shapes[0] for s in shapes[1:]):
        listed = ", ".join(f"{n}: {s}" for n, s in zip(model.task_names, shapes))
        return None, f"the tasks' outputs differ in shape ({listed}); one output tensor cannot hold them", None
    signature = [id_spec, tf.TensorSpec((None,), tf.int32, name=TASK_ID_NAME)]
    if isinstance(model.body, TaskAwareLayer):
        try:
            function = _trace(_by_task_id_function(model, "conditioned", id_spec, check_finite), signature)
        except Exception:  # noqa: BLE001 - a body that cannot trace with id tensors: compute every task and select
            function = None
        if function is not None and (not verify or _matches_default(model, id_spec, per_task, function, default)):
            return "conditioned", "", function
    return "select", "", _trace(_by_task_id_function(model, "select", id_spec, check_finite), signature)


def _matches_default(model, spec, per_task, function, default, atol=1e-4):
    """Whether `serve_by_task_id` gives, on a small random batch, the rows of `serving_default`."""
    names = model.task_names
    batch = max(3, len(names))
    x = _random_batch(spec, np.random.default_rng(0), batch)
    ids = np.arange(batch) % len(names)
    try:
        got = function(x, tf.constant(ids, tf.int32))[BY_TASK_ID_OUTPUT].numpy()
        everything = default({name: x for name in names} if per_task else x)
    except Exception:  # noqa: BLE001 - a body that cannot run with id tensors: fall back to selection
        return False
    want = np.stack([everything[name].numpy() for name in names], axis=1)[np.arange(batch), ids]
    return got.shape == want.shape and bool(np.allclose(got, want, atol=atol, rtol=1e-4))


def _by_task_id_function(model, mode, spec, check_finite):
    def serve_by_task_id(inputs, task_id):
        inputs = check_inputs(inputs, spec, BY_TASK_ID, check_finite)
        task_id = _checked_task_ids(model, task_id, inputs)
        if mode == "conditioned":
            features = model.body(inputs, task_index=task_id, training=False)
            outputs = _all_heads(model, features)
        else:
            outputs = _shared_outputs(model, inputs)  # every task on the whole batch (the body once if shared)
        return {BY_TASK_ID_OUTPUT: _select(outputs, task_id)}

    return serve_by_task_id
