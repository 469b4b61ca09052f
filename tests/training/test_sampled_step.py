"""A step that trains K of T tasks computes only the sampled tasks, and equals the masked computation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk

DIM, BATCH, STEPS = 6, 8, 6


def _tasks(num_tasks=4):
    return [mk.Task(f"t{i}", kind="regression", weight=1.0 + i / 4) for i in range(num_tasks)]


def _arrays(per_task, num_tasks=4, seed=0):
    rng = np.random.default_rng(seed)
    names = [f"t{i}" for i in range(num_tasks)]
    if per_task:  # tasks of different sizes
        return {n: (rng.normal(size=(16 + 8 * i, DIM)).astype("float32"), rng.normal(size=(16 + 8 * i, 1)).astype("float32")) for i, n in enumerate(names)}
    x = rng.normal(size=(40, DIM)).astype("float32")
    return x, {n: rng.normal(size=(40, 1)).astype("float32") for n in names}


def _stream(data, per_task, **options):
    if per_task:
        return mk.data.multitask_dataset(data, batch_size=BATCH, seed=3, **options)
    return mk.data.shared_input_dataset(data[0], data[1], batch_size=BATCH, seed=3, **options)


def _model(per_task, tasks_per_step, optimizer, heads=None, body=None, num_tasks=4, **compile_options):
    keras.utils.set_random_seed(5)
    tasks = _tasks(num_tasks)
    body = body or keras.Sequential([keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(4, activation="tanh")])
    shape = {t.name: (DIM,) for t in tasks} if per_task else (DIM,)
    model = mk.MultiTaskModel(tasks, body=body, heads=heads, input_shape=shape, tasks_per_step=tasks_per_step, seed=11)
    model.compile(optimizer=optimizer, **compile_options)
    return model


def _masked_reference(model, data, per_task, optimizer_factory, steps):
    """The step written plainly: every task computed, the loss masked by the draw, per-task optimizer copies."""
    reference = mk.MultiTaskModel.from_config(model.get_config())
    reference.set_weights(model.get_weights())
    shared_opt = optimizer_factory()
    task_opts = [optimizer_factory() for _ in model.tasks]
    task_vars = [reference.task_variables(i) for i in range(len(model.tasks))]
    owned = {id(v) for vs in task_vars for v in vs}
    shared = [v for v in reference.trainable_variables if id(v) not in owned]
    batches = iter(_stream(data, per_task, steps_per_epoch=steps))  # every task's batch at every step
    for step in range(steps):
        x, y, _ = next(batches)
        sampled = model.sampler.sample(step, model.tasks_per_step, model.seed).numpy()
        with tf.GradientTape() as tape:
            out = reference(x, training=True, raw=True)
            losses = [tf.reduce_mean(tf.square(out[t.name] - tf.reshape(y[t.name], [-1, 1]))) for t in model.tasks]
            total = tf.add_n([s * t.weight * loss for s, t, loss in zip(sampled, model.tasks, losses)])
        grads = tape.gradient(total, shared + [v for vs in task_vars for v in vs])
        shared_opt.apply(grads[: len(shared)], shared)
        offset = len(shared)
        for i, variables in enumerate(task_vars):
            if sampled[i]:
                task_opts[i].apply(grads[offset : offset + len(variables)], variables)
            offset += len(variables)
    return reference


@pytest.mark.parametrize("per_task", [True, False], ids=["multi-input", "shared-input"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_sampled_step_equals_the_masked_computation(per_task, optimizer):
    factory = (lambda: keras.optimizers.SGD(0.1)) if optimizer == "sgd" else (lambda: keras.optimizers.Adam(0.05))
    data = _arrays(per_task)
    model = _model(per_task, 2, factory())
    reference = _masked_reference(model, data, per_task, factory, STEPS)
    model.fit(_stream(data, per_task, steps_per_epoch=STEPS), epochs=1, verbose=0)
    for got, want in zip(model.weights, reference.weights):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6, err_msg=got.path)


class CountingHeads(mk.layers.TaskHeads):
    """Heads that count, per task, the training calls that ran (a stateful side effect of the forward pass)."""

    def build(self, input_shape):
        super().build(input_shape)
        self.calls = self.add_weight(shape=(self.num_tasks,), initializer="zeros", trainable=False, name="calls")

    def call(self, inputs, task_index=None, training=None):
        if training and task_index is not None:
            self.calls.assign_add(tf.one_hot(task_index, self.num_tasks))
        return super().call(inputs, task_index=task_index)


@pytest.mark.parametrize("per_task", [True, False], ids=["multi-input", "shared-input"])
def test_only_the_sampled_tasks_run(per_task):
    heads = CountingHeads([1] * 4, name="heads")
    model = _model(per_task, 1, keras.optimizers.SGD(0.1), heads=heads)
    model.fit(_stream(_arrays(per_task), per_task, steps_per_epoch=12), epochs=1, verbose=0)
    draws = np.stack([model.sampler.sample(s, 1, model.seed).numpy() for s in range(12)])
    np.testing.assert_array_equal(heads.calls.numpy(), draws.sum(axis=0))
    np.testing.assert_array_equal([int(o.iterations.numpy()) for o in model.task_optimizers], draws.sum(axis=0))


@pytest.mark.parametrize("per_task", [True, False], ids=["multi-input", "shared-input"])
def test_the_stream_gathers_only_the_sampled_tasks(per_task):
    model = _model(per_task, 2, "sgd")
    stream = _stream(_arrays(per_task), per_task).mtl_stream
    sampling = mk.data.stream.Sampling(model.sampler, 2, model.seed)
    full = list(stream.training_dataset())
    stream.position.assign(0)
    for step, (x, y, w) in enumerate(stream.training_dataset(sampling)):
        draw = model.sampler.sample(step, 2, model.seed).numpy()
        for i, name in enumerate(model.task_names):
            assert len(y[name]) == (BATCH if draw[i] else 0) == len(w[name])
            if draw[i]:  # the same examples the full stream gives at this step
                np.testing.assert_array_equal(y[name].numpy(), full[step][1][name].numpy())
                if per_task:
                    assert x[name].shape == (BATCH, DIM)
        if not per_task:
            assert x.shape == (BATCH, DIM)


def test_multi_input_batch_norm_is_updated_by_sampled_tasks_only():
    body = keras.Sequential([keras.layers.Dense(5), keras.layers.BatchNormalization(), keras.layers.ReLU()])
    model = _model(True, 1, keras.optimizers.SGD(0.1), body=body)
    data = _arrays(True)
    model.fit(_stream(data, True, steps_per_epoch=5), epochs=1, verbose=0)
    moving = [v for v in model.non_trainable_weights if "moving" in v.path]
    assert moving and all(np.isfinite(v.numpy()).all() for v in moving)
    # five updates in all (one sampled task per step), as with the masked computation's sampled tasks
    mean = [v for v in moving if "moving_mean" in v.path][0].numpy()
    assert np.abs(mean).max() > 0


def test_layer_losses_inside_sampled_tasks():
    """An activity regularizer in a multi-input body runs inside each sampled task's branch: its loss counts."""
    def build(regularizer):
        keras.utils.set_random_seed(5)
        body = keras.Sequential([keras.layers.Dense(4, activation="tanh", activity_regularizer=regularizer)])
        return _model(True, 2, keras.optimizers.SGD(0.1), body=body)

    data = _arrays(True)
    plain, regularized = build(None), build(keras.regularizers.L2(10.0))
    logs = {}
    for name, model in (("plain", plain), ("regularized", regularized)):
        logs[name] = model.fit(_stream(data, True, steps_per_epoch=4), epochs=1, verbose=0).history["loss"][0]
    assert logs["regularized"] > logs["plain"] + 0.1  # the sampled tasks' activity losses are in the objective
    assert not np.allclose(plain.body.weights[0].numpy(), regularized.body.weights[0].numpy())


def test_xla_step_equals_the_plain_step_when_sampling():
    data = _arrays(True)
    results = []
    for jit in (False, True):
        model = _model(True, 2, keras.optimizers.Adam(0.05), jit_compile=jit)
        model.fit(_stream(data, True, steps_per_epoch=STEPS), epochs=1, verbose=0)
        results.append([v.numpy() for v in model.weights])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("per_task", [True, False], ids=["multi-input", "shared-input"])
def test_mirrored_strategy_sampled_step_equals_one_device(mirrored_strategy, per_task):
    data = _arrays(per_task)

    def run(strategy):
        with strategy.scope():
            model = _model(per_task, 2, keras.optimizers.Adam(0.05))
        model.fit(_stream(data, per_task, steps_per_epoch=STEPS), epochs=1, verbose=0)
        return [v.numpy() for v in model.trainable_variables]

    for a, b in zip(run(tf.distribute.get_strategy()), run(mirrored_strategy)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("weighting", ["pcgrad", "mgda"])
def test_gradient_level_weighting_with_sampled_tasks_trains_only_them(weighting):
    model = _model(True, 1, keras.optimizers.SGD(0.1), weighting=weighting)
    before = [[v.numpy().copy() for v in model.task_variables(i)] for i in range(4)]
    model.fit(_stream(_arrays(True), True, steps_per_epoch=1), epochs=1, verbose=0)
    draw = model.sampler.sample(0, 1, model.seed).numpy()
    for i in range(4):
        moved = any(not np.array_equal(b, v.numpy()) for b, v in zip(before[i], model.task_variables(i)))
        assert moved == bool(draw[i])
