"""Conflict-Averse Gradient descent (Liu, Liu, Jin, Stone & Liu, NeurIPS 2021)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import active_mask, check_int, check_number, fixed_iterations, gram, xla_compiled
from mtl_keras.weighting.base import WEIGHTINGS, GramWeighting


@xla_compiled
def cagrad_dual_from_gram(gram_matrix, c=0.5, iterations=200, step_size=4.0):
    """Solves CAGrad's dual `min_{w ∈ Δ} g_w · g_0 + √φ ||g_w||` with `φ = c² ||g_0||²`.

    `g_w = Σ_i w_i g_i`, `g_0` is the mean of the (non-zero) gradients. The problem is scale
    invariant, so `K` is first divided by its mean diagonal; then `iterations` steps of
    exponentiated gradient (mirror descent on the simplex, which keeps `w` on the simplex without
    projection) with steps `step_size / √(t+1)`, keeping the best iterate. On random problems with
    up to 5 tasks the objective is within ~1e-3 (relative to the mean squared gradient norm) of
    SciPy's SLSQP solution. Zero rows get weight 0.

    Args:
        gram_matrix: float tensor `[T, T]`, `K = G Gᵀ`.
        c: the conflict-aversion radius `c >= 0`.
        iterations: number of mirror-descent steps.
        step_size: initial mirror-descent step on the normalised problem.

    Returns:
        `(w, g0_weights, lam)`: the dual weights `[T]`, the weights `[T]` of `g_0` (`1/n` on the
        `n` non-zero rows) and the scalar `λ = √φ / ||g_w||` of the primal solution
        `d = g_0 + λ g_w`.
    """
    active = active_mask(gram_matrix)
    count = tf.reduce_sum(active)
    g0_weights = tf.math.divide_no_nan(active, count)
    scale = tf.math.divide_no_nan(count, tf.reduce_sum(tf.linalg.diag_part(gram_matrix)))
    kernel = gram_matrix * scale
    k_g0 = tf.linalg.matvec(kernel, g0_weights)
    sqrt_phi = c * tf.sqrt(tf.maximum(tf.reduce_sum(g0_weights * k_g0), 0.0))
    is_active = active > 0

    def norm_of(w):
        return tf.sqrt(tf.maximum(tf.reduce_sum(w * tf.linalg.matvec(kernel, w)), 1e-12))

    def objective(w):
        return tf.reduce_sum(w * k_g0) + sqrt_phi * norm_of(w)

    def step(t, w, best, best_value):
        gradient = k_g0 + sqrt_phi * tf.linalg.matvec(kernel, w) / norm_of(w)
        rate = step_size * tf.math.rsqrt(t + 1.0)
        logits = tf.math.log(tf.maximum(w, 1e-30)) - rate * gradient
        logits = tf.where(is_active, logits, tf.fill(tf.shape(logits), tf.constant(-1e30, logits.dtype)))
        w = tf.nn.softmax(logits) * active
        value = objective(w)
        better = value < best_value
        return t + 1.0, w, tf.where(better, w, best), tf.where(better, value, best_value)

    start = (tf.zeros([], gram_matrix.dtype), g0_weights, g0_weights, objective(g0_weights))
    _, _, w, _ = fixed_iterations(step, start, iterations)
    lam = tf.math.divide_no_nan(sqrt_phi, norm_of(w))
    return w, g0_weights, lam


cagrad_dual_weights = cagrad_dual_from_gram  # former name


def cagrad_weights(grads, c=0.5, iterations=200, rescale=True):
    """Task weights `v` `[T]` of the CAGrad direction `d = Gᵀ v = g_0 + (√φ / ||g_w||) g_w`.

    With `rescale`, `d` is divided by `1 + c²` (the authors' code default). With `c = 0`, `d` is
    the mean gradient.
    """
    return cagrad_weights_from_gram(gram(grads), c, iterations, rescale)


def cagrad_weights_from_gram(gram_matrix, c=0.5, iterations=200, rescale=True):
    """`cagrad_weights` from the Gram matrix `K = G Gᵀ` `[T, T]`."""
    w, g0_weights, lam = cagrad_dual_from_gram(gram_matrix, c, iterations)
    weights = g0_weights + lam * w
    if rescale:
        weights = weights / (1.0 + c * c)
    return weights


@WEIGHTINGS.register("cagrad")
@keras.saving.register_keras_serializable(package="mtl_keras")
class CAGrad(GramWeighting):
    """CAGrad: the update that most improves the worst task within a ball around the mean gradient.

        max_d min_i g_i · d   subject to   ||d - g_0|| <= c ||g_0||,

    with `g_0` the mean gradient. Its dual is `min_{w ∈ Δ} g_w · g_0 + √φ ||g_w||` with
    `φ = c² ||g_0||²` and `g_w = Σ w_i g_i`, solved in the `T x T` Gram space by a fixed number of
    exponentiated-gradient (mirror-descent) steps; then `d = g_0 + (√φ / ||g_w||) g_w`, divided by
    `1 + c²` when `rescale` (as in the authors' code). `c = 0` gives the mean gradient. The mean is
    over the tasks with a non-zero gradient row (the sampled ones).

    Args:
        c: the radius `c >= 0`. Defaults to 0.5 (the paper's value for NYUv2 / CityScapes).
        iterations: mirror-descent steps (`>= 1`). Defaults to 200.
        rescale: divide the direction by `1 + c²`. Defaults to True.
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=CAGrad(c=0.4))

    Reference:
        Liu, Liu, Jin, Stone & Liu, "Conflict-Averse Gradient Descent for Multi-task Learning",
        NeurIPS 2021.
    """

    def __init__(self, c=0.5, iterations=200, rescale=True, **kwargs):
        super().__init__(**kwargs)
        self.c = check_number("CAGrad", "c", c, minimum=0)
        self.iterations = check_int("CAGrad", "iterations", iterations, minimum=1)
        self.rescale = bool(rescale)

    def weights_from_gram(self, gram_matrix, losses, step):
        return cagrad_weights_from_gram(gram_matrix, self.c, self.iterations, self.rescale)

    def get_config(self):
        return {**super().get_config(), "c": self.c, "iterations": self.iterations, "rescale": self.rescale}
