"""Stochastic direction-oriented multi-objective gradient descent, SDMGrad (Xiao, Ban & Ji, NeurIPS 2023)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import (
    active_mask,
    check_int,
    check_number,
    fixed_iterations,
    gram,
    project_to_simplex,
    read,
    xla_compiled,
)
from mtl_keras.weighting.base import WEIGHTINGS, GramWeighting


@xla_compiled
def sdmgrad_weights_from_gram(gram_matrix, start=None, lam=0.3, iterations=20, learning_rate=1.0, momentum=0.5):
    """SDMGrad: the simplex weights `w` of `min_{w ∈ Δ} ½ ||Gᵀw + λ g_0||²` and the direction's weights.

    `g_0` is the mean of the (non-zero) gradients. The objective's gradient in `w` is
    `K w + λ K 1/n` (`K = G Gᵀ`), so the problem is solved in the `T x T` Gram space, by
    `iterations` projected heavy-ball steps from `start` (the previous step's solution in the
    paper's algorithm). `K` is divided by its trace, so its eigenvalues are at most 1 and steps
    up to `2 (1 + momentum)` converge. (The authors' code takes steps of 5 on `K` divided by the
    squared mean gradient norm, about `T` times larger: they overshoot whenever two tasks' cosine
    is below ~0.7, and `w` then jumps between vertices of the simplex.) The direction is
    `d = (Gᵀ w + λ g_0) / (1 + λ)`: the mean gradient for `λ → ∞`, the MGDA direction for
    `λ = 0`. Zero rows (absent tasks) are left out.

    Args:
        gram_matrix: float tensor `[T, T]`.
        start: float tensor `[T]` on the simplex of the present tasks, or `None` (uniform).
        lam: the regularisation `λ >= 0` towards the mean gradient.
        iterations: number of projected steps.
        learning_rate, momentum: the inner heavy-ball steps (on `K / trace(K)`).

    Returns:
        `(weights, w)`: the direction's weights `(w + λ/n) / (1 + λ)` `[T]` and the simplex
        solution `w` `[T]`.
    """
    dtype = gram_matrix.dtype
    active = active_mask(gram_matrix)
    count = tf.reduce_sum(active)
    mean_weights = tf.math.divide_no_nan(active, count)
    trace = tf.reduce_sum(tf.linalg.diag_part(gram_matrix) * active)
    kernel = tf.math.divide_no_nan(gram_matrix, trace)
    pull = lam * tf.linalg.matvec(kernel, mean_weights)
    if start is None:
        w = mean_weights
    else:
        w = tf.cast(start, dtype) * active
        w = tf.where(tf.reduce_sum(w) > 0, tf.math.divide_no_nan(w, tf.reduce_sum(w)), mean_weights)

    def step(w, velocity):
        velocity = momentum * velocity + tf.linalg.matvec(kernel, w) + pull
        w = project_to_simplex(w - learning_rate * velocity, active) * active
        return w, velocity

    w, _ = fixed_iterations(step, (w, tf.zeros_like(w)), iterations)
    return (w + lam * mean_weights) / (1.0 + lam), w


def sdmgrad_weights(grads, start=None, lam=0.3, iterations=20):
    """SDMGrad's direction weights `[T]` and simplex solution `[T]` for `grads` `[T, P]` (see `sdmgrad_weights_from_gram`)."""
    return sdmgrad_weights_from_gram(gram(grads), start, lam, iterations)


@WEIGHTINGS.register("sdmgrad")
@keras.saving.register_keras_serializable(package="mtl_keras")
class SDMGrad(GramWeighting):
    """SDMGrad: an MGDA-type direction kept close to the mean gradient, with warm-started weights.

    Direction-oriented multi-objective learning looks for the update that most improves the
    worst task while staying near a target direction, here the mean gradient `g_0`. Its
    regularised dual is

        min_{w ∈ Δ} ½ ||Gᵀ w + λ g_0||²,   d = (Gᵀ w + λ g_0) / (1 + λ),

    solved by a few projected gradient steps per training step, warm-started from the previous
    step's `w` (a non-trainable `[T]` state): the stochastic algorithm of the paper, whose
    convergence rests on this slowly moving `w` (see `sdmgrad_weights_from_gram`). `λ = 0` gives
    MGDA; large `λ` the mean gradient.

    Adaptation: the paper's unbiased variant evaluates `K` and `g_0` on independent batches; the
    strategy sees one batch, so all come from it (as in most re-implementations). An absent task
    (zero row) keeps its `w_i`: the solve is over the present tasks, stored back with their
    previous total weight.

    Args:
        lam: `λ >= 0`. Defaults to 0.3 (the authors' default).
        iterations: projected steps per training step (`>= 1`). Defaults to 20.
        learning_rate: the inner step size (`> 0`) on `K / trace(K)`. Defaults to 1.0.
        momentum: the inner heavy-ball momentum in `[0, 1)`. Defaults to 0.5.
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=SDMGrad(lam=0.3))

    Reference:
        Xiao, Ban & Ji, "Direction-oriented Multi-objective Learning: Simple and Provable Stochastic
        Algorithms", NeurIPS 2023.
    """

    def __init__(self, lam=0.3, iterations=20, learning_rate=1.0, momentum=0.5, **kwargs):
        super().__init__(**kwargs)
        self.lam = check_number("SDMGrad", "lam", lam, minimum=0)
        self.iterations = check_int("SDMGrad", "iterations", iterations, minimum=1)
        self.learning_rate = check_number("SDMGrad", "learning_rate", learning_rate, minimum=0, strict=True)
        self.momentum = check_number("SDMGrad", "momentum", momentum, minimum=0)
        if self.momentum >= 1.0:
            raise ValueError(f"SDMGrad: momentum must be < 1. Received: momentum={momentum!r}")

    def build_state(self, gradient_shape):
        self.simplex_weights = self.add_weight(
            shape=(self.num_tasks,),
            initializer=keras.initializers.Constant(1.0 / self.num_tasks),
            trainable=False,
            name="simplex_weights",
        )

    def weights_from_gram(self, gram_matrix, losses, step):
        dtype = gram_matrix.dtype
        active = active_mask(gram_matrix)
        stored = tf.cast(read(self.simplex_weights), dtype)
        weights, w = sdmgrad_weights_from_gram(
            gram_matrix, stored, self.lam, self.iterations, self.learning_rate, self.momentum
        )
        mass = tf.reduce_sum(stored * active)
        mass = tf.where(mass > 0, mass, tf.reduce_sum(active) / self.num_tasks)
        self.simplex_weights.assign(tf.cast(tf.where(active > 0, w * mass, stored), self.simplex_weights.dtype))
        return weights

    def get_config(self):
        return {
            **super().get_config(),
            "lam": self.lam,
            "iterations": self.iterations,
            "learning_rate": self.learning_rate,
            "momentum": self.momentum,
        }
