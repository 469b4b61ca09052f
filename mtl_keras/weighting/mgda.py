"""Multiple-Gradient Descent Algorithm (Sener & Koltun, NeurIPS 2018), and its upper-bound variant."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import active_mask, check_int, fixed_iterations, gram, num_tasks_of, xla_compiled
from mtl_keras.weighting.base import WEIGHTINGS, GramWeighting

NORMALIZATIONS = ("none", "l2", "loss", "loss+")


def min_norm_two(k11, k12, k22):
    """`γ = argmin_{γ ∈ [0, 1]} ||γ g_1 + (1 - γ) g_2||² = clip((g_2 - g_1) · g_2 / ||g_1 - g_2||², 0, 1)`.

    Args:
        k11, k12, k22: the inner products `g_1·g_1`, `g_1·g_2`, `g_2·g_2` (scalars).

    Returns:
        The weight `γ` of `g_1` (`½` when `g_1 = g_2`).
    """
    denominator = k11 - 2.0 * k12 + k22
    gamma = tf.math.divide_no_nan(k22 - k12, denominator)
    return tf.where(denominator > 0, tf.clip_by_value(gamma, 0.0, 1.0), 0.5 * tf.ones_like(gamma))


@xla_compiled(min_tasks=3)  # two tasks: the closed form
def min_norm_weights_from_gram(gram_matrix, iterations=100):
    """Weights `α` on the simplex minimising `||Σ_i α_i g_i||²`, from the Gram matrix `K = G Gᵀ`.

    For two tasks the closed form `min_norm_two`; otherwise Frank-Wolfe from the uniform point:
    at each step the vertex `t = argmin_i (K α)_i` and an exact line search
    `α ← (1 - γ) α + γ e_t` (the two-vector problem between `Gᵀα` and `g_t`), a fixed
    `iterations` times. Zero rows are left out (weight 0); all-zero input gives all-zero weights.

    Args:
        gram_matrix: float tensor `[T, T]`.
        iterations: number of Frank-Wolfe steps (`T > 2`).

    Returns:
        Float tensor `[T]`.
    """
    num_tasks = num_tasks_of(gram_matrix)
    active = active_mask(gram_matrix)
    uniform = tf.math.divide_no_nan(active, tf.reduce_sum(active))
    if num_tasks == 1:
        return active
    if num_tasks == 2:
        gamma = min_norm_two(gram_matrix[0, 0], gram_matrix[0, 1], gram_matrix[1, 1])
        both = tf.stack([gamma, 1.0 - gamma])
        return tf.where(tf.reduce_sum(active) > 1.5, both, uniform)
    is_active = active > 0

    def step(alpha):
        k_alpha = tf.linalg.matvec(gram_matrix, alpha)
        vertex = tf.argmin(
            tf.where(is_active, k_alpha, tf.fill(tf.shape(k_alpha), tf.constant(float("inf"), k_alpha.dtype))),
            output_type=tf.int32,
        )
        vv = tf.reduce_sum(alpha * k_alpha)
        vt = tf.gather(k_alpha, vertex)
        tt = tf.gather_nd(gram_matrix, tf.stack([vertex, vertex])[tf.newaxis])[0]
        gamma = tf.clip_by_value(tf.math.divide_no_nan(vv - vt, vv - 2.0 * vt + tt), 0.0, 1.0)
        return (1.0 - gamma) * alpha + gamma * tf.one_hot(vertex, num_tasks, dtype=alpha.dtype) * active

    return fixed_iterations(step, uniform, iterations)


def min_norm_weights(grads, iterations=100):
    """The MGDA weights `α = argmin_{α ∈ Δ} ||Σ_i α_i g_i||²` for per-task gradients `grads` `[T, P]`.

    Example: for `g_1 = (1, 0)` and `g_2 = (0, 1)`, `α = (½, ½)` and the min-norm point is `(½, ½)`.
    """
    return min_norm_weights_from_gram(gram(grads), iterations)


def mgda_weights(grads, losses=None, normalization="none", iterations=100):
    """MGDA weights on the (optionally normalised) gradients, mapped back to the raw gradients.

    The min-norm problem is solved on `g_i / n_i` with `n_i` = 1 (`"none"`), `||g_i||` (`"l2"`),
    `L_i` (`"loss"`) or `L_i ||g_i||` (`"loss+"`), as in the authors' code; the returned weights
    are `α_i / n_i`, so that `Gᵀ w = Σ_i α_i g_i / n_i`.
    """
    return mgda_weights_from_gram(gram(grads), losses, normalization, iterations)


def mgda_weights_from_gram(gram_matrix, losses=None, normalization="none", iterations=100):
    """`mgda_weights` from the Gram matrix `K = G Gᵀ` `[T, T]` (normalising `g_i` scales `K_ij` by `1/(n_i n_j)`)."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}. Received: normalization={normalization!r}")
    if normalization == "none":
        return min_norm_weights_from_gram(gram_matrix, iterations)
    scale = tf.ones([num_tasks_of(gram_matrix)], gram_matrix.dtype)
    if normalization in ("l2", "loss+"):
        scale = scale * tf.sqrt(tf.maximum(tf.linalg.diag_part(gram_matrix), 0.0))
    if normalization in ("loss", "loss+"):
        scale = scale * tf.cast(losses, gram_matrix.dtype)
    inverse = tf.math.divide_no_nan(tf.ones_like(scale), scale)
    alpha = min_norm_weights_from_gram(gram_matrix * inverse[:, tf.newaxis] * inverse[tf.newaxis, :], iterations)
    return alpha * inverse


@WEIGHTINGS.register("mgda")
@keras.saving.register_keras_serializable(package="mtl_keras")
class MGDA(GramWeighting):
    """MGDA: the min-norm point of the convex hull of the task gradients as the common direction.

        α* = argmin_{α ≥ 0, Σα = 1} ||Σ_i α_i g_i||²,   d = Σ_i α*_i g_i.

    `d` is a descent direction for every task (or 0 at a Pareto-stationary point). Solved in the
    `T x T` Gram space: closed form for two tasks, Frank-Wolfe with exact line search and a fixed
    number of steps otherwise (see `min_norm_weights_from_gram`). Tasks whose gradient row is zero
    (not sampled) are left out. The weights `α` sum to 1.

    Args:
        normalization: gradient normalisation before solving: `"none"` (the paper's algorithm),
            `"l2"`, `"loss"` or `"loss+"` (used in the authors' code). Defaults to `"none"`.
        iterations: Frank-Wolfe steps for three or more tasks (`>= 1`). Defaults to 100.
        uses_representation: see `Weighting`. Defaults to False (True for `MGDAUB`).
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting="mgda")

    Reference:
        Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018.
    """

    def __init__(self, normalization="none", iterations=100, **kwargs):
        super().__init__(**kwargs)
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"{type(self).__name__}: normalization must be one of {NORMALIZATIONS}. "
                f"Received: normalization={normalization!r}"
            )
        self.normalization = normalization
        self.iterations = check_int(type(self).__name__, "iterations", iterations, minimum=1)

    @property
    def needs_losses(self):
        """The `"loss"` and `"loss+"` normalisations divide by the losses."""
        return self.normalization in ("loss", "loss+")

    def weights_from_gram(self, gram_matrix, losses, step):
        return mgda_weights_from_gram(gram_matrix, losses, self.normalization, self.iterations)

    def get_config(self):
        return {**super().get_config(), "normalization": self.normalization, "iterations": self.iterations}


@WEIGHTINGS.register("mgda_ub")
@keras.saving.register_keras_serializable(package="mtl_keras")
class MGDAUB(MGDA):
    """MGDA-UB: MGDA on the gradients with respect to the shared representation (an upper bound).

    Sener & Koltun bound the MGDA objective by replacing the per-task gradients of the shared
    parameters with the gradients of the losses with respect to the shared representation `Z`
    (the body's output), `∇_Z L_i`, which needs one backward pass for all tasks; the weights `α` are
    the min-norm weights of those rows, and the shared parameters then follow `Σ_i α_i ∇θ L_i`.
    The maths is exactly `MGDA`'s: this class only sets `uses_representation = True`, so the model
    hands the rows `∇_Z L_i` (`[T, B, ...]`) to `combine_representation_gradients`, which solves the
    min-norm problem on their Gram matrix (over the global batch under `tf.distribute`).

    Args:
        normalization: see `MGDA`. Defaults to `"none"`.
        iterations: see `MGDA`. Defaults to 100.
        uses_representation: see `Weighting`. Defaults to True (False gives `MGDA`).
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting="mgda_ub")

    Reference:
        Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018, §3.3.
    """

    uses_representation = True
