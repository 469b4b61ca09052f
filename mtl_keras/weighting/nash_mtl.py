"""Nash-MTL (Navon et al., ICML 2022)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import active_mask, alpha_fair_weights_from_gram, check_int, check_number, gram
from mtl_keras.weighting.base import WEIGHTINGS, GramWeighting


def nash_mtl_weights_from_gram(gram_matrix, iterations=20, ridge=0.0):
    """Nash bargaining weights: the positive solution `α` of `(K α)_i = 1 / α_i`, `K = G Gᵀ / ||G Gᵀ||_F`.

    The published solution: every task's improvement along `d = Gᵀ α` is `d · g_i = 1 / α_i > 0`
    (on the normalised `K`; on the raw gradients, `||K||_F / α_i`). `K` is divided by its
    Frobenius norm as in the authors' code, so the direction scales like the gradients. Solved by
    damped Newton steps on `½ αᵀKα - Σ log α_i` (see `alpha_fair_weights_from_gram`, of which this
    is the case `α = 1`), stable in float32; when the gradients are linearly dependent with a
    conflict (e.g. exactly opposite) there is no solution and the weights are capped instead of
    growing without bound. Zero rows (absent tasks) get weight 0.

    Args:
        gram_matrix: float tensor `[T, T]`.
        iterations: number of Newton steps.
        ridge: `>= 0` added to the normalised `K`'s diagonal. 0 (the default) is the published
            solution; a positive ridge trades it for smaller weights (`d · g_i = 1/α_i - ridge·α_i`,
            which can be negative).

    Returns:
        Float tensor `[T]` of non-negative weights.
    """
    active = active_mask(gram_matrix)
    kernel = tf.math.divide_no_nan(gram_matrix, tf.norm(gram_matrix))
    kernel = kernel + tf.cast(ridge, kernel.dtype) * tf.linalg.diag(active)
    return alpha_fair_weights_from_gram(kernel, 1.0, iterations)


def nash_mtl_weights(grads, iterations=20, ridge=0.0):
    """Nash-MTL weights `[T]` for per-task gradients `grads` `[T, P]` (see `nash_mtl_weights_from_gram`).

    Example: for orthogonal `g_1 = (3, 0)`, `g_2 = (0, 4)`, `K = diag(9, 16)`, `||K||_F = √337` and
    `α_i = 337^¼ / ||g_i||`.
    """
    return nash_mtl_weights_from_gram(gram(grads), iterations, ridge)


nash_weights = nash_mtl_weights  # former name
nash_weights_from_gram = nash_mtl_weights_from_gram  # former name


@WEIGHTINGS.register("nash_mtl")
@keras.saving.register_keras_serializable(package="mtl_keras")
class NashMTL(GramWeighting):
    """Nash-MTL: the shared update as the Nash bargaining solution between the tasks.

    The direction `d = Σ_i α_i g_i` maximises `Σ_i log(d · g_i)` in a ball; its weights solve

        G Gᵀ α = 1 / α   (element-wise),   α > 0,

    i.e. every task's directional improvement `d · g_i` equals `1 / α_i > 0`. The paper solves it
    with a sequence of convex programs (CVXPY); here the same solution is reached by damped Newton
    steps on the normalised Gram matrix, in TensorFlow (see `nash_mtl_weights_from_gram`). The
    authors also clip the shared gradient norm: `max_norm` does the same to the direction (weights
    scaled alike).

    Args:
        iterations: Newton steps (`>= 1`). Defaults to 20.
        ridge: `>= 0` added to the normalised Gram matrix's diagonal. Defaults to 0 (the published
            solution).
        max_norm: `None` or `> 0`: clip the direction's norm to it. Defaults to None.
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=NashMTL(max_norm=1.0))
    >>> NashMTL()([[3.0, 0.0], [0.0, 4.0]]).weights  # 337^¼ / (3, 4)

    Reference:
        Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik & Fetaya, "Multi-Task Learning as a
        Bargaining Game", ICML 2022.
    """

    def __init__(self, iterations=20, ridge=0.0, max_norm=None, **kwargs):
        super().__init__(**kwargs)
        self.iterations = check_int("NashMTL", "iterations", iterations, minimum=1)
        self.ridge = check_number("NashMTL", "ridge", ridge, minimum=0)
        self.max_norm = (
            None if max_norm is None else check_number("NashMTL", "max_norm", max_norm, minimum=0, strict=True)
        )

    def weights_from_gram(self, gram_matrix, losses, step):
        weights = nash_mtl_weights_from_gram(gram_matrix, self.iterations, self.ridge)
        if self.max_norm is not None:
            # ||Gᵀα||² = αᵀ K α: the direction's norm without forming it.
            norm = tf.sqrt(tf.maximum(tf.reduce_sum(weights * tf.linalg.matvec(gram_matrix, weights)), 0.0))
            factor = tf.minimum(1.0, tf.math.divide_no_nan(tf.cast(self.max_norm, gram_matrix.dtype), norm))
            weights = weights * tf.where(norm > 0, factor, 1.0)
        return weights

    def get_config(self):
        return {**super().get_config(), "iterations": self.iterations, "ridge": self.ridge, "max_norm": self.max_norm}
