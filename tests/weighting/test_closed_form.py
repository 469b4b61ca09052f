"""Closed-form checks of the weighting maths (the module-level functions on `[T, P]` gradients)."""

import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk
from mtl_keras import weighting as W


def gram(grads):
    """`G Gᵀ`, computed here rather than with the library's own helper."""
    return tf.matmul(grads, grads, transpose_b=True)


def combine(weights, grads):
    """`Gᵀ w` for weights `[T]` and gradients `[T, P]`."""
    return tf.linalg.matvec(grads, tf.cast(weights, grads.dtype), transpose_a=True)


CONFLICT = [[1.0, 0.0], [-1.0, 1.0]]


def _t(values):
    return tf.constant(values, tf.float32)


def test_pcgrad_two_conflicting_vectors():
    # g1·g2 = -1: g1 -> g1 + ½ g2 = (½, ½); g2 -> g2 + g1 = (0, 1).
    np.testing.assert_allclose(W.pcgrad_weights(_t(CONFLICT)).numpy(), [2.0, 1.5], atol=1e-6)
    np.testing.assert_allclose(combine(W.pcgrad_weights(_t(CONFLICT)), _t(CONFLICT)).numpy(), [0.5, 1.5], atol=1e-6)
    coefficients = W.pcgrad_coefficients_from_gram(gram(_t(CONFLICT))).numpy()
    np.testing.assert_allclose(coefficients @ np.array(CONFLICT), [[0.5, 0.5], [0.0, 1.0]], atol=1e-6)


def test_pcgrad_leaves_agreeing_gradients_alone_and_follows_the_order():
    grads = _t([[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(W.pcgrad_weights(grads).numpy(), [1.0, 1.0], atol=1e-6)
    # Three tasks: the order task 0 visits the others changes its projected gradient.
    grads = _t([[1.0, 0.0, 0.0], [-1.0, 1.0, 0.0], [-1.0, 0.0, 1.0]])
    forward = W.pcgrad_coefficients_from_gram(gram(grads), [0, 1, 2]).numpy()[0]
    backward = W.pcgrad_coefficients_from_gram(gram(grads), [2, 1, 0]).numpy()[0]
    assert not np.allclose(forward, backward)
    projected = forward @ grads.numpy()
    np.testing.assert_allclose(projected, [0.25, 0.5, 0.25], atol=1e-6)


def test_gradvac_with_zero_targets_is_pcgrad_and_moves_targets():
    grads = _t(CONFLICT)
    weights, targets = W.gradvac_weights(grads, tf.zeros([2, 2]), beta=0.5)
    np.testing.assert_allclose(weights.numpy(), W.pcgrad_weights(grads).numpy(), atol=1e-6)
    cosine = -1.0 / np.sqrt(2.0)
    np.testing.assert_allclose(targets.numpy(), [[0.0, 0.5 * cosine], [0.5 * cosine, 0.0]], atol=1e-6)


def test_gradvac_raises_cosine_to_the_target():
    grads = _t(CONFLICT)
    coefficients, _ = W.gradvac_coefficients_from_gram(gram(grads), _t([[0.0, 0.3], [0.3, 0.0]]), beta=0.0)
    g1 = coefficients.numpy()[0] @ np.array(CONFLICT)
    g2 = np.array(CONFLICT[1])
    np.testing.assert_allclose(g1 @ g2 / np.linalg.norm(g1) / np.linalg.norm(g2), 0.3, atol=1e-5)


@pytest.mark.parametrize(
    "grads",
    [[[1.0, 0.0], [0.0, 1.0]], [[2.0, 1.0], [-1.0, 3.0]], [[1.0, 2.0], [2.0, 4.0]], [[3.0, 0.0], [-1.0, 0.1]]],
)
def test_mgda_two_tasks_closed_form(grads):
    g1, g2 = np.array(grads)
    expected = np.clip((g2 - g1) @ g2 / np.sum((g1 - g2) ** 2), 0.0, 1.0)
    alpha = W.min_norm_weights(_t(grads)).numpy()
    np.testing.assert_allclose(alpha, [expected, 1.0 - expected], atol=1e-6)


def test_mgda_frank_wolfe_reaches_the_min_norm_point():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(4, 6))
    alpha = W.min_norm_weights(_t(grads), iterations=500).numpy()
    assert np.all(alpha >= -1e-7)
    np.testing.assert_allclose(alpha.sum(), 1.0, atol=1e-5)
    best = np.linalg.norm(alpha @ grads) ** 2
    for _ in range(2000):  # no random point of the simplex is better
        point = rng.dirichlet(np.ones(4))
        assert np.linalg.norm(point @ grads) ** 2 >= best - 1e-4
    # Three tasks where the origin is in the hull: the min-norm point is 0.
    grads = _t([[1.0, 0.0], [-1.0, 1.0], [0.0, -1.0]])
    np.testing.assert_allclose(combine(W.min_norm_weights(grads), grads).numpy(), [0.0, 0.0], atol=1e-2)


def test_mgda_normalisations_map_back_to_raw_gradients():
    grads = _t([[2.0, 0.0], [0.0, 10.0]])
    # "l2": min-norm point of the unit vectors is (½, ½), i.e. weights (¼, 1/20) on the raw rows.
    np.testing.assert_allclose(W.mgda_weights(grads, normalization="l2").numpy(), [0.25, 0.05], atol=1e-6)
    with pytest.raises(ValueError, match="normalization"):
        W.mgda_weights(grads, normalization="max")


def test_cagrad_with_c_zero_is_the_mean_gradient():
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(3, 5)).astype("float32")
    np.testing.assert_allclose(W.cagrad_weights(_t(grads), c=0.0).numpy(), [1 / 3] * 3, atol=1e-6)


def test_cagrad_improves_the_worst_task():
    grads = _t([[1.0, 0.0], [-0.9, 0.5]])
    mean = grads.numpy().mean(0)
    direction = combine(W.cagrad_weights(grads, c=0.8, rescale=False), grads).numpy()
    worst = (grads.numpy() @ direction).min()
    assert worst > (grads.numpy() @ mean).min()
    assert np.linalg.norm(direction - mean) <= 0.8 * np.linalg.norm(mean) + 1e-4


def test_imtl_gives_equal_projections():
    np.testing.assert_allclose(W.imtl_weights(_t([[1.0, 0.0], [0.0, 3.0]])).numpy(), [0.75, 0.25], atol=1e-6)
    rng = np.random.default_rng(2)
    grads = rng.normal(size=(3, 6)) * np.array([[1.0], [5.0], [0.2]])
    alpha = W.imtl_weights(_t(grads)).numpy()
    np.testing.assert_allclose(alpha.sum(), 1.0, atol=1e-5)
    units = grads / np.linalg.norm(grads, axis=1, keepdims=True)
    projections = units @ (alpha @ grads)
    np.testing.assert_allclose(projections, projections[0], rtol=1e-4)


def test_nash_solves_the_bargaining_equation():
    rng = np.random.default_rng(3)
    grads = rng.normal(size=(3, 8))
    alpha = W.nash_mtl_weights(_t(grads), ridge=0.0).numpy()
    kernel = grads @ grads.T
    kernel = kernel / np.linalg.norm(kernel)
    assert np.all(alpha > 0)
    np.testing.assert_allclose(kernel @ alpha, 1.0 / alpha, rtol=1e-4)
    # Orthogonal gradients: α_i = 1 / √K_ii of the Gram matrix divided by its Frobenius norm.
    alpha = W.nash_mtl_weights(_t([[3.0, 0.0], [0.0, 4.0]]), ridge=0.0).numpy()
    np.testing.assert_allclose(alpha, [337**0.25 / 3, 337**0.25 / 4], rtol=1e-5)  # ‖K‖_F = √337


def test_aligned_mtl_equalises_singular_values():
    rng = np.random.default_rng(4)
    grads = rng.normal(size=(3, 6)) * np.array([[10.0], [1.0], [0.1]])
    matrix = W.aligned_mtl_matrix_from_gram(gram(_t(grads))).numpy().astype("float64")
    aligned = matrix @ grads
    singular = np.linalg.svd(aligned, compute_uv=False)
    np.testing.assert_allclose(singular, np.linalg.svd(grads, compute_uv=False).min(), rtol=1e-3)
    # Orthogonal gradients of equal norm are left unchanged.
    np.testing.assert_allclose(W.aligned_mtl_weights(_t([[2.0, 0.0], [0.0, 2.0]])).numpy(), [1.0, 1.0], atol=1e-5)


def test_upgrad_never_conflicts():
    np.testing.assert_allclose(combine(W.upgrad_weights(_t(CONFLICT)), _t(CONFLICT)).numpy(), [0.25, 0.75], atol=1e-5)
    rng = np.random.default_rng(5)
    for tasks, size in ((3, 4), (4, 6), (5, 9)):
        grads = rng.normal(size=(tasks, size)) * rng.uniform(0.1, 10.0, size=(tasks, 1))
        direction = combine(W.upgrad_weights(_t(grads)), _t(grads)).numpy()
        assert np.all(grads @ direction >= -1e-5 * np.sum(grads**2, axis=1)), grads @ direction
    # Agreeing gradients: plain mean.
    grads = _t([[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(W.upgrad_weights(grads).numpy(), [0.5, 0.5], atol=1e-5)


def test_graddrop_keeps_one_sign_per_coordinate():
    grads = _t([[1.0, -2.0, 0.0], [3.0, 1.0, 0.0]])
    # Coordinate 0: purity 1 -> everything kept. Coordinate 1: purity ⅓; U = 0.9 keeps negatives.
    direction = W.graddrop_direction(grads, _t([0.5, 0.9, 0.5])).numpy()
    np.testing.assert_allclose(direction, [4.0, -2.0, 0.0])
    direction = W.graddrop_direction(grads, _t([0.5, 0.1, 0.5])).numpy()
    np.testing.assert_allclose(direction, [4.0, 1.0, 0.0])
    np.testing.assert_allclose(W.graddrop_direction(grads, _t([0.5, 0.1, 0.5]), leak=1.0).numpy(), [4.0, -1.0, 0.0])


def test_graddrop_on_the_representation_decides_signs_from_batch_sums():
    # [T=2, B=2, D=2]. Feature 0: task 0 sums to +3 (its examples +4 and -1), task 1 to +1: purity 1,
    # so both tasks' whole columns are kept, the negative example entry included. Feature 1: task 0
    # sums to -2, task 1 to +1: purity ½(1 - 1/3) = ⅓; U = 0.5 keeps the negative task (0) for every example.
    grads = _t([[[4.0, -1.0], [-1.0, -1.0]], [[0.5, 0.5], [0.5, 0.5]]])
    strategy = W.GradDrop(uses_representation=True)
    strategy.configure([mk.Task(n, kind="regression") for n in "ab"])
    signal = tf.reduce_sum(grads, axis=1, keepdims=True)
    direction = W.graddrop_direction(grads, _t([[0.3, 0.5]]), signal=signal).numpy()
    np.testing.assert_allclose(direction, [[4.5, -1.0], [-0.5, -1.0]])
    # U below the purity of feature 1 keeps the positive task (1) instead, again for the whole batch.
    direction = W.graddrop_direction(grads, _t([[0.3, 0.1]]), signal=signal).numpy()
    np.testing.assert_allclose(direction, [[4.5, 0.5], [-0.5, 0.5]])
    # The strategy's hook draws one U per feature: every example of a feature shares its mask.
    direction, weights = strategy.combine_representation_gradients(grads, tf.ones([2]), tf.constant(3, tf.int64))
    assert direction.shape == (2, 2) and weights.numpy().tolist() == [1.0, 1.0]
    np.testing.assert_allclose(direction.numpy()[:, 0], [4.5, -0.5])
    assert direction.numpy()[:, 1].tolist() in ([-1.0, -1.0], [0.5, 0.5])


def test_uncertainty_optimum_is_log_loss():
    losses = _t([0.5, 2.0, 7.0])
    optimum = tf.Variable(tf.math.log(losses))
    with tf.GradientTape() as tape:
        objective, _ = W.uncertainty_objective(losses, optimum)
    np.testing.assert_allclose(tape.gradient(objective, optimum).numpy(), 0.0, atol=1e-6)
    # Gradient-descent steps from s = 0 approach log L.
    s = tf.Variable(tf.zeros([3]))
    for _ in range(300):
        with tf.GradientTape() as tape:
            objective, _ = W.uncertainty_objective(losses, s)
        s.assign_sub(0.1 * tape.gradient(objective, s))
    np.testing.assert_allclose(s.numpy(), np.log(losses.numpy()), atol=1e-3)


def test_dwa_weights_for_given_ratios():
    ratios = np.array([1.0, 0.5, 0.8], "float32")
    expected = 3 * np.exp(ratios / 2.0) / np.exp(ratios / 2.0).sum()
    np.testing.assert_allclose(W.dwa_weights(_t(ratios), 2.0).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(W.dwa_weights(_t([0.7, 0.7]), 2.0).numpy(), [1.0, 1.0], rtol=1e-6)


def test_rlw_weights_are_a_reproducible_softmax():
    seed = tf.constant([3, 7], tf.int64)
    weights = W.rlw_weights(4, seed).numpy()
    np.testing.assert_allclose(weights.sum(), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(weights, W.rlw_weights(4, seed).numpy())
    assert not np.allclose(weights, W.rlw_weights(4, tf.constant([3, 8], tf.int64)).numpy())


def test_famo_objective_and_logit_gradient():
    losses = _t([1.0, 4.0])
    objective, weights = W.famo_objective(losses, tf.zeros([2]), epsilon=0.0)
    # z = (½, ½), c = ½ (1 + ¼) = ⅝: weights z / (c L) = (⅘, ⅕), objective Σ z/c log L.
    np.testing.assert_allclose(weights.numpy(), [0.8, 0.2], rtol=1e-6)
    np.testing.assert_allclose(objective.numpy(), 0.8 * np.log(4.0), rtol=1e-6)
    # The task that improved most gets the positive gradient (its logit goes down).
    gradient = W.famo_logit_gradient(tf.zeros([2]), _t([0.5, 0.1])).numpy()
    assert gradient[0] > 0 > gradient[1]
    np.testing.assert_allclose(gradient.sum(), 0.0, atol=1e-7)


def test_gradnorm_gradient_pushes_towards_targets():
    weights = _t([1.0, 1.0])
    gradient, targets = W.gradnorm_weight_gradient(weights, _t([4.0, 1.0]), _t([1.0, 1.0]), alpha=1.0)
    np.testing.assert_allclose(targets.numpy(), [2.5, 2.5])
    np.testing.assert_allclose(gradient.numpy(), [4.0, -1.0])  # shrink the big-gradient task's weight
