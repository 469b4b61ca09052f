"""The strategy classes: registry, hyper-parameter checks, serialization, state, zero rows, XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk
from mtl_keras import weighting as W


def gram(grads):
    """`G Gᵀ`, computed here rather than with the library's own helper."""
    return tf.matmul(grads, grads, transpose_b=True)


def active_mask(gram_matrix):
    """1.0 for the tasks whose gradient row is not zero."""
    return tf.cast(tf.linalg.diag_part(gram_matrix) > 0, gram_matrix.dtype)


LOSS_LEVEL = {"static", "uncertainty", "dwa", "rlw", "famo", "gls", "stch"}
GRAM_BASED = {
    "gradnorm", "pcgrad", "mgda", "mgda_ub", "cagrad", "imtl", "nash_mtl", "aligned_mtl", "gradvac", "upgrad",
    "fairgrad", "sdmgrad", "config",
}  # fmt: skip
OTHER_GRADIENT_LEVEL = {"graddrop", "db_mtl", "excess_mtl", "moco"}
GRADIENT_LEVEL = GRAM_BASED | OTHER_GRADIENT_LEVEL
NEW = sorted((LOSS_LEVEL | GRADIENT_LEVEL) - {"static"})
SIZE = 5  # gradient size of the small matrices below


def make(identifier, num_tasks=3):
    strategy = W.get(identifier)
    strategy.configure([mk.Task(f"t{i}", kind="regression") for i in range(num_tasks)])
    strategy.build((num_tasks, SIZE))
    return strategy


def test_registry_lists_every_strategy_and_its_kind_comes_from_its_base_class():
    assert LOSS_LEVEL | GRADIENT_LEVEL == set(W.WEIGHTINGS.names())
    for name in W.WEIGHTINGS.names():
        strategy = W.get(name)
        assert isinstance(strategy, W.Weighting)
        assert isinstance(strategy, W.LossWeighting) == (name in LOSS_LEVEL)
        assert isinstance(strategy, W.GradientWeighting) == (name in GRADIENT_LEVEL)
        assert isinstance(strategy, W.GramWeighting) == strategy.gram_based == (name in GRAM_BASED)
        assert strategy.uses_gradients == (name in GRADIENT_LEVEL)
    assert W.get("mgda_ub").uses_representation and not W.get("mgda").uses_representation
    with pytest.raises(ValueError, match="Did you mean"):
        W.get("pcgard")


@pytest.mark.parametrize("name", NEW)
def test_config_round_trip(name):
    strategy = W.get(name)
    config = keras.saving.serialize_keras_object(strategy)
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(strategy)
    assert restored.get_config() == strategy.get_config()
    assert type(W.get(config)) is type(strategy)
    assert type(restored).from_config(strategy.get_config()).get_config() == strategy.get_config()


def test_non_default_hyper_parameters_survive_the_round_trip():
    for strategy in (
        W.CAGrad(c=0.2, iterations=7, rescale=False),
        W.GradNorm(alpha=0.5, learning_rate=0.1),
        W.DynamicWeightAverage(temperature=3.0, period=5),
        W.MGDA(normalization="loss+", iterations=9),
        W.NashMTL(iterations=5, ridge=0.01, max_norm=2.0),
        W.GradDrop(leak=0.25, seed=4),
        W.GradVac(beta=0.1, seed=2),
        W.FAMO(learning_rate=0.1, weight_decay=0.0),
        W.FairGrad(alpha=0.5, iterations=9),
        W.STCH(mu=0.2, warmup_steps=7, preference=[1.0, 2.0], epsilon=1e-6),
        W.DBMTL(beta=0.5, beta_sigma=0.5, epsilon=1e-6),
        W.ExcessMTL(step_size=0.1, epsilon=1e-6),
        W.SDMGrad(lam=0.7, iterations=3, learning_rate=2.0, momentum=0.1),
        W.GLS(epsilon=1e-6),
        W.MoCo(beta=0.3, beta_sigma=0.1, gamma=0.2, gamma_sigma=0.3, rho=0.1, gradient_normalization="loss"),
    ):
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(strategy))
        assert restored.get_config() == strategy.get_config()


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda: W.CAGrad(c=-0.1), "c=-0.1"),
        (lambda: W.CAGrad(iterations=0), "iterations=0"),
        (lambda: W.GradNorm(alpha=-1.0), "alpha=-1.0"),
        (lambda: W.GradNorm(learning_rate=0.0), "learning_rate=0.0"),
        (lambda: W.DynamicWeightAverage(temperature=0.0), "temperature=0.0"),
        (lambda: W.DynamicWeightAverage(period=1.5), "period=1.5"),
        (lambda: W.FAMO(learning_rate=-1.0), "learning_rate=-1.0"),
        (lambda: W.FAMO(weight_decay=float("nan")), "weight_decay=nan"),
        (lambda: W.GradDrop(leak=1.5), "leak=1.5"),
        (lambda: W.GradVac(beta=2.0), "beta=2.0"),
        (lambda: W.MGDA(normalization="max"), "normalization='max'"),
        (lambda: W.NashMTL(max_norm=0.0), "max_norm=0.0"),
        (lambda: W.NashMTL(ridge=-1e-3), "ridge=-0.001"),
        (lambda: W.UPGrad(iterations=-3), "iterations=-3"),
        (lambda: W.RandomLossWeighting(seed="a"), "seed='a'"),
        (lambda: W.PCGrad(seed=-1), "seed=-1"),
        (lambda: W.FairGrad(alpha=0.0), "alpha=0.0"),
        (lambda: W.STCH(mu=-1.0), "mu=-1.0"),
        (lambda: W.STCH(warmup_steps=-2), "warmup_steps=-2"),
        (lambda: W.STCH(preference=[1.0, 0.0]), "preference=0.0"),
        (lambda: W.DBMTL(beta=1.0), "beta=1.0"),
        (lambda: W.DBMTL(beta_sigma=-0.5), "beta_sigma=-0.5"),
        (lambda: W.ExcessMTL(step_size=-0.1), "step_size=-0.1"),
        (lambda: W.SDMGrad(lam=-1.0), "lam=-1.0"),
        (lambda: W.SDMGrad(momentum=1.0), "momentum=1.0"),
        (lambda: W.GLS(epsilon=0.0), "epsilon=0.0"),
        (lambda: W.MoCo(beta=0.0), "beta=0.0"),
        (lambda: W.MoCo(gradient_normalization="l2"), "gradient_normalization='l2'"),
        (lambda: W.DBMTL(uses_representation=True), "uses_representation=True"),
        (lambda: W.MoCo(uses_representation=True), "uses_representation=True"),
        (lambda: W.ExcessMTL(uses_representation=True), "uses_representation=True"),
    ],
)
def test_bad_hyper_parameters_raise(factory, message):
    with pytest.raises(ValueError, match="Received: " + message.replace("(", r"\(").replace(".", r"\.")):
        factory()


@pytest.mark.parametrize("name", NEW)
def test_zero_rows_give_finite_outputs_under_xla(name):
    strategy = make(name)
    rng = np.random.default_rng(0)
    full = tf.constant(rng.normal(size=(3, SIZE)), tf.float32)
    one_zero = tf.tensor_scatter_nd_update(full, [[1]], tf.zeros([1, SIZE]))
    losses = tf.constant([0.5, 2.0, 1.0])
    if strategy.uses_gradients:
        step_fn = tf.function(
            lambda grads, step: strategy.combine_gradients(grads, losses * active_mask(gram(grads)), step),
            jit_compile=True,
        )
        cases = (full, one_zero, tf.zeros_like(full))
    else:
        step_fn = tf.function(lambda sampled, step: strategy.combine_losses(losses, sampled, step), jit_compile=True)
        cases = (tf.ones([3]), tf.constant([1.0, 0.0, 1.0]), tf.zeros([3]))
    for step in range(3):
        for case in cases:
            out, weights = step_fn(case, tf.constant(step, tf.int64))
            assert np.all(np.isfinite(out.numpy())) and np.all(np.isfinite(weights.numpy())), (name, case)
            assert weights.shape == (3,)
    if strategy.uses_gradients:
        out, weights = step_fn(one_zero, tf.constant(5, tf.int64))
        if name not in ("graddrop", "pcgrad", "gradvac"):  # those keep a weight for every task
            assert weights.numpy()[1] == 0.0
        assert out.shape == (SIZE,)


def test_gradient_level_directions_are_linear_combinations():
    rng = np.random.default_rng(1)
    grads = tf.constant(rng.normal(size=(3, SIZE)), tf.float32)
    for name in sorted(GRAM_BASED | {"excess_mtl"}):
        direction, weights = make(name).combine_gradients(grads, tf.ones([3]), tf.constant(0, tf.int64))
        np.testing.assert_allclose(direction.numpy(), weights.numpy() @ grads.numpy(), atol=1e-4, err_msg=name)


def test_gradnorm_keeps_the_weights_summing_to_the_number_of_tasks():
    strategy = make(W.GradNorm(alpha=1.0, learning_rate=0.1))
    grads = tf.constant([[10.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    for step in range(20):
        losses = tf.constant([1.0, 1.0, 1.0]) * (1.0 - 0.02 * step)
        strategy.combine_gradients(grads, losses, tf.constant(step, tf.int64))
        weights = strategy.task_weight_values.numpy()
        np.testing.assert_allclose(weights.sum(), 3.0, rtol=1e-5)
        assert np.all(weights >= 0)
    assert weights[0] < weights[1]  # the big-gradient task is down-weighted
    np.testing.assert_allclose(strategy.initial_losses.numpy(), [1.0, 1.0, 0.0])  # task 2 never had a gradient


def test_dwa_uses_equal_weights_until_history_then_the_ratios():
    strategy = make(W.DynamicWeightAverage(temperature=2.0), num_tasks=2)
    sampled = tf.ones([2])
    history = [[1.0, 1.0], [0.5, 0.9]]
    for losses in history:
        _, weights = strategy.combine_losses(tf.constant(losses), sampled, 0)
        np.testing.assert_allclose(weights.numpy(), [1.0, 1.0])
    _, weights = strategy.combine_losses(tf.constant([0.3, 0.8]), sampled, 2)
    np.testing.assert_allclose(weights.numpy(), W.dwa_weights(tf.constant([0.5, 0.9]), 2.0).numpy(), rtol=1e-6)
    assert weights.numpy()[1] > weights.numpy()[0]  # the slower task gets more weight


def test_dwa_averages_over_periods():
    strategy = make(W.DynamicWeightAverage(period=2), num_tasks=2)
    for losses in ([2.0, 1.0], [2.0, 1.0], [1.0, 1.0], [1.0, 1.0]):
        strategy.combine_losses(tf.constant(losses), tf.ones([2]), 0)
    np.testing.assert_allclose(strategy.loss_ratios().numpy(), [0.5, 1.0])


def test_uncertainty_log_variances_are_trainable_and_reach_log_loss():
    strategy = make("uncertainty", num_tasks=2)
    assert len(strategy.trainable_variables) == 1
    optimizer = keras.optimizers.Adam(0.05)
    losses = tf.constant([0.25, 4.0])
    for _ in range(300):
        with tf.GradientTape() as tape:
            total, _ = strategy.combine_losses(losses, tf.ones([2]), 0)
        optimizer.apply(tape.gradient(total, strategy.trainable_variables), strategy.trainable_variables)
    np.testing.assert_allclose(strategy.log_variances.numpy(), np.log([0.25, 4.0]), atol=0.05)


def test_famo_moves_weight_to_the_task_that_improves_less():
    strategy = make("famo", num_tasks=2)
    for step in range(30):
        losses = tf.constant([1.0 * 0.8**step, 1.0 * 0.99**step])
        _, weights = strategy.combine_losses(losses, tf.ones([2]), step)
    z = tf.nn.softmax(strategy.logits).numpy()
    assert z[1] > z[0]
    np.testing.assert_allclose(weights.numpy().sum(), 1.0, rtol=1e-5)


def test_gradvac_targets_follow_the_cosines():
    strategy = make(W.GradVac(beta=0.5), num_tasks=2)
    grads = tf.constant([[1.0, 0.0], [1.0, 1.0]])
    for step in range(10):
        strategy.combine_gradients(grads, tf.ones([2]), tf.constant(step, tf.int64))
    np.testing.assert_allclose(strategy.similarity_targets.numpy()[0, 1], 1 / np.sqrt(2), rtol=1e-2)


def test_random_strategies_are_reproducible_by_step():
    grads = tf.constant(np.random.default_rng(2).normal(size=(3, 50)), tf.float32)
    for name in ("pcgrad", "graddrop"):
        a, b = make(name), make(name)
        np.testing.assert_array_equal(
            a.combine_gradients(grads, tf.ones([3]), tf.constant(4, tf.int64))[0].numpy(),
            b.combine_gradients(grads, tf.ones([3]), tf.constant(4, tf.int64))[0].numpy(),
        )
    rlw = make("rlw")
    assert not np.allclose(rlw.loss_weights(tf.ones([3]), 1).numpy(), rlw.loss_weights(tf.ones([3]), 2).numpy())


def test_representation_option_is_a_serialized_argument_of_gradient_strategies():
    for name in sorted(GRADIENT_LEVEL - {"db_mtl", "excess_mtl", "moco"}):  # those keep per-coordinate state
        strategy = W.WEIGHTINGS.get(name)(uses_representation=True)
        assert strategy.uses_representation
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(strategy))
        assert restored.uses_representation and restored.get_config()["uses_representation"] is True
    assert not W.MGDAUB(uses_representation=False).uses_representation
    assert W.PCGrad().get_config()["uses_representation"] is False
    assert "uses_representation" not in W.get("dwa").get_config()
    with pytest.raises(ValueError, match="weights the losses.*uses_representation=True"):
        W.DynamicWeightAverage(uses_representation=True)
    with pytest.raises(ValueError, match="Received: uses_representation='yes'"):
        W.PCGrad(uses_representation="yes")


def test_gram_based_strategies_work_from_the_gram_matrix():
    rng = np.random.default_rng(3)
    grads = tf.constant(rng.normal(size=(3, 2, 4)), tf.float32)  # [T, B, D] representation gradients
    rows = tf.reshape(grads, [3, -1]).numpy()
    expected_weights = {  # each method's own function of the [T, P] rows
        "mgda": W.min_norm_weights(rows), "imtl": W.imtl_weights(rows), "upgrad": W.upgrad_weights(rows),
        "cagrad": W.cagrad_weights(rows), "nash_mtl": W.nash_mtl_weights(rows),
        "aligned_mtl": W.aligned_mtl_weights(rows), "mgda_ub": W.min_norm_weights(rows),
        "fairgrad": W.fairgrad_weights(rows), "config": W.config_weights(rows), "sdmgrad": W.sdmgrad_weights(rows)[0],
    }  # fmt: skip
    for name, weights in expected_weights.items():
        direction, got = make(name).combine_representation_gradients(grads, tf.ones([3]), tf.constant(0, tf.int64))
        np.testing.assert_allclose(got.numpy(), weights.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)
        by_hand = np.einsum("t,tbd->bd", weights.numpy(), grads.numpy())  # Σ_i w_i ∇_Z L_i, per example
        np.testing.assert_allclose(direction.numpy(), by_hand, rtol=1e-4, atol=1e-5, err_msg=name)


class _Doubled(W.PCGrad):
    """Overrides PCGrad's weights: still a Gram-based strategy (the base class decides the kind)."""

    def weights_from_gram(self, gram_matrix, losses, step):
        return 2.0 * super().weights_from_gram(gram_matrix, losses, step)


def test_the_kind_is_the_base_class_not_which_methods_are_overridden():
    strategy = _Doubled()
    assert strategy.gram_based and strategy.uses_gradients
    strategy.configure([mk.Task(f"t{i}", kind="regression") for i in range(2)])
    grads = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    direction, weights = strategy.combine_representation_gradients(grads[:, tf.newaxis], tf.ones([2]), 0)
    np.testing.assert_allclose(direction.numpy()[0], [2.0, 2.0])
    np.testing.assert_allclose(weights.numpy(), [2.0, 2.0])
