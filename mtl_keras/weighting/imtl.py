"""Impartial Multi-Task Learning, gradient part IMTL-G (Liu et al., ICLR 2021)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import active_mask, gram
from mtl_keras.weighting.base import WEIGHTINGS, GramWeighting


def imtl_weights_from_gram(gram_matrix):
    """IMTL-G weights `α` (`Σα = 1`) from `K = G Gᵀ`: `d = Gᵀα` has equal projections on all `u_i = g_i/||g_i||`.

    The conditions `d · u_i = d · u_j` for all tasks and `Σ α_i = 1` are linear: with
    `M_ij = u_i · g_j = K_ij / ||g_i||` they read `M α = λ 1`, hence `α ∝ M⁻¹ 1`. This is the paper's
    closed form `α_{2:T} = g_1 Uᵀ (D Uᵀ)⁻¹`, `α_1 = 1 - Σ α_{2:T}` (with `D`, `U` the differences
    of gradients and of unit gradients against task 1), written without a reference task so that
    zero rows can be left out (their block is replaced by the identity and their weight is 0). A
    pseudo-inverse handles linearly dependent gradients.

    Args:
        gram_matrix: float tensor `[T, T]`.

    Returns:
        Float tensor `[T]`.
    """
    active = active_mask(gram_matrix)
    inverse_norms = tf.math.divide_no_nan(
        tf.ones_like(active), tf.sqrt(tf.maximum(tf.linalg.diag_part(gram_matrix), 0.0))
    )
    projections = gram_matrix * inverse_norms[:, tf.newaxis]
    outer = active[:, tf.newaxis] * active[tf.newaxis, :]
    system = projections * outer + tf.linalg.diag(1.0 - active)
    solution = tf.linalg.matvec(tf.linalg.pinv(system), active)
    return tf.math.divide_no_nan(solution, tf.reduce_sum(solution)) * active


def imtl_weights(grads):
    """IMTL-G weights `[T]` for per-task gradients `grads` `[T, P]` (see `imtl_weights_from_gram`).

    Example: for `g_1 = (1, 0)`, `g_2 = (0, 3)`, `α = (¾, ¼)` and `d = (¾, ¾)`, whose projections on
    both unit gradients are `¾`.
    """
    return imtl_weights_from_gram(gram(grads))


@WEIGHTINGS.register("imtl")
@keras.saving.register_keras_serializable(package="mtl_keras")
class IMTL(GramWeighting):
    """IMTL-G: the combination of task gradients whose projections on every task's unit gradient are equal.

    With `u_i = g_i / ||g_i||`, IMTL-G finds `d = Σ_i α_i g_i`, `Σ α_i = 1`, such that
    `d · u_i = d · u_j` for all tasks, so no task dominates the shared update:

        α_{2:T} = g_1 Uᵀ (D Uᵀ)⁻¹,   α_1 = 1 - Σ_{i>1} α_i,
        D = [g_1 - g_2, ..., g_1 - g_T]ᵀ,   U = [u_1 - u_2, ..., u_1 - u_T]ᵀ,

    computed in closed form in the `T x T` Gram space (see `imtl_weights_from_gram`). Only the
    gradient part (IMTL-G) is implemented; the paper's loss-scale part (IMTL-L) is not.

    Args:
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting="imtl")

    Reference:
        Liu, Li, Kuang, Xue, Chen, Yang, Liao & Zhang, "Towards Impartial Multi-task Learning",
        ICLR 2021.
    """

    def weights_from_gram(self, gram_matrix, losses, step):
        return imtl_weights_from_gram(gram_matrix)
