"""Unconflicting Projection of Gradients, UPGrad (Quinton & Rey, 2024)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import active_mask, check_int, fixed_iterations, gram, num_tasks_of, xla_compiled
from mtl_keras.weighting.base import WEIGHTINGS, GramWeighting


@xla_compiled
def dual_cone_projection_from_gram(gram_matrix, lower_bounds, iterations=100):
    """Weights `v` such that `Gᵀ v` is the projection of `Gᵀ u` onto the dual cone `{x : G x >= 0}`.

    By duality (Quinton & Rey, Prop. 1), the projection of `Gᵀ u` is `Gᵀ v` with
    `v = argmin_{v >= u} vᵀ K v`, `K = G Gᵀ`. This small bound-constrained QP is solved for every row
    of `lower_bounds` at once by `iterations` sweeps of exact coordinate descent
    (`v_k ← max(u_k, v_k - (K v)_k / K_kk)`, which is scale invariant; zero rows are never moved).
    Coordinate descent converges linearly; it is fast when the gradients are linearly independent
    (the usual case, `P >> T`) and slower when `K` is singular (more tasks than dimensions).

    Args:
        gram_matrix: float tensor `[T, T]`.
        lower_bounds: float tensor `[R, T]`, one `u` per row.
        iterations: number of coordinate-descent sweeps.

    Returns:
        Float tensor `[R, T]`.
    """
    num_tasks = num_tasks_of(gram_matrix)
    diagonal = tf.linalg.diag_part(gram_matrix)
    lower_bounds = tf.cast(lower_bounds, gram_matrix.dtype)

    def sweep(v):
        for k in range(num_tasks):
            column = v[:, k]
            gradient = tf.linalg.matvec(v, gram_matrix[:, k])
            updated = tf.maximum(lower_bounds[:, k], column - tf.math.divide_no_nan(gradient, diagonal[k]))
            v = v + (updated - column)[:, tf.newaxis] * tf.one_hot(k, num_tasks, dtype=v.dtype)[tf.newaxis, :]
        return v

    return fixed_iterations(sweep, lower_bounds, iterations)


def upgrad_weights_from_gram(gram_matrix, iterations=100):
    """UPGrad weights `[T]`: the mean over tasks of the weights of each row's dual-cone projection.

    Zero rows are left out of the mean and get weight 0.
    """
    num_tasks = num_tasks_of(gram_matrix)
    active = active_mask(gram_matrix)
    projections = dual_cone_projection_from_gram(gram_matrix, tf.eye(num_tasks, dtype=gram_matrix.dtype), iterations)
    mean = tf.math.divide_no_nan(tf.linalg.matvec(projections, active, transpose_a=True), tf.reduce_sum(active))
    return mean * active


dual_cone_projection_weights = dual_cone_projection_from_gram  # former name


def upgrad_weights(grads, iterations=100):
    """UPGrad weights `[T]` for per-task gradients `grads` `[T, P]`; `Gᵀ w` conflicts with no task.

    Example: for `g_1 = (1, 0)`, `g_2 = (-1, 1)` the projections are `(½, ½)` and `(0, 1)`, and the
    direction `(¼, ¾)` has a non-negative inner product with both rows.
    """
    return upgrad_weights_from_gram(gram(grads), iterations)


@WEIGHTINGS.register("upgrad")
@keras.saving.register_keras_serializable(package="mtl_keras")
class UPGrad(GramWeighting):
    """UPGrad: projects every task gradient onto the dual cone of all of them, then averages.

    The dual cone `{x : g_i · x >= 0 ∀i}` holds the directions that conflict with no task. UPGrad
    (Jacobian descent's "unconflicting projection of gradients") returns

        d = (1/T) Σ_i π(g_i),   π = Euclidean projection onto the dual cone,

    so `g_j · d >= 0` for every task, and `d = g` when the gradients do not conflict. Each
    projection is computed in the `T x T` Gram space as a small bound-constrained quadratic program
    solved by a fixed number of coordinate-descent sweeps (see `dual_cone_projection_weights`).
    The mean is over the tasks with a non-zero gradient row.

    Args:
        iterations: coordinate-descent sweeps (`>= 1`). Defaults to 100.
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting="upgrad")

    Reference:
        Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", arXiv:2406.16232, 2024.
    """

    def __init__(self, iterations=100, **kwargs):
        super().__init__(**kwargs)
        self.iterations = check_int("UPGrad", "iterations", iterations, minimum=1)

    def weights_from_gram(self, gram_matrix, losses, step):
        return upgrad_weights_from_gram(gram_matrix, self.iterations)

    def get_config(self):
        return {**super().get_config(), "iterations": self.iterations}
