"""Nash-MTL (Navon et al., ICML 2022)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import (
    active_mask,
    check_int,
    check_number,
    fixed_iterations,
    gram,
    num_tasks_of,
    xla_compiled,
)
from mtl_keras.weighting.base import WEIGHTINGS, Weighting


@xla_compiled
def nash_weights_from_gram(gram_matrix, iterations=20, ridge=1e-4):
    """Nash bargaining weights: the positive solution `α` of `(K α)_i = 1 / α_i`, `K = G Gᵀ`.

    `K` is first divided by its Frobenius norm (as in the authors' code), so the weights do not
    depend on the gradients' scale, and `ridge · I` is added so that a solution exists when the
    gradients are linearly dependent (e.g. exactly opposite). The equation is the optimality
    condition of the strictly convex `f(α) = ½ αᵀKα - Σ_i log α_i`, minimised by a fixed number of
    damped Newton steps (step `1 / (1 + λ)` with `λ` the Newton decrement while `λ > ¼`, full steps
    after; this keeps `α > 0`), starting from `α_i = 1 / √K_ii`, the exact solution for orthogonal
    gradients. Zero rows are left out (weight 0).

    Args:
        gram_matrix: float tensor `[T, T]`.
        iterations: number of Newton steps.
        ridge: the regularisation added to the normalised `K`.

    Returns:
        Float tensor `[T]` of non-negative weights.
    """
    num_tasks = num_tasks_of(gram_matrix)
    active = active_mask(gram_matrix)
    outer = active[:, tf.newaxis] * active[tf.newaxis, :]
    kernel = tf.math.divide_no_nan(gram_matrix, tf.norm(gram_matrix))
    eye = tf.eye(num_tasks, dtype=gram_matrix.dtype)
    kernel = (kernel + ridge * eye) * outer + eye * (1.0 - active[tf.newaxis, :])
    start = tf.math.rsqrt(tf.linalg.diag_part(kernel))

    def newton(alpha):
        gradient = tf.linalg.matvec(kernel, alpha) - 1.0 / alpha
        hessian = kernel + tf.linalg.diag(1.0 / tf.square(alpha))
        delta = tf.linalg.solve(hessian, gradient[:, tf.newaxis])[:, 0]
        decrement = tf.sqrt(tf.maximum(tf.reduce_sum(gradient * delta), 0.0))
        rate = tf.where(decrement > 0.25, 1.0 / (1.0 + decrement), 1.0)
        return tf.maximum(alpha - rate * delta, 1e-12)

    alpha = fixed_iterations(newton, start, iterations)
    return alpha * active


def nash_weights(grads, iterations=20, ridge=1e-4):
    """Nash-MTL weights `[T]` for per-task gradients `grads` `[T, P]` (see `nash_weights_from_gram`)."""
    return nash_weights_from_gram(gram(grads), iterations, ridge)


@WEIGHTINGS.register("nash_mtl")
@keras.saving.register_keras_serializable(package="mtl_keras")
class NashMTL(Weighting):
    """Nash-MTL: the shared update as the Nash bargaining solution between the tasks.

    The direction `d = Σ_i α_i g_i` maximises `Σ_i log(d · g_i)` in a ball; its weights solve

        G Gᵀ α = 1 / α   (element-wise),   α > 0,

    i.e. every task's directional improvement `d · g_i` equals `1 / α_i`. The paper solves it with
    a sequence of convex programs (CVXPY); here the same solution is reached as the minimiser of
    `½ αᵀ G Gᵀ α - Σ log α_i` by a fixed number of damped Newton steps on the normalised Gram
    matrix, in TensorFlow (see `nash_weights_from_gram`). The authors also clip the shared
    gradient norm: `max_norm` does the same to the direction (weights scaled alike).

    Args:
        iterations: Newton steps (`>= 1`). Defaults to 20.
        ridge: `>= 0` added to the normalised Gram matrix's diagonal. Defaults to 1e-4.
        max_norm: `None` or `> 0`: clip the direction's norm to it. Defaults to None.
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=NashMTL(max_norm=1.0))

    Reference:
        Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik & Fetaya, "Multi-Task Learning as a
        Bargaining Game", ICML 2022.
    """

    uses_gradients = True

    def __init__(self, iterations=20, ridge=1e-4, max_norm=None, **kwargs):
        super().__init__(**kwargs)
        self.iterations = check_int("NashMTL", "iterations", iterations, minimum=1)
        self.ridge = check_number("NashMTL", "ridge", ridge, minimum=0)
        self.max_norm = None if max_norm is None else check_number("NashMTL", "max_norm", max_norm, minimum=0, strict=True)

    def weights_from_gram(self, gram_matrix, losses, step):
        weights = nash_weights_from_gram(gram_matrix, self.iterations, self.ridge)
        if self.max_norm is not None:
            # ||Gᵀα||² = αᵀ K α: the direction's norm without forming it.
            norm = tf.sqrt(tf.maximum(tf.reduce_sum(weights * tf.linalg.matvec(gram_matrix, weights)), 0.0))
            factor = tf.minimum(1.0, tf.math.divide_no_nan(tf.cast(self.max_norm, gram_matrix.dtype), norm))
            weights = weights * tf.where(norm > 0, factor, 1.0)
        return weights

    def get_config(self):
        return {**super().get_config(), "iterations": self.iterations, "ridge": self.ridge, "max_norm": self.max_norm}
