"""Each strategy trains a small 2-task model with falling losses."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk
from mtl_keras import weighting as W


def _data(n=256):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    labels = {
        "kind": (x[:, :4].sum(axis=1) > 0).astype("int32"),
        "size": (x[:, 4:] @ np.array([1.0, -2.0, 0.5, 1.5])).astype("float32"),
    }
    return x, labels


GRADIENT_LEVEL = sorted(n for n in W.WEIGHTINGS.names() if W.get(n).uses_gradients)
ON_REPRESENTATION = [n for n in GRADIENT_LEVEL if W.get(n).supports_representation and not W.get(n).uses_representation]
CASES = [(n, None) for n in W.WEIGHTINGS.names()] + [(n, True) for n in ON_REPRESENTATION]
CASE_IDS = [n + ("-representation" if r else "") for n, r in CASES]


def _strategy(name, representation, model):
    """The strategy for `model`; built with the shared-gradient size when its state needs it.

    (The model builds strategies with `build(None)` today; passing `(T, P)` is the integration
    point the README's weighting section describes.)
    """
    strategy = W.WEIGHTINGS.get(name)(**({} if representation is None else {"uses_representation": True}))
    if strategy.needs_gradient_size:
        strategy.build((len(model.tasks), sum(int(np.prod(v.shape)) for v in model.shared_variables)))
    return strategy


@pytest.mark.parametrize("name, representation", CASES, ids=CASE_IDS)
def test_each_strategy_trains_a_two_task_model(name, representation):
    """Every strategy (gradient-level ones also on the representation) inside MultiTaskModel's compiled
    (XLA) train step: each task's loss falls."""
    x, labels = _data()
    tasks = [mk.Task("kind", num_classes=2), mk.Task("size", kind="regression")]
    model = mk.MultiTaskModel(
        tasks, body=keras.Sequential([keras.layers.Dense(16, activation="relu")]), input_shape=(8,)
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), weighting=_strategy(name, representation, model), jit_compile=True
    )
    data = mk.data.shared_input_dataset(x, labels, batch_size=32, seed=0)
    history = model.fit(data, epochs=2, verbose=0).history
    assert ({"kind_weight", "size_weight"} <= set(history)) == W.get(name).adaptive  # adaptive weights are logged
    for task in ("kind", "size"):
        losses = history[f"{task}_loss"]
        assert np.all(np.isfinite(losses)), (name, task, losses)
        assert losses[-1] < losses[0], (name, task, losses)


@pytest.mark.parametrize("name", sorted(n for n in W.WEIGHTINGS.names() if W.get(n).uses_gradients))
def test_gradient_level_strategy_trains_in_a_compiled_loop(name):
    """The same check with a hand-written compiled step (per-task gradients -> combine_gradients)."""
    x, labels = _data()
    x = tf.constant(x)
    targets = [tf.constant(labels["kind"]), tf.constant(labels["size"])]
    body = keras.layers.Dense(16, activation="relu")
    heads = [keras.layers.Dense(2), keras.layers.Dense(1)]
    body.build((None, 8))
    for head in heads:
        head.build((None, 16))
    shared = body.trainable_variables
    own = [head.trainable_variables for head in heads]
    strategy = W.get(name)
    strategy.configure([mk.Task("kind", num_classes=2), mk.Task("size", kind="regression")])
    strategy.build((2, sum(int(np.prod(v.shape)) for v in shared)))
    optimizer = keras.optimizers.Adam(0.01)
    optimizer.build(shared + own[0] + own[1])
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def task_losses(xb, yb):
        h = body(xb)
        return tf.stack([ce(yb[0], heads[0](h)), tf.reduce_mean(tf.square(heads[1](h)[:, 0] - yb[1]))])

    @tf.function(jit_compile=True)
    def step(xb, y0, y1, iteration):
        with tf.GradientTape(persistent=True) as tape:
            losses = task_losses(xb, (y0, y1))
            rows = [losses[i] for i in range(2)]
        matrix = tf.stack(
            [tf.concat([tf.reshape(g, [-1]) for g in tape.gradient(row, shared)], axis=0) for row in rows]
        )
        direction, weights = strategy.combine_gradients(matrix, losses, iteration)
        grads, offset = [], 0
        for v in shared:
            size = int(np.prod(v.shape))
            grads.append(tf.reshape(direction[offset : offset + size], v.shape))
            offset += size
        for i in range(2):  # seed with the weight: a product made after the tape closed is not recorded
            grads += tape.gradient(rows[i], own[i], output_gradients=tf.stop_gradient(weights[i]))
        optimizer.apply(grads, shared + own[0] + own[1])
        return losses

    first = task_losses(x, targets).numpy()
    for epoch in range(2):
        for start in range(0, 256, 32):
            step(x[start : start + 32], targets[0][start : start + 32], targets[1][start : start + 32],
                 tf.constant(epoch * 8 + start // 32, tf.int64))  # fmt: skip
    last = task_losses(x, targets).numpy()
    assert np.all(np.isfinite(last)) and np.all(last < first), (name, first, last)


@pytest.mark.parametrize("name, representation", CASES, ids=CASE_IDS)
def test_mirrored_strategy_combines_global_gradients(name, representation, mirrored_strategy):
    """Under MirroredStrategy every strategy makes the one-device update of the global batch: parameter
    gradients are summed over replicas before they are combined; representation gradients are combined
    from the global Gram matrix (or, for GradDrop, the global batch sums); random draws depend on the step."""
    x, labels = _data(64)
    tasks = [mk.Task("kind", num_classes=2), mk.Task("size", kind="regression")]

    def train(strategy):
        keras.utils.set_random_seed(2)
        with strategy.scope():
            model = mk.MultiTaskModel(
                tasks, body=keras.Sequential([keras.layers.Dense(8, activation="relu")]), input_shape=(8,)
            )
            model.compile(optimizer=keras.optimizers.SGD(0.1), weighting=_strategy(name, representation, model))
        model.fit(mk.data.shared_input_dataset(x, labels, batch_size=32, shuffle=False), epochs=1, verbose=0)
        return [v.numpy() for v in model.trainable_variables]

    mirrored = train(mirrored_strategy)
    single = train(tf.distribute.get_strategy())
    for a, b in zip(single, mirrored):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
