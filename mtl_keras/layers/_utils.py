"""Private helpers shared by the sharing layers: task ids, per-task rows, layer copies."""

import copy

import keras
import numpy as np
import tensorflow as tf


def check_task_ids(layer, task_index):
    """Validates a task index: a Python int, or an int tensor of shape `(batch,)` (one task per example).

    Returns the int unchanged or the ids as an `int32` tensor of shape `(batch,)`. Out-of-range ids
    raise a `ValueError` quoting them when they are known (Python ints, eager tensors); in a traced
    graph an assertion checks them at run time.
    """
    if isinstance(task_index, (int, np.integer)) and not isinstance(task_index, bool):
        task_index = int(task_index)
        layer.check_task_index(task_index)
        return task_index
    ids = keras.ops.convert_to_tensor(task_index)
    if "int" not in str(ids.dtype):
        raise ValueError(f"{layer.name}: task ids must be integers. Received: task_index with dtype={ids.dtype}")
    if len(ids.shape) == 2 and ids.shape[-1] == 1:
        ids = keras.ops.squeeze(ids, axis=-1)
    if len(ids.shape) != 1:
        raise ValueError(
            f"{layer.name}: a task id tensor must have shape (batch,), one task per example. "
            f"Received: task_index with shape={tuple(ids.shape)}"
        )
    ids = keras.ops.cast(ids, "int32")
    if isinstance(ids, keras.KerasTensor):
        return ids
    if tf.executing_eagerly():
        values = np.asarray(ids)
        bad = values[(values < 0) | (values >= layer.num_tasks)]
        if bad.size:
            raise ValueError(
                f"{layer.name}: task ids must be in [0, {layer.num_tasks}). Received: task_index with values {sorted(set(bad.tolist()))}"
            )
    else:
        message = f"{layer.name}: task ids must be in [0, {layer.num_tasks})."
        with tf.control_dependencies(
            [
                tf.debugging.assert_non_negative(ids, message=message),
                tf.debugging.assert_less(ids, layer.num_tasks, message=message),
            ]
        ):
            ids = tf.identity(ids)
    return ids


def take_rows(rows, task_index):
    """Row `task_index` of per-task vectors `rows` (a list of `(d,)` variables).

    A Python int gives a `(d,)` tensor; an id tensor of shape `(batch,)` gives `(batch, d)`.
    """
    if isinstance(task_index, int):
        return keras.ops.convert_to_tensor(rows[task_index])
    table = keras.ops.stack([r.value for r in rows], axis=0)
    return keras.ops.take(table, task_index, axis=0)


def broadcast_like(vector, feature):
    """Reshapes a `(d,)` or `(batch, d)` vector so it broadcasts over `feature`'s last axis.

    `(batch, d)` against a feature map `(batch, h, w, d)` becomes `(batch, 1, 1, d)`.
    """
    rank = len(feature.shape)
    if len(vector.shape) == 2 and rank > 2:
        vector = keras.ops.reshape(vector, (-1,) + (1,) * (rank - 2) + (vector.shape[-1],))
    return vector


def check_channels(layer, feature, expected):
    """Raises if the last axis of `feature` is not the `expected` size the layer was built for."""
    channels = feature.shape[-1]
    if expected is not None and channels is not None and channels != expected:
        raise ValueError(
            f"{layer.name} ({type(layer).__name__}) was built for features with {expected} channels (last axis). "
            f"Received: channels={channels} (input shape {tuple(feature.shape)})"
        )


def make_copies(layer_config, num_tasks, prefix):
    """`num_tasks` fresh layers from a serialized layer, named `<prefix>_task<i>`.

    Each copy is made from the config, so it has its own, independently initialised weights.
    """
    copies = []
    for i in range(num_tasks):
        config = copy.deepcopy(layer_config)
        if isinstance(config.get("config"), dict):
            config["config"]["name"] = f"{prefix}_task{i}"
        copies.append(keras.saving.deserialize_keras_object(config))
    return copies


def output_shape_of(layer, input_shape):
    """Output shape of a (built) Keras layer or model for `input_shape`, by a symbolic call."""
    spec = layer.compute_output_spec(keras.KerasTensor(tuple(input_shape)))
    return tuple(spec.shape)


def split_inputs(layer, inputs):
    """Per-task inputs: a list of `num_tasks` tensors as given, or one tensor repeated."""
    if isinstance(inputs, (list, tuple)):
        if len(inputs) != layer.num_tasks:
            raise ValueError(
                f"{layer.name}: expected one input per task ({layer.num_tasks}) or a single shared input. "
                f"Received: {len(inputs)} inputs"
            )
        return list(inputs)
    return [inputs] * layer.num_tasks


def split_shapes(layer, input_shape):
    """`split_inputs` for shapes."""
    if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
        if len(input_shape) != layer.num_tasks:
            raise ValueError(
                f"{layer.name}: expected one input per task ({layer.num_tasks}) or a single shared input. "
                f"Received: {len(input_shape)} input shapes"
            )
        return [tuple(s) for s in input_shape]
    return [tuple(input_shape)] * layer.num_tasks


def make_mlp(units, activation, kernel_initializer, name):
    """A `keras.Sequential` of `Dense` layers of sizes `units` (an expert or a tower)."""
    return keras.Sequential(
        [keras.layers.Dense(u, activation=activation, kernel_initializer=kernel_initializer, name=f"dense{j}") for j, u in enumerate(units)],
        name=name,
    )


def check_units(owner, name, units):
    """Validates a non-empty list of positive layer sizes and returns it as a list of ints."""
    units = [units] if isinstance(units, int) else list(units)
    if not units or any(int(u) != u or u < 1 for u in units):
        raise ValueError(f"{owner}: {name} must be a non-empty list of positive integers. Received: {name}={units}")
    return [int(u) for u in units]


def mix(gate, experts):
    """`Σ_e gate[..., e] · experts[e]` for gate `(batch, ..., E)` and `E` expert outputs `(batch, ..., u)`."""
    stacked = keras.ops.stack(experts, axis=-2)
    return keras.ops.sum(keras.ops.expand_dims(gate, -1) * stacked, axis=-2)
