"""Projecting Conflicting Gradients (Yu et al., NeurIPS 2020)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import check_int, combine, gram, num_tasks_of, random_orders, step_seed, xla_compiled
from mtl_keras.weighting.base import WEIGHTINGS, GramWeighting


def _as_orders(orders, num_tasks):
    if orders is None:
        orders = tf.range(num_tasks)
    orders = tf.cast(orders, tf.int32)
    if orders.shape.rank == 1:
        orders = tf.tile(orders[tf.newaxis], [num_tasks, 1])
    return orders


@xla_compiled(min_tasks=3)
def pcgrad_coefficients_from_gram(gram_matrix, orders=None):
    """PCGrad in coefficient form: `C` `[T, T]` such that the projected gradients are `C G`.

    Task `i` starts from `g_i` (row `e_i` of `C`) and, for every other task `j` in the order
    `orders[i]`, if its current gradient `g_i'` conflicts with `g_j` (`g_i' · g_j < 0`) it is
    projected onto the normal plane of `g_j`: `g_i' ← g_i' - (g_i' · g_j / ||g_j||²) g_j`. All inner
    products come from the Gram matrix `K = G Gᵀ`; zero rows never conflict (no division by zero).

    Args:
        gram_matrix: float tensor `[T, T]`, `K = G Gᵀ`.
        orders: int tensor `[T]` (one order for every task) or `[T, T]` (row `i`: the order in
            which task `i` visits the others). Defaults to `0, 1, ..., T-1`.

    Returns:
        Float tensor `[T, T]`.
    """
    num_tasks = num_tasks_of(gram_matrix)
    orders = _as_orders(orders, num_tasks)
    squared_norms = tf.linalg.diag_part(gram_matrix)
    eye = tf.eye(num_tasks, dtype=gram_matrix.dtype)
    rows = []
    for i in range(num_tasks):
        coefficients = eye[i]
        for k in range(num_tasks):
            j = orders[i, k]
            dot = tf.reduce_sum(coefficients * tf.gather(gram_matrix, j, axis=1))
            scale = tf.math.divide_no_nan(tf.minimum(dot, 0.0), tf.gather(squared_norms, j))
            scale = tf.where(tf.equal(j, i), tf.zeros_like(scale), scale)
            coefficients = coefficients - scale * tf.one_hot(j, num_tasks, dtype=gram_matrix.dtype)
        rows.append(coefficients)
    return tf.stack(rows)


def pcgrad_weights_from_gram(gram_matrix, orders=None):
    """Task weights `w` `[T]` with `Gᵀ w = Σ_i g_i^PC`, from `K = G Gᵀ`. See `pcgrad_coefficients_from_gram`."""
    return tf.reduce_sum(pcgrad_coefficients_from_gram(gram_matrix, orders), axis=0)


def pcgrad_weights(grads, orders=None):
    """Task weights `w` `[T]` with `Gᵀ w = Σ_i g_i^PC` (the PCGrad direction) for `grads` `[T, P]`.

    Example: `g_1 = (1, 0)`, `g_2 = (-1, 1)` conflict; `g_1^PC = (½, ½) = g_1 + ½ g_2`,
    `g_2^PC = (0, 1) = g_1 + g_2`, so `w = (2, 3/2)` and the direction is `(½, 3/2)`.
    """
    return pcgrad_weights_from_gram(gram(grads), orders)


pcgrad_coefficients = pcgrad_coefficients_from_gram  # former name


def pcgrad_direction(grads, orders=None):
    """`Gᵀ pcgrad_weights(G)` (kept for compatibility; `PCGrad()(G).direction` is the same with random orders)."""
    return combine(pcgrad_weights(grads, orders), grads)


@WEIGHTINGS.register("pcgrad")
@keras.saving.register_keras_serializable(package="mtl_keras")
class PCGrad(GramWeighting):
    """PCGrad: gradient surgery that removes the conflicting component between task gradients.

    For every task `i` (and the other tasks `j` in a random order, drawn per task and per step):

        if g_i · g_j < 0:   g_i ← g_i - (g_i · g_j / ||g_j||²) g_j,

    and the shared update is `Σ_i g_i` (after surgery). The projections are computed exactly in the
    `T x T` space of the Gram matrix, so the result is also reported as task weights
    `w` with `d = Σ_i w_i g_i` (logged, and used by the model for the tasks' own parameters).
    Orders are stateless random from `(seed, step)`.

    Args:
        seed: integer seed of the random task orders. Defaults to 0.
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting="pcgrad")

    Reference:
        Yu, Kumar, Gupta, Levine, Hausman & Finn, "Gradient Surgery for Multi-Task Learning",
        NeurIPS 2020.
    """

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.seed = check_int("PCGrad", "seed", seed, minimum=0)

    def weights_from_gram(self, gram_matrix, losses, step):
        orders = random_orders(num_tasks_of(gram_matrix), step_seed(self.seed, step, salt=31))
        return pcgrad_weights_from_gram(gram_matrix, orders)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
