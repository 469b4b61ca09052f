"""Conditioning layers: closed forms, the concat ≡ additive equivalence, FiLM at initialisation, errors."""

import keras
import numpy as np
import pytest

from mtl_keras.layers import AdditiveConditioning, ConcatConditioning, FiLM, MultiplicativeConditioning, TaskEmbedding


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_one_hot_embedding_is_the_unit_vector():
    z = _np(TaskEmbedding(3, output_dim=4)(np.array([2, 0])))
    np.testing.assert_array_equal(z, [[0, 0, 1, 0], [1, 0, 0, 0]])


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 3, 4)])
def test_concat_conditioning_equals_dense_then_additive(shape):
    """The notes' claim: W [h; z] + b = (W_h h + b) + W_z z, a linear layer plus a bias per task."""
    h = np.random.default_rng(1).standard_normal(shape).astype("float32")
    concat = ConcatConditioning(num_tasks=3, units=6, bias_initializer="random_normal")
    concat.build(shape)
    kernel, bias = _np(concat.kernel), _np(concat.bias)
    linear = keras.layers.Dense(6)
    linear.build(shape)
    linear.set_weights([kernel[:4], bias])
    additive = AdditiveConditioning(num_tasks=3)
    additive.build(shape[:-1] + (6,))
    for i in range(3):
        additive.bias["rows"][i].assign(kernel[4 + i])  # row i of W_z is task i's bias
    for task in range(3):
        np.testing.assert_allclose(_np(concat(h, task_index=task)), _np(additive(linear(h), task_index=task)), atol=1e-5)
    ids = np.array([2, 0, 1, 1, 0][: shape[0]])
    np.testing.assert_allclose(_np(concat(h, task_index=ids)), _np(additive(linear(h), task_index=ids)), atol=1e-5)
    # and the equivalence is not trivial: different tasks give different outputs
    assert np.abs(_np(concat(h, task_index=0)) - _np(concat(h, task_index=1))).max() > 1e-3


@pytest.mark.parametrize("descriptor", ["one_hot", "learned"])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 3, 5)])
def test_film_is_the_identity_at_initialisation(descriptor, shape):
    h = np.random.default_rng(0).standard_normal(shape).astype("float32")
    film = FiLM(num_tasks=3, descriptor=descriptor)
    for task in (0, 2, np.array([1, 0, 2, 1][: shape[0]])):
        np.testing.assert_array_equal(_np(film(h, task_index=task)), h)
    for y in film(h):
        np.testing.assert_array_equal(_np(y), h)


def test_film_closed_form_per_channel_on_feature_maps():
    film = FiLM(num_tasks=2)
    h = np.random.default_rng(0).standard_normal((2, 3, 3, 4)).astype("float32")
    film.build(h.shape)
    gamma = np.array([1.0, 2.0, -1.0, 0.5], "float32")
    beta = np.array([0.0, 1.0, 2.0, 3.0], "float32")
    film.gamma["rows"][1].assign(gamma)
    film.beta["rows"][1].assign(beta)
    np.testing.assert_allclose(_np(film(h, task_index=1)), gamma * h + beta, atol=1e-6)
    np.testing.assert_array_equal(_np(film(h, task_index=0)), h)  # task 0 untouched
    per_example = _np(film(h, task_index=np.array([1, 0])))
    np.testing.assert_allclose(per_example[0], gamma * h[0] + beta, atol=1e-6)
    np.testing.assert_array_equal(per_example[1], h[1])


def test_multiplicative_and_additive_closed_forms():
    h = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    scale = MultiplicativeConditioning(num_tasks=2)
    scale.build(h.shape)
    scale.scale["rows"][0].assign([2.0, 0.0, 1.0, -1.0])
    np.testing.assert_allclose(_np(scale(h, task_index=0)), h * [2.0, 0.0, 1.0, -1.0], atol=1e-6)
    np.testing.assert_array_equal(_np(scale(h, task_index=1)), h)  # scales start at one
    gate = MultiplicativeConditioning(num_tasks=2, activation="sigmoid")
    np.testing.assert_allclose(_np(gate(h, task_index=1)), 0.5 * h, atol=1e-6)
    shift = AdditiveConditioning(num_tasks=2)
    shift.build(h.shape)
    shift.bias["rows"][1].assign([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(_np(shift(h, task_index=1)), h + [1.0, 2.0, 3.0, 4.0], atol=1e-6)


def test_task_variables_are_the_per_task_rows():
    film = FiLM(num_tasks=3)
    film.build((None, 4))
    owned = film.task_variables(1)
    assert [v.path for v in owned] == [film.gamma["rows"][1].path, film.beta["rows"][1].path]
    learned = FiLM(num_tasks=3, descriptor="learned", descriptor_dim=2)
    learned.build((None, 4))
    assert learned.task_variables(2) == [learned.embedding.rows[2]]  # W_γ, W_β, b_γ, b_β are shared
    concat = ConcatConditioning(num_tasks=3, units=2)
    concat.build((None, 4))
    assert concat.task_variables(0) == []  # one kernel mixes h and z: shared


def test_gradient_of_a_task_reaches_only_its_rows():
    import tensorflow as tf

    layer = AdditiveConditioning(num_tasks=3)
    h = np.ones((2, 4), "float32")
    layer.build(h.shape)
    with tf.GradientTape() as tape:
        loss = keras.ops.sum(layer(h, task_index=np.array([2, 2])))
    grads = tape.gradient(loss, layer.bias["rows"])
    for g in grads[:2]:  # a gather from the stacked rows: zero gradient for the other tasks
        np.testing.assert_array_equal(_np(g), np.zeros(4))
    np.testing.assert_array_equal(_np(grads[2]), np.full(4, 2.0))


def test_out_of_range_task_ids_raise_with_the_value():
    film = FiLM(num_tasks=3)
    h = np.ones((2, 4), "float32")
    with pytest.raises(ValueError, match="task_index=3"):
        film(h, task_index=3)
    with pytest.raises(ValueError, match=r"values \[-1, 5\]"):
        film(h, task_index=np.array([5, -1]))
    with pytest.raises(ValueError, match="dtype"):
        film(h, task_index=np.array([0.0, 1.0]))


def test_film_rejects_another_channel_count():
    film = FiLM(num_tasks=2)
    film(np.ones((2, 3, 3, 8), "float32"), task_index=0)
    with pytest.raises(ValueError, match="built for features with 8 channels.*channels=4"):
        film(np.ones((2, 3, 3, 4), "float32"), task_index=0)


def test_wrong_descriptor_dimension_raises():
    with pytest.raises(ValueError, match="output_dim=2"):
        TaskEmbedding(3, output_dim=2)
    with pytest.raises(ValueError, match="descriptor|output_dim=2"):
        FiLM(num_tasks=3, descriptor_dim=2)
    with pytest.raises(ValueError, match="mode='bag'"):
        TaskEmbedding(3, mode="bag")
    with pytest.raises(ValueError, match="units=0"):
        ConcatConditioning(num_tasks=2, units=0)


def test_per_example_ids_in_a_functional_model():
    h_in = keras.Input((4,))
    ids_in = keras.Input((), dtype="int32")
    out = FiLM(num_tasks=2, name="film")(h_in, task_index=ids_in)
    model = keras.Model([h_in, ids_in], out)
    model.get_layer("film").gamma["rows"][1].assign([2.0, 2.0, 2.0, 2.0])
    y = _np(model([np.ones((3, 4), "float32"), np.array([0, 1, 1], "int32")]))
    np.testing.assert_array_equal(y, [[1] * 4, [2] * 4, [2] * 4])
