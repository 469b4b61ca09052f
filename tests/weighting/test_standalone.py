"""Every strategy on its own, on a `[T, P]` gradient matrix: `strategy(G)`, dtypes, errors, number of tasks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk
from mtl_keras import weighting as W

NAMES = W.WEIGHTINGS.names()
LOSSES = np.array([1.0, 2.0, 0.5])


def _grads(dtype="float32", seed=0):
    return np.random.default_rng(seed).normal(size=(3, 7)).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_every_strategy_combines_a_gradient_matrix_of_either_float_dtype(name, dtype):
    """No configure / build: T comes from G; the result is a named (direction, weights) in G's dtype."""
    grads = _grads(dtype)
    strategy = W.get(name)
    result = strategy(grads, losses=LOSSES, step=3)
    assert isinstance(result, W.Combination)
    direction, weights = result  # a named pair unpacks
    assert direction.dtype.name == dtype and weights.dtype.name == dtype
    assert direction.shape == (7,) and weights.shape == (3,)
    assert np.all(np.isfinite(direction.numpy())) and np.all(np.isfinite(weights.numpy()))
    assert strategy.num_tasks == 3 and strategy.task_names == ["task_0", "task_1", "task_2"]
    if name not in ("graddrop", "db_mtl", "moco"):  # the others' direction is Gᵀw
        np.testing.assert_allclose(direction.numpy(), weights.numpy() @ grads, rtol=1e-4, atol=1e-5)
    again = strategy(grads, losses=LOSSES, step=4)  # a second call reuses the built state
    assert again.direction.shape == (7,)


@pytest.mark.parametrize("name", ["mgda", "imtl", "upgrad", "cagrad", "nash_mtl", "aligned_mtl", "fairgrad", "config"])
def test_float32_and_float64_agree(name):
    grads = _grads("float64", seed=1)
    single = W.get(name)(grads.astype("float32")).direction.numpy()
    double = W.get(name)(grads).direction.numpy()
    np.testing.assert_allclose(single, double, rtol=2e-3, atol=2e-4)


def test_the_three_former_attribute_errors_are_gone():
    grads = _grads()
    np.testing.assert_allclose(W.StaticWeighting()(grads).direction.numpy(), grads.sum(axis=0), rtol=1e-6)
    np.testing.assert_allclose(W.StaticWeighting([1.0, 0.0, 2.0])(grads).weights.numpy(), [1.0, 0.0, 2.0])
    assert W.AlignedMTL()(grads).direction.shape == (7,)
    assert W.GradNorm()(grads, losses=LOSSES).direction.shape == (7,)


@pytest.mark.parametrize("name", sorted(n for n in NAMES if W.get(n).needs_losses))
def test_methods_that_need_losses_say_so(name):
    with pytest.raises(ValueError, match=f"{type(W.get(name)).__name__} needs the per-task losses.*losses=None"):
        W.get(name)(_grads())


def test_losses_are_optional_where_not_needed_and_checked_where_given():
    assert not W.PCGrad().needs_losses and W.MGDA(normalization="loss").needs_losses
    assert W.MoCo(gradient_normalization="loss").needs_losses and not W.MoCo().needs_losses
    with pytest.raises(ValueError, match="one value per task"):
        W.PCGrad()(_grads(), losses=[1.0, 2.0])
    with pytest.raises(ValueError, match="float gradient matrix"):
        W.PCGrad()(np.ones((3,)))


def test_loss_level_strategies_return_the_gradient_of_their_objective():
    """`strategy(G, losses).direction = Σ_i (∂ objective / ∂ L_i) g_i`, checked with a tape on a tiny model."""
    theta = tf.Variable([0.3, -0.2])
    targets = tf.constant([[1.0, 0.0], [0.0, 2.0]])
    with tf.GradientTape(persistent=True) as tape:
        losses = tf.reduce_sum(tf.square(theta[tf.newaxis] - targets), axis=1) + 0.5
        rows = [losses[0], losses[1]]
    grads = tf.stack([tape.gradient(r, theta) for r in rows])
    for strategy in (W.GLS(), W.UncertaintyWeighting(), W.StaticWeighting([0.5, 2.0]), W.STCH()):
        with tf.GradientTape() as inner:
            inner.watch(theta)
            value = tf.reduce_sum(tf.square(theta[tf.newaxis] - targets), axis=1) + 0.5
            if not strategy.built:  # builds for two tasks named task_0, task_1
                strategy.build((2, 2))
            total, _ = strategy.combine_losses(value, tf.ones([2]), tf.constant(0, tf.int64))
        expected = inner.gradient(total, theta).numpy()
        got = type(strategy).from_config(strategy.get_config())(grads, losses=losses).direction.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, err_msg=type(strategy).__name__)


def test_one_object_with_two_numbers_of_tasks_raises_naming_both():
    strategy = W.FAMO(name="shared_famo")
    strategy.configure([mk.Task(n, kind="regression") for n in ("a", "b", "c")])
    with pytest.raises(
        ValueError, match=r"FAMO 'shared_famo' is set up for 3 tasks .*cannot be used with 2.*num_tasks=2"
    ):
        strategy.configure([mk.Task(n, kind="regression") for n in ("a", "b")])
    strategy.configure([mk.Task(n, kind="regression") for n in ("x", "y", "z")])  # same T: fine
    with pytest.raises(ValueError, match="set up for 3 tasks.*gradient matrix with 4 rows"):
        strategy(np.ones((4, 2), "float32"), losses=np.ones(4))
    standalone = W.PCGrad()
    standalone(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="PCGrad .* set up for 2 tasks"):
        standalone(np.ones((5, 3), "float32"))


def test_one_object_in_two_models_with_different_numbers_of_tasks_raises():
    strategy = W.GradVac()

    def model(num_tasks):
        tasks = [mk.Task(f"t{i}", kind="regression") for i in range(num_tasks)]
        return mk.MultiTaskModel(tasks, body=keras.layers.Dense(4), input_shape=(3,))

    model(2).compile(optimizer="sgd", weighting=strategy)
    with pytest.raises(ValueError, match="GradVac .* set up for 2 tasks .*cannot be used with 3"):
        model(3).compile(optimizer="sgd", weighting=strategy)


def test_state_sized_by_the_gradient_needs_its_size():
    strategy = W.DBMTL()
    strategy.configure([mk.Task(n, kind="regression") for n in "ab"])
    with pytest.raises(ValueError, match=r"DBMTL .* build\(\(num_tasks, gradient_size\)\)"):
        strategy.build(None)
    built = W.MoCo()
    built(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="built for gradient rows of size 3"):
        built(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="does not know its number of tasks"):
        W.FAMO().build(None)


@pytest.mark.parametrize("name", ["famo", "gradvac", "db_mtl", "stch", "static"])
def test_a_model_reloads_with_its_strategy_state(name, tmp_path):
    """The strategy's build shape is saved with it, so its state is restored from a `.keras` file."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    labels = {"a": x[:, 0].copy(), "b": x[:, 1].copy()}
    tasks = [mk.Task("a", kind="regression"), mk.Task("b", kind="regression")]
    model = mk.MultiTaskModel(tasks, body=keras.layers.Dense(3), input_shape=(4,))
    strategy = W.StaticWeighting({"b": 0.5}) if name == "static" else W.get(name)
    if strategy.needs_gradient_size:  # the model passes only None to build today (see the README)
        strategy.build((2, sum(int(np.prod(v.shape)) for v in model.shared_variables)))
    model.compile(optimizer="sgd", weighting=strategy)
    model.fit(mk.data.shared_input_dataset(x, labels, batch_size=16, shuffle=False), epochs=2, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.weighting.task_names == ["a", "b"]
    if name == "static":
        assert reloaded.weighting.values == [1.0, 0.5]
        return
    assert len(reloaded.weighting.weights) == len(model.weighting.weights) > 0
    for saved, loaded in zip(model.weighting.weights, reloaded.weighting.weights):
        np.testing.assert_allclose(loaded.numpy(), saved.numpy())


@pytest.mark.parametrize("name", ["pcgrad", "mgda", "static"])
def test_a_matrix_without_rows_is_refused(name):
    with pytest.raises(ValueError, match=r"one row per task; it has none.*shape \(0, 3\)"):
        W.get(name)(np.zeros((0, 3), "float32"))


@pytest.mark.parametrize("weights, message", [
    ("1,2", r"weights must be None, a list in task order or a dict by task name\. Received: weights='1,2'"),
    (2.0, r"Received: weights=2\.0"),
])
def test_static_weights_that_are_not_a_list_are_refused(weights, message):
    with pytest.raises(ValueError, match=message):
        W.StaticWeighting(weights)


def test_static_weight_that_is_not_a_number_names_the_task():
    strategy = W.StaticWeighting({"a": "heavy"})
    with pytest.raises(ValueError, match=r"StaticWeighting: task 'a' has a weight that is not a number\. Received: weight='heavy'"):
        strategy.configure([mk.Task("a", kind="regression"), mk.Task("b", kind="regression")])
