"""Nash-MTL's defining property, `d · g_i = ||K||_F / α_i > 0` for every task, in float32 and float64."""

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import weighting as W


def _check_bargaining(grads, alpha, rtol):
    grads = np.asarray(grads, "float64")
    alpha = np.asarray(alpha, "float64")
    kernel = grads @ grads.T
    improvements = grads @ (alpha @ grads)  # d · g_i, in float64
    assert np.all(alpha > 0) and np.all(np.isfinite(alpha))
    assert np.all(improvements > 0), improvements
    np.testing.assert_allclose(improvements * alpha, np.linalg.norm(kernel), rtol=rtol)


def test_the_issue_example_improves_both_tasks():
    """With the former default ridge, task 0's loss went up along this update (d · g = [-0.0066, 0.0715])."""
    grads = [[0.1, 0.002], [-1.0, 0.0]]
    for dtype, rtol in (("float32", 2e-3), ("float64", 1e-9)):
        alpha = W.nash_mtl_weights(tf.constant(grads, dtype)).numpy()
        _check_bargaining(grads, alpha, rtol)
        direction = W.NashMTL()(np.array(grads, dtype)).direction.numpy().astype("float64")
        assert np.all(np.array(grads) @ direction > 0)


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-3), ("float64", 1e-8)])
def test_random_gradients_satisfy_the_bargaining_equation(dtype, rtol):
    rng = np.random.default_rng(0)
    for _ in range(30):
        tasks = int(rng.choice([2, 3, 5]))
        grads = rng.normal(size=(tasks, int(rng.integers(tasks + 2, 30)))) * np.exp(rng.uniform(-3, 3, size=(tasks, 1)))
        grads = grads.astype(dtype)
        _check_bargaining(grads, W.nash_mtl_weights(grads).numpy(), rtol)


@pytest.mark.parametrize(
    "dtype, rtol, angles", [("float32", 3e-3, (0.3, 0.1, 0.03, 0.02)), ("float64", 1e-8, (0.1, 0.01, 1e-3))]
)
def test_near_opposite_gradients_satisfy_it_too(dtype, rtol, angles):
    """`g_2` at angle `π - δ` from `g_1`: the weights grow like `1/δ` and the improvements shrink like `δ`."""
    for delta in angles:
        for scales in ((1.0, 1.0), (0.1, 3.0), (5.0, 0.02)):
            grads = np.array([[1.0, 0.0, 0.0], [-np.cos(delta), np.sin(delta), 0.0]]) * np.array(scales)[:, None]
            grads = np.vstack([grads, [[0.3, 0.2, 1.0]]])  # and a third, unrelated task
            for rows in (grads[:2], grads):
                _check_bargaining(rows, W.nash_mtl_weights(rows.astype(dtype)).numpy(), rtol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_opposite_gradients_stay_finite_and_harmless(dtype):
    """No positive solution exists: the weights are capped (no NaN, no overflow) and the update harms no task."""
    for grads in (
        [[1.0, 0.0], [-1.0, 0.0]],
        [[2.0, 1.0], [-4.0, -2.0]],
        [[1.0, 0.0], [-1.0, 1e-6]],
        [[1e-3, 0.0], [-1e3, 1e-5]],
    ):
        grads = np.array(grads, dtype)
        for iterations in (20, 100):
            alpha = W.nash_mtl_weights(grads, iterations=iterations).numpy()
            assert np.all(np.isfinite(alpha)) and np.all(alpha > 0), alpha
            improvements = grads.astype("float64") @ (alpha.astype("float64") @ grads.astype("float64"))
            scale = np.linalg.norm(grads @ grads.T)
            assert np.all(improvements >= -1e-5 * scale), improvements


def test_float32_never_turns_nan_from_any_start():
    """The former ridge=0 solver turned NaN in float32 on some matrices with 100 iterations."""
    rng = np.random.default_rng(7)
    for _ in range(20):
        tasks = int(rng.choice([2, 4]))
        base = rng.normal(size=(1, 8))
        grads = base * rng.choice([-1.0, 1.0], size=(tasks, 1)) + 1e-3 * rng.normal(size=(tasks, 8))  # nearly collinear
        alpha = W.nash_mtl_weights(grads.astype("float32"), iterations=100).numpy()
        assert np.all(np.isfinite(alpha)) and np.all(alpha >= 0)


def test_ridge_is_an_option_that_moves_away_from_the_published_solution():
    grads = np.array([[0.1, 0.002], [-1.0, 0.0]])
    published = W.nash_mtl_weights(grads).numpy()
    ridged = W.nash_mtl_weights(grads, ridge=1e-4).numpy()
    assert np.all(ridged < published)
    assert (grads @ (ridged @ grads)).min() < 0  # the old default's flaw, kept reachable on purpose
    np.testing.assert_allclose(W.NashMTL()(grads).weights.numpy(), published)
    assert W.NashMTL().ridge == 0.0
