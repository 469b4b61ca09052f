"""Laws of the gradient-level strategies, checked on random gradient matrices (Hypothesis).

Each law is one the method promises, not a property of this implementation:

- no conflict: MGDA, UPGrad, Nash-MTL, FairGrad, ConFIG and two-task PCGrad return
  a direction `d` with `g_i · d >= 0` for every task, i.e. to first order no task's loss increases;
- MGDA's direction is the min-norm point of the convex hull of the gradients, so (its optimality
  condition) `g_i · d >= |d|²` for every task;
- CAGrad maximises the worst task's improvement `min_i g_i · d` in a ball around the mean gradient
  `g_0` (radius `c |g_0|`), which lies in the ball: it does at least as well as `g_0`;
- IMTL's direction has equal projections on the unit gradients `g_i / |g_i|` (their common value
  can be negative: with weights summing to 1, IMTL-G may return a direction that conflicts with
  every task, e.g. rows (1, 0, 1)/√2, (0, 1, 1)/8, (0, 1, 0); so IMTL is not in the no-conflict law,
  nor is Aligned-MTL, which promises aligned (orthogonal, equal-norm) rows, not `g_i · d >= 0`);
- weights are finite, and non-negative where the method keeps them on the simplex or positive;
- symmetric methods do not depend on the order of the tasks: permuting the rows of `G` permutes
  the weights and leaves the direction unchanged.

Tolerances: the solvers run a fixed number of float32 iterations, so a law holds up to a small
multiple of `|g_i| |d|` (cosines to 2e-3); the generated matrices are kept well conditioned (row
norms within a factor 24, smallest singular value of the normalised rows >= 0.1), where the
iterative solvers are accurate.
"""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mtl_keras import weighting as W

SIZE = 6  # gradient size: at least the number of tasks, so that the rows can be independent
COSINE_TOLERANCE = 2e-3


@st.composite
def gradient_matrices(draw, min_tasks=2, max_tasks=4):
    """Well-conditioned `[T, SIZE]` float32 gradient matrices with rows of different scales."""
    num_tasks = draw(st.integers(min_tasks, max_tasks))
    entries = st.floats(-1.0, 1.0, width=32, allow_subnormal=False)
    directions = draw(arrays(np.float32, (num_tasks, SIZE), elements=entries, fill=st.nothing()))
    scales = draw(arrays(np.float32, (num_tasks, 1), elements=st.floats(0.125, 3.0, width=32), fill=st.nothing()))
    norms = np.linalg.norm(directions, axis=1, keepdims=True)
    assume(norms.min() > 0.1)
    unit = directions / norms
    assume(np.linalg.svd(unit, compute_uv=False).min() >= 0.1)
    return (unit * scales).astype("float32")


def run(name, grads):
    combination = W.get(name)(tf.constant(grads))
    weights = None if combination.weights is None else combination.weights.numpy()
    return combination.direction.numpy(), weights


def cosines(grads, direction):
    return grads @ direction / (np.linalg.norm(grads, axis=1) * np.linalg.norm(direction) + 1e-12)


NO_CONFLICT = ["mgda", "upgrad", "nash_mtl", "fairgrad", "config"]


@pytest.mark.parametrize("name", NO_CONFLICT)
@given(grads=gradient_matrices())
def test_direction_conflicts_with_no_task(name, grads):
    direction, weights = run(name, grads)
    assert np.isfinite(direction).all() and np.linalg.norm(direction) > 0
    assert cosines(grads, direction).min() >= -COSINE_TOLERANCE, cosines(grads, direction)
    if weights is not None:
        assert np.isfinite(weights).all()


@given(grads=gradient_matrices(max_tasks=2))
def test_two_task_pcgrad_conflicts_with_neither_task(grads):
    direction, _ = run("pcgrad", grads)
    assert cosines(grads, direction).min() >= -COSINE_TOLERANCE


@given(grads=gradient_matrices())
def test_mgda_direction_is_the_min_norm_point_of_the_hull(grads):
    direction, weights = run("mgda", grads)
    np.testing.assert_allclose(weights.sum(), 1.0, atol=1e-4)  # a convex combination ...
    np.testing.assert_allclose(grads.T @ weights, direction, atol=1e-4)  # ... of the gradients
    # optimality of the min-norm point d: no gradient has a smaller projection than |d|² on d
    slack = grads @ direction - direction @ direction
    assert slack.min() >= -1e-2 * np.max(np.sum(grads**2, axis=1)), slack


@given(grads=gradient_matrices())
def test_cagrad_improves_the_worst_task_at_least_as_much_as_the_mean_gradient(grads):
    c = 0.5
    combination = W.CAGrad(c=c, rescale=False)(tf.constant(grads))
    direction = combination.direction.numpy()
    mean = grads.mean(axis=0)
    # the direction stays in the ball |d - g0| <= c |g0| ...
    assert np.linalg.norm(direction - mean) <= c * np.linalg.norm(mean) * (1 + 1e-3) + 1e-5
    # ... and the worst task improves at least as much as under g0, which is in the ball
    worst, worst_mean = (grads @ direction).min(), (grads @ mean).min()
    assert worst >= worst_mean - 1e-2 * np.linalg.norm(mean) * np.linalg.norm(grads, axis=1).max()


@given(grads=gradient_matrices())
def test_imtl_projections_on_the_unit_gradients_are_equal(grads):
    direction, _ = run("imtl", grads)
    units = grads / np.linalg.norm(grads, axis=1, keepdims=True)
    projections = units @ direction
    np.testing.assert_allclose(projections, projections.mean(), rtol=1e-3, atol=1e-4 * np.abs(direction).max())


@pytest.mark.parametrize("name", ["mgda", "upgrad", "nash_mtl", "fairgrad", "cagrad"])
@given(grads=gradient_matrices())
def test_weights_are_finite_and_non_negative(name, grads):
    _, weights = run(name, grads)
    assert np.isfinite(weights).all() and weights.min() >= 0.0, weights


@pytest.mark.parametrize("name", ["mgda", "upgrad", "nash_mtl", "fairgrad", "cagrad", "imtl", "config", "aligned_mtl"])
@given(grads=gradient_matrices(min_tasks=3), data=st.data())
def test_symmetric_methods_do_not_depend_on_the_task_order(name, grads, data):
    order = np.asarray(data.draw(st.permutations(range(len(grads)))))
    assume(not np.array_equal(order, np.arange(len(grads))))
    direction, weights = run(name, grads)
    permuted_direction, permuted_weights = run(name, grads[order])
    scale = np.abs(direction).max()
    np.testing.assert_allclose(permuted_direction, direction, rtol=2e-3, atol=2e-3 * scale)
    if weights is not None:
        np.testing.assert_allclose(permuted_weights, weights[order], rtol=2e-3, atol=2e-3 * np.abs(weights).max())
