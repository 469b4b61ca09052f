"""`run_layer_test`: one helper that checks the Keras contract of a layer or model."""

import inspect
import json
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf


def run_layer_test(
    layer_cls,
    init_kwargs=None,
    input_shape=None,
    input_data=None,
    call_kwargs=None,
    expected_output_shape=None,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    run_training_step=True,
    run_saving_test=True,
    check_registered=True,
    seed=0,
    atol=1e-6,
):
    """Checks that a layer (or model) class keeps the Keras layer contract, and returns a built instance.

    In order, for `layer = layer_cls(**init_kwargs)`:

    1. `get_config` → `from_config` → `get_config` gives the same (JSON-serializable) config;
    2. `keras.saving.serialize_keras_object` / `deserialize_keras_object` gives an object of the
       same class and config, and (with `check_registered`) the class is registered for
       serialization, so `.keras` files reload without `custom_objects`;
    3. a symbolic call on `keras.KerasTensor`s (batch size `None`) and an eager call give the same
       output structure and shapes, equal to `compute_output_shape` when the class defines it and
       to `expected_output_shape` when given;
    4. the numbers of trainable and non-trainable weights are the expected ones;
    5. one training step: the gradient of a random linear function of the outputs (plus the
       layer's `penalty()` if it has one), applied with SGD, changes some weights;
    6. the layer inside a functional `keras.Model` saved to `.keras` and reloaded with
       `keras.models.load_model` (`safe_mode=True`, no `custom_objects`) gives the same outputs.

    Args:
        layer_cls: the layer or model class.
        init_kwargs: constructor arguments.
        input_shape: shape of the input, with the batch size (a tuple, or a list/dict of tuples
            for several inputs); random normal data of that shape is used.
        input_data: the input itself (array, or a list/dict of arrays), instead of `input_shape`.
        call_kwargs: keyword arguments of the call. Arrays and tensors among them (e.g. per-example
            task ids) become inputs of the saved model; the rest (e.g. `task_index=1`) are passed as is.
        expected_output_shape: the eager output shape(s), in the output's structure.
        expected_num_trainable_weights: the expected `len(layer.trainable_weights)`.
        expected_num_non_trainable_weights: the expected `len(layer.non_trainable_weights)`.
        run_training_step: whether to run step 5.
        run_saving_test: whether to run step 6.
        check_registered: whether to require registration for serialization.
        seed: seed of the random input data and of the loss's random coefficients.
        atol: tolerance of the output comparisons.

    Returns:
        The eagerly called (built) layer, for further checks.
    """
    init_kwargs = dict(init_kwargs or {})
    call_kwargs = dict(call_kwargs or {})
    rng = np.random.default_rng(seed)
    if input_data is None:
        if input_shape is None:
            raise ValueError("run_layer_test needs input_shape or input_data.")
        input_data = keras.tree.map_shape_structure(lambda s: rng.standard_normal(s).astype("float32"), input_shape)
    input_data = keras.tree.map_structure(lambda a: keras.ops.convert_to_tensor(a), input_data)
    tensor_kwargs = {k: keras.ops.convert_to_tensor(v) for k, v in call_kwargs.items() if _is_array(v)}
    static_kwargs = {k: v for k, v in call_kwargs.items() if k not in tensor_kwargs}

    # 1. config round trip
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    json.dumps(keras.saving.serialize_keras_object(layer))
    revived = layer_cls.from_config(config)
    _assert_equal_configs(revived.get_config(), config, "get_config -> from_config")

    # 2. serialization round trip
    if check_registered:
        name = keras.saving.get_registered_name(layer_cls)
        assert keras.saving.get_registered_object(name) is layer_cls, (
            f"{layer_cls.__name__} is not registered for serialization "
            "(decorate it with @keras.saving.register_keras_serializable)."
        )
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is layer_cls, f"deserialize_keras_object gave a {type(revived).__name__}, not a {layer_cls.__name__}"
    _assert_equal_configs(revived.get_config(), config, "serialize -> deserialize")

    # 3. symbolic and eager calls
    symbolic_layer = layer_cls(**init_kwargs)
    symbolic_inputs = keras.tree.map_structure(_symbolic, input_data)
    symbolic_kwargs = {k: _symbolic(v) for k, v in tensor_kwargs.items()}
    symbolic_output = symbolic_layer(symbolic_inputs, **symbolic_kwargs, **static_kwargs)
    layer = layer_cls(**init_kwargs)
    output = layer(input_data, **tensor_kwargs, **static_kwargs)
    symbolic_shapes = _shapes(symbolic_output)
    eager_shapes = _shapes(output)
    _assert_compatible_shapes(symbolic_shapes, eager_shapes, "symbolic call vs eager call")
    if not _is_default(layer_cls, "compute_output_shape"):
        input_shapes = keras.tree.map_structure(lambda t: tuple(t.shape), input_data)
        accepted = inspect.signature(layer.compute_output_shape).parameters
        shape_kwargs = {k: v for k, v in {**tensor_kwargs, **static_kwargs}.items() if k in accepted}
        computed = _normalise_shapes(layer.compute_output_shape(input_shapes, **shape_kwargs))
        _assert_compatible_shapes(computed, eager_shapes, "compute_output_shape vs eager call")
    if expected_output_shape is not None:
        expected = _normalise_shapes(expected_output_shape)
        assert expected == eager_shapes, f"Output shape: expected {expected}, got {eager_shapes}"

    # 4. weight counts
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights, (
            f"Expected {expected_num_trainable_weights} trainable weights, got {len(layer.trainable_weights)}: "
            f"{[w.path for w in layer.trainable_weights]}"
        )
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights, (
            f"Expected {expected_num_non_trainable_weights} non-trainable weights, got {len(layer.non_trainable_weights)}: "
            f"{[w.path for w in layer.non_trainable_weights]}"
        )

    # 5. one training step
    if run_training_step and layer.trainable_weights:
        _training_step(layer, input_data, {**tensor_kwargs, **static_kwargs}, rng)

    # 6. .keras save and reload
    if run_saving_test:
        _saving_test(layer_cls, init_kwargs, input_data, tensor_kwargs, static_kwargs, atol)
    return layer


def _is_array(value):
    return isinstance(value, (np.ndarray, tf.Tensor, tf.Variable)) or (keras.ops.is_tensor(value))


def _symbolic(tensor):
    return keras.KerasTensor((None,) + tuple(tensor.shape)[1:], dtype=tensor.dtype)


def _is_default(cls, method):
    return getattr(cls, method) is getattr(keras.layers.Layer, method)


def _shapes(outputs):
    return keras.tree.map_structure(lambda t: tuple(t.shape), outputs)


def _normalise_shapes(shapes):
    return keras.tree.map_shape_structure(lambda s: tuple(s), shapes)


def _assert_compatible_shapes(reference, actual, what):
    reference_flat = keras.tree.flatten(keras.tree.map_shape_structure(lambda s: _Shape(s), reference))
    actual_flat = keras.tree.flatten(keras.tree.map_shape_structure(lambda s: _Shape(s), actual))
    assert len(reference_flat) == len(actual_flat), f"{what}: {len(reference_flat)} outputs vs {len(actual_flat)}"
    for ref, act in zip(reference_flat, actual_flat, strict=True):
        ok = len(ref.shape) == len(act.shape) and all(r is None or a is None or r == a for r, a in zip(ref.shape, act.shape, strict=True))
        assert ok, f"{what}: shape {ref.shape} vs {act.shape} (all: {reference} vs {actual})"


class _Shape:
    """A shape wrapped as a leaf, so that `keras.tree.flatten` keeps it whole."""

    def __init__(self, shape):
        self.shape = tuple(shape)


def _assert_equal_configs(actual, expected, what):
    actual = json.loads(json.dumps(actual, default=str))
    expected = json.loads(json.dumps(expected, default=str))
    assert actual == expected, f"{what} changed the config:\n{actual}\n!=\n{expected}"


def _training_step(layer, input_data, call_kwargs, rng):
    before = [keras.ops.convert_to_numpy(v) for v in layer.trainable_weights]
    with tf.GradientTape() as tape:
        outputs = keras.tree.flatten(layer(input_data, training=True, **call_kwargs))
        loss = 0.0
        for out in outputs:
            coefficients = keras.ops.convert_to_tensor(rng.standard_normal(tuple(out.shape)).astype("float32"))
            loss = loss + keras.ops.sum(keras.ops.cast(out, "float32") * coefficients)
        if getattr(layer, "has_penalty", False):
            loss = loss + layer.penalty()
    grads = tape.gradient(loss, layer.trainable_weights)
    pairs = [(g, v) for g, v in zip(grads, layer.trainable_weights, strict=True) if g is not None]
    assert pairs, f"No trainable weight of {layer.name} receives a gradient."
    keras.optimizers.SGD(learning_rate=0.1).apply([g for g, _ in pairs], [v for _, v in pairs])
    changed = [not np.array_equal(b, keras.ops.convert_to_numpy(v)) for b, v in zip(before, layer.trainable_weights, strict=True)]
    assert any(changed), f"A training step did not change any weight of {layer.name}."


def _saving_test(layer_cls, init_kwargs, input_data, tensor_kwargs, static_kwargs, atol):
    layer = layer_cls(**init_kwargs)
    flat_data = keras.tree.flatten(input_data)
    inputs = [keras.Input(batch_shape=(None,) + tuple(t.shape)[1:], dtype=t.dtype) for t in flat_data]
    kw_inputs = {k: keras.Input(batch_shape=(None,) + tuple(t.shape)[1:], dtype=t.dtype) for k, t in tensor_kwargs.items()}
    structured = keras.tree.pack_sequence_as(input_data, inputs)
    outputs = layer(structured, **kw_inputs, **static_kwargs)
    model = keras.Model(inputs + list(kw_inputs.values()), outputs)
    data = flat_data + list(tensor_kwargs.values())
    expected = keras.tree.flatten(model(data))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    assert len(loaded.weights) == len(model.weights), f"Reloaded model has {len(loaded.weights)} weights, not {len(model.weights)}"
    actual = keras.tree.flatten(loaded(data))
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=atol, err_msg="Outputs changed after .keras reload")
    for original, reloaded in zip(model.layers, loaded.layers, strict=True):
        if getattr(original, "has_penalty", False):
            np.testing.assert_allclose(np.asarray(reloaded.penalty()), np.asarray(original.penalty()), rtol=1e-5, atol=atol)
