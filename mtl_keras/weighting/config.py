"""ConFIG: conflict-free training (Liu, Chu & Thuerey, ICLR 2025)."""

import keras
import numpy as np
import tensorflow as tf

from mtl_keras.weighting._ops import active_mask, gram, xla_compiled
from mtl_keras.weighting.base import WEIGHTINGS, GramWeighting


@xla_compiled(min_tasks=3)
def config_weights_from_gram(gram_matrix):
    """ConFIG weights `w` `[T]` from `K = G Gᵀ`: `d = Gᵀ w` has the same positive cosine with every gradient.

    With the unit gradients `u_i = g_i / ||g_i||` stacked as `U`, the conflict-free unit direction
    is `x / ||x||` with `x = U⁺ 1` (pseudo-inverse; `u_i · x = 1` for every task when the `u_i`
    are linearly independent), and its length is the sum of the gradients' projections on it:

        d = (Σ_i g_i · x̂) x̂,   x̂ = x / ||x||.

    In Gram space, `x = Uᵀ c` with `c = C⁺ 1` for the cosine matrix `C = U Uᵀ`, so
    `x = Gᵀ (c / ||g||)` and `w = (1ᵀ K v / vᵀ K v) v` with `v = c / ||g||`. Zero rows (absent
    tasks) are left out. Exactly opposite gradients give `x = 0` and a zero direction.

    Args:
        gram_matrix: float tensor `[T, T]`.

    Returns:
        Float tensor `[T]`.
    """
    active = active_mask(gram_matrix)
    inverse_norms = tf.math.divide_no_nan(
        tf.ones_like(active), tf.sqrt(tf.maximum(tf.linalg.diag_part(gram_matrix), 0.0))
    )
    cosines = gram_matrix * inverse_norms[:, tf.newaxis] * inverse_norms[tf.newaxis, :]
    cosines = cosines + tf.linalg.diag(1.0 - active)  # absent rows: identity, right-hand side 0
    # Pseudo-inverse of the symmetric C by its eigen-decomposition (XLA's SVD is less accurate).
    eigenvalues, eigenvectors = tf.linalg.eigh(cosines)
    tolerance = tf.reduce_max(eigenvalues) * active.shape[0] * float(np.finfo(cosines.dtype.as_numpy_dtype).eps)
    inverse = tf.where(eigenvalues > tolerance, 1.0 / tf.where(eigenvalues > tolerance, eigenvalues, 1.0), 0.0)
    c = tf.linalg.matvec(eigenvectors, inverse * tf.linalg.matvec(eigenvectors, active, transpose_a=True))
    v = c * inverse_norms * active
    k_v = tf.linalg.matvec(gram_matrix, v)
    squared_norm = tf.reduce_sum(v * k_v)  # ||x||²
    length = tf.reduce_sum(k_v * active)  # Σ_i g_i · x
    return tf.math.divide_no_nan(length, squared_norm) * v


def config_weights(grads):
    """ConFIG weights `[T]` for per-task gradients `grads` `[T, P]` (see `config_weights_from_gram`).

    Example: `g_1 = (1, 0)`, `g_2 = (0, 2)`: `x̂ = (1, 1)/√2`, projections `1/√2` and `2/√2`, so
    `d = (3/2, 3/2)` and `w = (3/2, 3/4)`.
    """
    return config_weights_from_gram(gram(grads))


@WEIGHTINGS.register("config")
@keras.saving.register_keras_serializable(package="mtl_keras")
class ConFIG(GramWeighting):
    """ConFIG: the update with equal, positive cosine similarity to every task gradient.

    Conflict-free updates are those with `g_i · d > 0` for every task; ConFIG picks the one whose
    direction makes the *same* angle with every gradient (so no task is favoured by its gradient's
    norm), found with the pseudo-inverse of the unit gradients, and sets its length to the sum of
    the gradients' projections on that direction:

        x = [u_1, ..., u_T]ᵀ⁺ 1,   x̂ = x / ||x||,   d = (Σ_i g_iᵀ x̂) x̂,   u_i = g_i / ||g_i||.

    Computed exactly in the `T x T` Gram space (see `config_weights_from_gram`). Absent tasks (zero
    rows) are left out. The momentum variant of the paper (M-ConFIG, one task's gradient per
    step) is not implemented.

    Args:
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting="config")
    >>> ConFIG()([[1.0, 0.0], [0.0, 2.0]]).direction  # (3/2, 3/2)

    Reference:
        Liu, Chu & Thuerey, "ConFIG: Towards Conflict-free Training of Physics Informed Neural
        Networks", ICLR 2025.
    """

    def weights_from_gram(self, gram_matrix, losses, step):
        return config_weights_from_gram(gram_matrix)
