"""Dual-balancing multi-task learning, DB-MTL (Lin, Ye, Xu, Shi, Zhang & Kwok, 2023)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import active_rows, check_number, combine, read
from mtl_keras.weighting.base import WEIGHTINGS, Combination, GradientWeighting


def db_mtl_scales(norms, present=None):
    """Gradient-magnitude balancing: `α_i = max_j ||ĝ_j|| / ||ĝ_i||` over the present tasks (0 for the others).

    Every balanced gradient `α_i ĝ_i` then has the norm of the largest one.
    """
    present = tf.ones_like(norms) if present is None else tf.cast(present, norms.dtype)
    present = present * tf.cast(norms > 0, norms.dtype)
    largest = tf.reduce_max(norms * present)
    return tf.math.divide_no_nan(largest, norms) * present


def db_mtl_weights(grads, losses, epsilon=1e-8):
    """DB-MTL weights `w` `[T]` without averaging (`beta = 0`): `d = Gᵀ w = Σ_i α_i ∇log L_i`.

    The log-loss gradients are `ĝ_i = g_i / (L_i + ε)` (loss-scale balancing) and the scales
    `α_i = max_j ||ĝ_j|| / ||ĝ_i||` (gradient-magnitude balancing), so `w_i = α_i / (L_i + ε)`.

    Example: `g_1 = (2, 0)`, `g_2 = (0, 1)` with losses `(1, 4)`: `ĝ = (2, 0), (0, ¼)`, `α = (1, 8)`,
    `w = (1, 2)` and `d = (2, 2)`: both balanced gradients have norm 2.

    Args:
        grads: float tensor `[T, P]` of per-task gradients `∇L_i` (zero rows: absent tasks).
        losses: float tensor `[T]` of positive losses.
        epsilon: `ε > 0` added to the losses.

    Returns:
        Float tensor `[T]`.
    """
    inverse = 1.0 / (tf.maximum(tf.cast(losses, grads.dtype), 0.0) + epsilon)
    norms = tf.norm(grads, axis=1) * inverse
    return db_mtl_scales(norms, active_rows(grads)) * inverse


@WEIGHTINGS.register("db_mtl")
@keras.saving.register_keras_serializable(package="mtl_keras")
class DBMTL(GradientWeighting):
    """DB-MTL: balances the tasks' loss scales with a log transform and their gradient magnitudes.

    Loss-scale balancing: every task is trained on `log L_i`, whose gradient `∇L_i / L_i` does not
    depend on the loss's units. Gradient-magnitude balancing: an exponential moving average of
    each task's log-loss gradient,

        ĝ_i ← β_t ĝ_i + (1 - β_t) ∇log L_i,   β_t = β / t^σ,

    is rescaled to the norm of the largest one, and the update is

        d = Σ_i α_i ĝ_i,   α_i = max_j ||ĝ_j|| / ||ĝ_i||.

    The averages `ĝ` (`[T, P]`, one row per task, non-trainable state) start at zero, as in the
    authors' code; `t` counts each task's own updates. An absent task (zero row) keeps its average
    and count and is left out of the update. The reported weights are the scales `α_i`.

    The averages are per parameter, so the strategy needs the gradient size before training
    (`build((T, P))`) and works on the shared parameters only (no `uses_representation=True`).

    Args:
        beta: the averaging `β` in `[0, 1)`. Defaults to 0.9 (the authors' default).
        beta_sigma: the decay `σ >= 0` of `β_t`. Defaults to 0 (constant `β`).
        epsilon: `ε > 0` added to the losses before the logarithm. Defaults to 1e-8.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=DBMTL(beta=0.9))
    >>> DBMTL(beta=0.0)([[2.0, 0.0], [0.0, 1.0]], losses=[1.0, 4.0]).direction  # (2, 2)

    Reference:
        Lin, Ye, Xu, Shi, Zhang & Kwok, "Dual-Balancing for Multi-Task Learning", arXiv:2308.12029,
        2023.
    """

    needs_losses = True
    needs_gradient_size = True
    supports_representation = False

    def __init__(self, beta=0.9, beta_sigma=0.0, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.beta = check_number("DBMTL", "beta", beta, minimum=0, maximum=1)
        if self.beta == 1.0:
            raise ValueError("DBMTL: beta must be < 1 (the averages would never move). Received: beta=1.0")
        self.beta_sigma = check_number("DBMTL", "beta_sigma", beta_sigma, minimum=0)
        self.epsilon = check_number("DBMTL", "epsilon", epsilon, minimum=0, strict=True)

    def build_state(self, gradient_shape):
        self.averages = self.add_weight(shape=gradient_shape, initializer="zeros", trainable=False, name="averages")
        self.counts = self.add_weight(shape=(self.num_tasks,), initializer="zeros", trainable=False, name="counts")

    def combine_gradients(self, grads, losses, step):
        dtype = grads.dtype
        present = active_rows(grads)
        log_grads = grads / (tf.maximum(tf.cast(losses, dtype), 0.0) + self.epsilon)[:, tf.newaxis]
        counts = tf.cast(read(self.counts), dtype) + present
        beta = self.beta / tf.pow(tf.maximum(counts, 1.0), self.beta_sigma)
        averages = tf.cast(read(self.averages), dtype)
        updated = log_grads + beta[:, tf.newaxis] * (averages - log_grads)
        averages = tf.where(present[:, tf.newaxis] > 0, updated, averages)
        self.averages.assign(tf.cast(averages, self.averages.dtype))
        self.counts.assign(tf.cast(counts, self.counts.dtype))
        scales = db_mtl_scales(tf.norm(averages, axis=1), present)
        return Combination(combine(scales, averages), scales)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "beta_sigma": self.beta_sigma, "epsilon": self.epsilon}
