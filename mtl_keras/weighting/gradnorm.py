"""GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import active_mask, adam_update, check_number, read, renormalise
from mtl_keras.weighting.base import WEIGHTINGS, GramWeighting


def gradnorm_weight_gradient(weights, gradient_norms, loss_ratios, alpha, active=None):
    """Gradient of GradNorm's loss `Σ_i |w_i ||g_i|| - Ḡ r_i^α|` with respect to the weights `w`.

    `Ḡ` is the mean weighted gradient norm and `r_i = L̃_i / mean(L̃)` the relative inverse training
    rate, with `L̃_i = L_i(t) / L_i(0)`; the targets `Ḡ r_i^α` are held constant as in the paper, so
    the gradient is `sign(w_i ||g_i|| - Ḡ r_i^α) ||g_i||`.

    Args:
        weights: float tensor `[T]`, the current task weights `w`.
        gradient_norms: float tensor `[T]`, `||g_i||` (unweighted).
        loss_ratios: float tensor `[T]`, `L̃_i`.
        alpha: the asymmetry `α >= 0`.
        active: optional 0/1 float tensor `[T]`; other tasks are left out (gradient 0).

    Returns:
        `(gradient, targets)`, two float tensors `[T]`.
    """
    active = tf.ones_like(weights) if active is None else tf.cast(active, weights.dtype)
    count = tf.reduce_sum(active)
    weighted_norms = weights * gradient_norms
    mean_norm = tf.math.divide_no_nan(tf.reduce_sum(weighted_norms * active), count)
    mean_ratio = tf.math.divide_no_nan(tf.reduce_sum(loss_ratios * active), count)
    relative = tf.math.divide_no_nan(loss_ratios, mean_ratio)
    targets = tf.stop_gradient(mean_norm * tf.pow(tf.maximum(relative, 0.0), alpha))
    gradient = tf.sign(weighted_norms - targets) * gradient_norms * active
    return gradient, targets


@WEIGHTINGS.register("gradnorm")
@keras.saving.register_keras_serializable(package="mtl_keras")
class GradNorm(GramWeighting):
    """GradNorm: learns task weights that balance the tasks' gradient norms and training rates.

    Task weights `w_i` (non-trainable variables owned by the strategy, starting at 1) are updated
    at every step to reduce

        L_grad = Σ_i | w_i ||g_i|| - Ḡ · r_i^α |,   r_i = L̃_i / mean_j L̃_j,   L̃_i = L_i(t) / L_i(0),

    with `Ḡ` the mean of `w_i ||g_i||` and the targets held constant, then renormalised so that
    `Σ_i w_i = T`. The shared parameters follow `d = Σ_i w_i g_i` (weights of this step, before
    their update). `α` sets how strongly slower tasks are pushed (`α = 0`: equal gradient norms).

    Design in this library: GradNorm needs per-task gradient norms, so it is a gradient-level
    strategy. The norms are those of the rows of `G` (the per-task gradients of all shared
    parameters, or of the shared representation when the model provides it) instead of the last
    shared layer's weights used in the paper. The weights are updated inside `weights_from_gram`
    by a small Adam step of their own (`learning_rate`); the paper trains them with the network's
    optimizer. `L_i(0)` is the loss at the first step where the task's gradient row is non-zero.
    An absent task (zero row) keeps its weight and Adam moments; the present tasks' weights are
    renormalised to keep their own sum (so that all weights still sum to `T`).

    Args:
        alpha: the asymmetry `α >= 0`. Defaults to 1.5 (the paper's value for NYUv2).
        learning_rate: `> 0`, the Adam learning rate of the weights. Defaults to 0.025.
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=GradNorm(alpha=1.5))

    Reference:
        Chen, Badrinarayanan, Lee & Rabinovich, "GradNorm: Gradient Normalization for Adaptive Loss
        Balancing in Deep Multitask Networks", ICML 2018.
    """

    needs_losses = True

    def __init__(self, alpha=1.5, learning_rate=0.025, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_number("GradNorm", "alpha", alpha, minimum=0)
        self.learning_rate = check_number("GradNorm", "learning_rate", learning_rate, minimum=0, strict=True)

    def build_state(self, gradient_shape):
        def state(name, initializer="zeros", shape=(self.num_tasks,)):
            return self.add_weight(shape=shape, initializer=initializer, trainable=False, name=name)

        self.task_weight_values = state("task_weight_values", initializer="ones")
        self.initial_losses = state("initial_losses")
        self.has_initial = state("has_initial")
        self.adam_m = state("adam_m")
        self.adam_v = state("adam_v")
        self.adam_t = state("adam_t")

    def weights_from_gram(self, gram_matrix, losses, step):
        active = active_mask(gram_matrix)
        norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(gram_matrix), 0.0))
        dtype = gram_matrix.dtype
        losses = tf.cast(tf.stop_gradient(losses), dtype)
        has_initial = tf.cast(read(self.has_initial), dtype)
        initial = tf.where(active * (1.0 - has_initial) > 0, losses, tf.cast(read(self.initial_losses), dtype))
        self.initial_losses.assign(tf.cast(initial, self.initial_losses.dtype))
        self.has_initial.assign(tf.cast(tf.maximum(has_initial, active), self.has_initial.dtype))
        weights = tf.cast(read(self.task_weight_values), dtype)
        gradient, _ = gradnorm_weight_gradient(
            weights, norms, tf.math.divide_no_nan(losses, initial), self.alpha, active
        )
        moments = [tf.cast(read(v), dtype) for v in (self.adam_m, self.adam_v, self.adam_t)]
        updated, m, v, t = adam_update(weights, gradient, *moments, self.learning_rate)
        moving = active > 0  # absent tasks keep their weight and moments
        updated = renormalise(tf.where(moving, updated, weights), tf.reduce_sum(weights * active), active)
        for variable, value, old in zip(
            (self.task_weight_values, self.adam_m, self.adam_v, self.adam_t), (updated, m, v, t), [weights, *moments]
        ):
            variable.assign(tf.cast(tf.where(moving, value, old), variable.dtype))
        return weights * active

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "learning_rate": self.learning_rate}
