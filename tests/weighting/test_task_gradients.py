"""The gradient-level training step against a plain-TensorFlow reference, and its number of backward passes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk
from mtl_keras import weighting as W
from mtl_keras.training.tensorflow import gradients as task_gradients

BATCH, DIM, WIDTH = 16, 5, 6


class PenalisedHeads(mk.layers.TaskHeads):
    """Linear heads that add `0.1 · mean(y_i²)` per head: a layer loss that depends on Z and the heads."""

    def call(self, inputs, task_index=None):
        outputs = super().call(inputs, task_index=task_index)
        for out in outputs if task_index is None else [outputs]:
            self.add_loss(0.1 * keras.ops.mean(keras.ops.square(out)))
        return outputs


def _model(weighting, num_tasks=3, regularizer=None, tasks_per_step=None, penalised_heads=False, optimizer=None):
    keras.utils.set_random_seed(3)
    tasks = [mk.Task(f"t{i}", kind="regression") for i in range(num_tasks)]
    body = keras.Sequential(
        [
            keras.layers.Dense(WIDTH, activation="tanh", kernel_regularizer=regularizer),
            keras.layers.Dense(WIDTH, activation="tanh"),
        ]
    )
    heads = PenalisedHeads([1] * num_tasks, name="heads") if penalised_heads else None
    model = mk.MultiTaskModel(tasks, body=body, heads=heads, input_shape=(DIM,), tasks_per_step=tasks_per_step)
    model.compile(optimizer=optimizer or keras.optimizers.SGD(1.0), weighting=weighting)
    return model


def _batch(num_tasks=3):
    rng = np.random.default_rng(7)
    x = tf.constant(rng.normal(size=(BATCH, DIM)).astype("float32"))
    y = {f"t{i}": tf.constant(rng.normal(size=(BATCH, 1)).astype("float32") * (i + 1)) for i in range(num_tasks)}
    return x, y


def _model_gradients(model, x, y):
    """The gradients the model's train step applied: with SGD(1.0), the negated weight change."""
    before = [v.numpy() for v in model.trainable_variables]
    model.train_step((x, y))
    return [b - v.numpy() for b, v in zip(before, model.trainable_variables)]


def _reference(model, x, y, on_representation, weights_of):
    """Per-task gradients of the sampled tasks, combined by `weights_of(rows)`, with plain tapes.

    Unsampled tasks have zero rows and their heads do not move (their heads do not even run, so
    their layer losses do not exist); each sampled head gets its own loss's gradient (weight 1);
    layer losses add their full gradient once.
    """
    num_tasks = len(model.tasks)
    sampled = model.sampler.sample(model.optimizer.iterations, model.tasks_per_step, model.seed).numpy()
    trunk = model.body.trainable_variables
    heads = [model.heads.task_variables(i) for i in range(num_tasks)]
    with tf.GradientTape(persistent=True) as tape:
        z = model.body(x, training=True)
        outputs = model.heads(z)
        losses = [tf.reduce_mean(tf.square(o[:, 0] - y[f"t{i}"][:, 0])) * sampled[i] for i, o in enumerate(outputs)]
        # only the sampled tasks' heads run in a step: their losses count, the others' do not exist
        head_losses = [loss for i, loss in enumerate(model.heads.losses) if sampled[i]]
        layer_losses = model.body.losses + head_losses
        regularization = tf.add_n(layer_losses) if layer_losses else None
    if on_representation:
        rows = [tape.gradient(loss, z) for loss in losses]
        weights = weights_of(tf.stack([tf.reshape(r, [-1]) for r in rows]))
        direction = tf.add_n([w * r for w, r in zip(tf.unstack(weights), rows)])
        trunk_grads = tape.gradient(z, trunk, output_gradients=direction)
    else:
        per_task = [tape.gradient(loss, trunk) for loss in losses]
        rows = tf.stack([tf.concat([tf.reshape(g, [-1]) for g in grads], 0) for grads in per_task])
        weights = weights_of(rows)
        trunk_grads = [tf.add_n([w * g[k] for w, g in zip(tf.unstack(weights), per_task)]) for k in range(len(trunk))]
    grads = {id(v): g for v, g in zip(trunk, trunk_grads)}
    for i, variables in enumerate(heads):
        grads.update(zip((id(v) for v in variables), tape.gradient(losses[i], variables)))
    if regularization is not None:
        variables = model.trainable_variables
        for v, g in zip(variables, tape.gradient(regularization, variables)):
            if g is not None:
                grads[id(v)] = grads[id(v)] + g
    for i, variables in enumerate(heads):  # an unsampled task's own variables do not move at all
        if not sampled[i]:
            grads.update((id(v), tf.zeros_like(v)) for v in variables)
    return [grads[id(v)].numpy() for v in model.trainable_variables]


STRATEGIES = {
    "mgda": (lambda rep: W.MGDA(uses_representation=rep), W.min_norm_weights),
    "imtl": (lambda rep: W.IMTL(uses_representation=rep), W.imtl_weights),
    "cagrad": (lambda rep: W.CAGrad(c=0.4, uses_representation=rep), lambda rows: W.cagrad_weights(rows, 0.4)),
    "pcgrad": (lambda rep: W.PCGrad(uses_representation=rep), None),  # random orders: via its own hook
}


def _weights_of(strategy, reference):
    if reference is not None:
        return reference
    return lambda rows: strategy.combine_gradients(rows, tf.ones([rows.shape[0]]), tf.constant(0, tf.int64))[1]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("on_representation", [False, True], ids=["parameters", "representation"])
def test_training_step_matches_a_plain_tensorflow_reference(name, on_representation):
    factory, reference = STRATEGIES[name]
    model = _model(factory(on_representation), regularizer=keras.regularizers.L2(0.01))
    x, y = _batch()
    expected = _reference(model, x, y, on_representation, _weights_of(model.weighting, reference))
    for got, want in zip(_model_gradients(model, x, y), expected):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-6)


@pytest.mark.parametrize("on_representation", [False, True], ids=["parameters", "representation"])
def test_sampled_tasks_and_head_losses_match_the_reference(on_representation):
    """Two of three tasks per step (the third's row is zero, its head does not move), and heads that
    add their own losses: kept for every head, and counted once."""
    model = _model(W.MGDA(uses_representation=on_representation), tasks_per_step=2, penalised_heads=True)
    x, y = _batch()
    expected = _reference(model, x, y, on_representation, W.min_norm_weights)
    got = _model_gradients(model, x, y)
    for g, want in zip(got, expected):
        np.testing.assert_allclose(g, want, rtol=2e-4, atol=2e-6)
    unsampled = [i for i, s in enumerate(model.sampler.sample(tf.constant(0, tf.int64), 2, model.seed).numpy()) if not s]
    head = {id(v) for v in model.heads.task_variables(unsampled[0])}
    assert all(np.all(g == 0) for v, g in zip(model.trainable_variables, got) if id(v) in head)


@pytest.mark.parametrize("on_representation", [False, True], ids=["parameters", "representation"])
def test_loss_scale_optimizer_gives_the_unscaled_update(on_representation):
    plain = _model(W.PCGrad(uses_representation=on_representation), regularizer=keras.regularizers.L2(0.01))
    scaled = _model(
        W.PCGrad(uses_representation=on_representation), regularizer=keras.regularizers.L2(0.01),
        optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(1.0), initial_scale=1024.0),
    )
    x, y = _batch()
    for a, b in zip(_model_gradients(plain, x, y), _model_gradients(scaled, x, y)):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def _count_backward_passes(monkeypatch, weighting, num_tasks):
    calls = []
    original = task_gradients.gradient

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(task_gradients, "gradient", counting)
    model = _model(weighting, num_tasks=num_tasks)
    x, y = _batch(num_tasks)
    tf.function(model.train_step).get_concrete_function((x, y))
    return len(calls)


@pytest.mark.parametrize("num_tasks", [2, 4])
def test_representation_gradients_take_two_backward_passes_whatever_the_number_of_tasks(monkeypatch, num_tasks):
    assert _count_backward_passes(monkeypatch, W.PCGrad(uses_representation=True), num_tasks) == 2


@pytest.mark.parametrize("num_tasks", [2, 4])
def test_parameter_gradients_take_one_backward_pass_per_task(monkeypatch, num_tasks):
    assert _count_backward_passes(monkeypatch, W.PCGrad(), num_tasks) == num_tasks


def test_representation_option_needs_a_shared_body():
    tasks = [mk.Task("a", kind="regression"), mk.Task("b", kind="regression")]
    model = mk.MultiTaskModel(tasks, body=None, input_shape=(4,))
    model.compile(weighting=W.MGDA(uses_representation=True))
    x = np.zeros((8, 4), "float32")
    data = mk.data.shared_input_dataset(x, {"a": np.zeros(8, "float32"), "b": np.zeros(8, "float32")}, batch_size=4)
    with pytest.raises(ValueError, match="MGDA takes gradients with respect to the shared representation"):
        model.fit(data, epochs=1, verbose=0)
