"""Closed-form and small-matrix checks of FairGrad, STCH, DB-MTL, ExcessMTL, SDMGrad, ConFIG, GLS and MoCo."""

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import weighting as W


def _t(values, dtype="float32"):
    return tf.constant(values, dtype)


# ---------------------------------------------------------------------- FairGrad
@pytest.mark.parametrize("alpha", [0.5, 2.0, 5.0])
def test_fairgrad_solves_its_equation(alpha):
    """`G Gᵀ w = w^(-1/α)`: every task's improvement along `d = Gᵀ w` is `w_i^(-1/α)`."""
    rng = np.random.default_rng(0)
    for tasks in (2, 4):
        grads = rng.normal(size=(tasks, tasks + 4)) * rng.uniform(0.2, 5.0, size=(tasks, 1))
        w = W.fairgrad_weights(_t(grads, "float64"), alpha).numpy()
        assert np.all(w > 0)
        np.testing.assert_allclose(grads @ (w @ grads), w ** (-1.0 / alpha), rtol=1e-8)


def test_fairgrad_closed_forms():
    # Orthogonal rows: w_i = ||g_i||^(-2α/(α+1)).
    grads = _t([[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(W.fairgrad_weights(grads, alpha=1.0).numpy(), [1.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(W.fairgrad_weights(grads, alpha=3.0).numpy(), [1.0, 2.0**-1.5], rtol=1e-6)
    np.testing.assert_allclose(W.FairGrad(alpha=1.0)(grads).direction.numpy(), [1.0, 1.0], rtol=1e-6)
    # α = 1 is Nash-MTL's solution, which is taken on K / ||K||_F: the weights differ by √||K||_F.
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(3, 6))
    scale = np.sqrt(np.linalg.norm(grads @ grads.T))
    np.testing.assert_allclose(
        W.fairgrad_weights(grads, alpha=1.0).numpy() * scale, W.nash_mtl_weights(grads).numpy(), rtol=1e-7
    )


def test_fairgrad_favours_the_worst_task_more_as_alpha_grows():
    grads = _t([[1.0, 0.0], [0.3, 0.2]], "float64")  # task 1 has a small gradient
    shares = []
    for alpha in (0.5, 1.0, 2.0, 8.0):
        improvements = grads.numpy() @ W.FairGrad(alpha=alpha)(grads).direction.numpy()
        shares.append(improvements[1] / improvements[0])
    assert np.all(np.diff(shares) > 0), shares


# ---------------------------------------------------------------------- STCH
def test_stch_objective_is_the_smoothed_max():
    values = np.array([0.2, 1.5, -0.3])
    preference = np.array([1.0, 0.5, 2.0])
    mu = 0.4
    objective, gradient = W.stch_objective(_t(values, "float64"), mu, _t(preference, "float64"))
    scaled = preference * values / mu
    np.testing.assert_allclose(objective.numpy(), mu * np.log(np.exp(scaled).sum()), rtol=1e-12)
    np.testing.assert_allclose(gradient.numpy(), preference * np.exp(scaled) / np.exp(scaled).sum(), rtol=1e-12)
    # μ → 0: the Tchebycheff max; the bound max <= STCH <= max + μ log T.
    sharp, _ = W.stch_objective(_t(values, "float64"), 1e-3, _t(preference, "float64"))
    np.testing.assert_allclose(sharp.numpy(), np.max(preference * values), atol=1e-3 * np.log(3))
    assert np.max(preference * values) <= objective.numpy() <= np.max(preference * values) + mu * np.log(3)
    # A sampled mask leaves a task out.
    masked, gradient = W.stch_objective(_t(values), mu, sampled=_t([1.0, 0.0, 1.0]))
    np.testing.assert_allclose(masked.numpy(), mu * np.log(np.exp(values[[0, 2]] / mu).sum()), rtol=1e-6)
    assert gradient.numpy()[1] == 0.0


def test_stch_warms_up_on_log_losses_then_weights_by_the_normalised_log_losses():
    strategy = W.STCH(mu=0.5, warmup_steps=2)
    strategy(np.eye(2, dtype="float32"), losses=[2.0, 4.0], step=0)
    _, weights = strategy(np.eye(2, dtype="float32"), losses=[4.0, 8.0], step=1)
    np.testing.assert_allclose(weights.numpy(), [1 / 4, 1 / 8], rtol=1e-6)  # warm-up: Σ log L_i
    np.testing.assert_allclose(strategy.nadir.numpy(), [3.0, 6.0], rtol=1e-6)
    losses = np.array([1.5, 12.0])
    _, weights = strategy(np.eye(2, dtype="float32"), losses=losses, step=2)
    normalised = np.log(losses / np.array([3.0, 6.0]))
    softmax = np.exp(normalised / 0.5) / np.exp(normalised / 0.5).sum()
    np.testing.assert_allclose(weights.numpy(), 2 * softmax / losses, rtol=1e-5)
    np.testing.assert_allclose(strategy.nadir.numpy(), [3.0, 6.0], rtol=1e-6)  # fixed after the warm-up


# ---------------------------------------------------------------------- DB-MTL
def test_db_mtl_balances_log_loss_gradients_to_the_largest_norm():
    grads, losses = _t([[2.0, 0.0], [0.0, 1.0]]), _t([1.0, 4.0])
    np.testing.assert_allclose(W.db_mtl_weights(grads, losses).numpy(), [1.0, 2.0], rtol=1e-6)
    np.testing.assert_allclose(W.DBMTL(beta=0.0)(grads, losses=losses).direction.numpy(), [2.0, 2.0], rtol=1e-6)
    rng = np.random.default_rng(2)
    grads = rng.normal(size=(3, 5)) * np.array([[100.0], [1.0], [0.01]])
    losses = np.array([50.0, 1.0, 0.02])
    balanced = W.db_mtl_weights(_t(grads, "float64"), _t(losses, "float64")).numpy()[:, None] * grads
    norms = np.linalg.norm(balanced, axis=1)
    np.testing.assert_allclose(norms, norms.max(), rtol=1e-10)


def test_db_mtl_averages_the_log_loss_gradients():
    strategy = W.DBMTL(beta=0.9, beta_sigma=0.5)
    first, second = np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 2.0], [1.0, 1.0]])
    losses = np.array([1.0, 2.0])
    strategy(first, losses=losses)
    direction = strategy(second, losses=losses).direction.numpy()
    average = first / losses[:, None] * (1 - 0.9)  # step 1: β_1 = 0.9, from zero
    beta = 0.9 / 2**0.5  # step 2: β_2 = β / 2^σ
    average = beta * average + (1 - beta) * second / losses[:, None]
    norms = np.linalg.norm(average, axis=1)
    np.testing.assert_allclose(strategy.averages.numpy(), average, rtol=1e-6)
    np.testing.assert_allclose(direction, (norms.max() / norms) @ average, rtol=1e-6)


# ---------------------------------------------------------------------- ExcessMTL
def test_excess_mtl_risks_and_weight_updates_follow_the_formulas():
    strategy = W.ExcessMTL(step_size=0.5, epsilon=1e-7)
    steps = [np.array([[1.0, 2.0], [0.5, 0.0]]), np.array([[0.5, 1.0], [1.0, 1.0]]), np.array([[0.2, 0.1], [2.0, 0.0]])]
    squares = np.zeros((2, 2))
    weights = np.ones(2)
    initial = None
    for grads in steps:
        squares += grads**2
        risks = np.sum(grads**2 / (np.sqrt(squares) + 1e-7), axis=1)
        if initial is None:
            initial = risks  # the first step only records E(0)
        else:
            weights = weights * np.exp(0.5 * risks / initial)
            weights = 2 * weights / weights.sum()
        result = strategy(grads.astype("float32"))
        np.testing.assert_allclose(result.weights.numpy(), weights, rtol=1e-5)
        np.testing.assert_allclose(result.direction.numpy(), weights @ grads, rtol=1e-5)
    np.testing.assert_allclose(W.excess_mtl_risks(_t(steps[0]), _t(steps[0] ** 2), 0.0).numpy(), [3.0, 0.5], rtol=1e-6)


def test_excess_mtl_up_weights_the_task_far_from_its_optimum():
    """Task 0's gradient stays large (far from its optimum); task 1's shrinks (close to it)."""
    strategy = W.ExcessMTL(step_size=0.1)
    for step in range(20):
        result = strategy(np.array([[1.0, 0.5], [0.5 * 0.8**step, -0.2 * 0.8**step]], "float32"))
    assert result.weights.numpy()[0] > 1.0 > result.weights.numpy()[1]


# ---------------------------------------------------------------------- SDMGrad
@pytest.mark.parametrize("lam", [0.0, 0.3, 2.0])
def test_sdmgrad_reaches_the_two_task_closed_form(lam):
    """`min_{w ∈ Δ} ||Gᵀw + λ g_0||²` for two tasks is MGDA's closed form on `h_i = g_i + λ g_0`."""
    grads = np.array([[1.0, 0.2], [-0.6, 1.0]])
    g0 = grads.mean(axis=0)
    h = grads + lam * g0
    gamma = W.min_norm_two(h[0] @ h[0], h[0] @ h[1], h[1] @ h[1]).numpy()
    weights, w = W.sdmgrad_weights(_t(grads, "float64"), lam=lam, iterations=300)
    np.testing.assert_allclose(w.numpy(), [gamma, 1 - gamma], atol=1e-6)
    np.testing.assert_allclose(weights.numpy(), (w.numpy() + lam / 2) / (1 + lam), atol=1e-9)


def test_sdmgrad_limits_and_warm_start():
    rng = np.random.default_rng(3)
    grads = _t(rng.normal(size=(3, 6)), "float64")
    np.testing.assert_allclose(W.sdmgrad_weights(grads, lam=1e6)[0].numpy(), [1 / 3] * 3, atol=1e-5)  # mean gradient
    mgda = W.min_norm_weights(grads, iterations=2000).numpy()
    np.testing.assert_allclose(W.sdmgrad_weights(grads, lam=0.0, iterations=2000)[1].numpy(), mgda, atol=1e-3)
    strategy = W.SDMGrad(iterations=5)  # few steps per call: the warm start carries the solution on
    for step in range(60):
        result = strategy(grads, step=step)
    _, solution = W.sdmgrad_weights(grads, lam=0.3, iterations=2000)
    np.testing.assert_allclose(strategy.simplex_weights.numpy(), solution.numpy(), atol=1e-3)
    np.testing.assert_allclose(result.weights.numpy(), (solution.numpy() + 0.1) / 1.3, atol=1e-3)


# ---------------------------------------------------------------------- ConFIG
def test_config_closed_form_and_equal_cosines():
    np.testing.assert_allclose(W.config_weights(_t([[1.0, 0.0], [0.0, 2.0]])).numpy(), [1.5, 0.75], rtol=1e-6)
    rng = np.random.default_rng(4)
    for tasks in (2, 3, 5):
        grads = rng.normal(size=(tasks, 8)) * rng.uniform(0.1, 10.0, size=(tasks, 1))
        direction = W.ConFIG()(grads).direction.numpy()
        cosines = grads @ direction / np.linalg.norm(grads, axis=1) / np.linalg.norm(direction)
        np.testing.assert_allclose(cosines, cosines[0], rtol=1e-6)
        assert cosines[0] > 0
        units = grads / np.linalg.norm(grads, axis=1, keepdims=True)
        best = np.linalg.pinv(units) @ np.ones(tasks)  # the paper's formula, in the parameter space
        best /= np.linalg.norm(best)
        np.testing.assert_allclose(direction, np.sum(grads @ best) * best, rtol=1e-6)


def test_config_on_opposite_gradients_is_zero():
    np.testing.assert_allclose(W.ConFIG()(np.array([[1.0, 0.0], [-2.0, 0.0]], "float32")).direction.numpy(), [0.0, 0.0])


# ---------------------------------------------------------------------- GLS
def test_gls_is_the_geometric_mean_and_its_gradient():
    losses = _t([0.5, 2.0, 8.0], "float64")
    objective, weights = W.gls_objective(losses, epsilon=1e-300)
    np.testing.assert_allclose(objective.numpy(), 2.0, rtol=1e-12)  # (0.5 · 2 · 8)^(1/3)
    with tf.GradientTape() as tape:
        tape.watch(losses)
        value = tf.exp(tf.reduce_mean(tf.math.log(losses)))
    np.testing.assert_allclose(weights.numpy(), tape.gradient(value, losses).numpy(), rtol=1e-12)
    np.testing.assert_allclose(weights.numpy(), 2.0 / (3 * losses.numpy()), rtol=1e-12)
    masked, weights = W.gls_objective(losses, _t([1.0, 1.0, 0.0], "float64"), epsilon=1e-300)
    np.testing.assert_allclose(masked.numpy(), 1.0, rtol=1e-12)
    assert weights.numpy()[2] == 0.0


def test_gls_is_invariant_to_each_losss_scale():
    grads = np.array([[1.0, 0.0], [0.0, 1.0]])
    base = W.GLS()(grads, losses=[1.0, 4.0]).direction.numpy()
    scaled = W.GLS()(grads * [[1.0], [100.0]], losses=[1.0, 400.0]).direction.numpy()  # task 1 in other units
    np.testing.assert_allclose(scaled, base * 10.0, rtol=1e-6)  # the same direction: GM scales by √100


# ---------------------------------------------------------------------- MoCo
def test_moco_lambda_step_is_a_projected_gradient_step():
    tracked_gram = np.array([[2.0, -0.5], [-0.5, 1.0]])
    lam = np.array([0.5, 0.5])
    moved = lam - 0.4 * tracked_gram @ lam
    expected = moved - (moved.sum() - 1.0) / 2  # both stay positive: the projection shifts equally
    np.testing.assert_allclose(W.moco_lambda_update(_t(tracked_gram), _t(lam), 0.4).numpy(), expected, rtol=1e-6)
    # A long step lands on a vertex.
    np.testing.assert_allclose(W.moco_lambda_update(_t(tracked_gram), _t(lam), 10.0).numpy(), [0.0, 1.0])


def test_moco_tracks_the_gradients_and_converges_to_the_mgda_weights():
    strategy = W.MoCo(beta=0.5, beta_sigma=0.0, gamma=0.5, gamma_sigma=0.0)
    grads = np.array([[1.0, 0.2, 0.0], [-0.5, 1.0, 0.3]], "float32")
    result = strategy(grads)
    np.testing.assert_allclose(strategy.tracked.numpy(), 0.5 * grads, rtol=1e-6)  # y_1 = y_0 - β (y_0 - g), y_0 = 0
    for step in range(1, 150):
        result = strategy(grads, step=step)
    np.testing.assert_allclose(strategy.tracked.numpy(), grads, rtol=1e-5)
    np.testing.assert_allclose(result.weights.numpy(), W.min_norm_weights(grads).numpy(), atol=1e-4)
    np.testing.assert_allclose(result.direction.numpy(), result.weights.numpy() @ grads, rtol=1e-5, atol=1e-6)
