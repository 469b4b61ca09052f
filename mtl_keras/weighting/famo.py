"""Fast Adaptive Multitask Optimization (Liu, Liu, Jin, Stone & Liu, NeurIPS 2023)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import adam_update, check_number, read
from mtl_keras.weighting.base import WEIGHTINGS, Weighting


def famo_objective(losses, logits, sampled=None, epsilon=1e-8):
    """FAMO's objective `Σ_i (z_i / c) log(L_i + ε)` with `z = softmax(ξ)`, `c = Σ_i z_i / (L_i + ε)`.

    Its gradient is `Σ_i z_i ∇L_i / (c (L_i + ε))`: effective loss weights `z_i / (c (L_i + ε))`
    that sum to 1 (over the sampled tasks); `c` is held constant.

    Args:
        losses: float tensor `[T]` of positive losses.
        logits: float tensor `[T]`, FAMO's `ξ`.
        sampled: optional 0/1 float tensor `[T]`.
        epsilon: small constant added to the losses before the logarithm.

    Returns:
        `(objective, weights)`: the scalar and the effective loss weights `[T]` (no gradient).
    """
    sampled = tf.ones_like(losses) if sampled is None else tf.cast(sampled, losses.dtype)
    z = tf.stop_gradient(tf.nn.softmax(tf.cast(logits, losses.dtype)))
    shifted = tf.maximum(losses, 0.0) + epsilon
    c = tf.stop_gradient(tf.reduce_sum(sampled * z / shifted))
    objective = tf.reduce_sum(sampled * tf.math.divide_no_nan(z, c) * tf.math.log(shifted))
    weights = tf.stop_gradient(tf.math.divide_no_nan(z, c * shifted))
    return objective, weights


def famo_logit_gradient(logits, delta):
    """Gradient of FAMO's logit update `(∂z/∂ξ)ᵀ δ = z ⊙ (δ - zᵀδ)`, with `z = softmax(ξ)`.

    Args:
        logits: float tensor `[T]`, `ξ`.
        delta: float tensor `[T]`, the decrease of the log-losses `log L_i(t-1) - log L_i(t)`.

    Returns:
        Float tensor `[T]`: descending along it lowers the weight of tasks that improved most.
    """
    z = tf.nn.softmax(logits)
    return z * (delta - tf.reduce_sum(z * delta))


@WEIGHTINGS.register("famo")
@keras.saving.register_keras_serializable(package="mtl_keras")
class FAMO(Weighting):
    """FAMO: balances the tasks' rates of improvement of their log-losses in O(1) per step.

    FAMO keeps logits `ξ` (`[T]`, non-trainable variables) and trains the network on

        Σ_i (z_i / c) log L_i,   z = softmax(ξ),   c = Σ_i z_i / L_i  (held constant),

    so each task gets the effective weight `z_i / (c L_i)`. After the network moves, the decrease of
    each log-loss `δ_i = log L_i(t-1) - log L_i(t)` updates the logits:
    `ξ ← ξ - β ((∂z/∂ξ)ᵀ δ + γ ξ)`, with Adam as the step rule (learning rate `β`) as in the
    authors' code. Tasks that improved faster lose weight.

    Adaptation to the loss hook: the paper measures `L_i(t)` on the *same* batch after the update
    (one extra forward pass). Here `combine_losses` only sees each step's losses, so `δ` is taken
    between consecutive steps (on consecutive batches), and the logit update for step `t-1` is made
    at the start of step `t`, before the weights of step `t` are computed. Only tasks sampled in
    both steps contribute to `δ`. Losses are made positive with `+ epsilon` before the logarithm.

    Args:
        learning_rate: `β > 0`, the Adam learning rate of the logits. Defaults to 0.025.
        weight_decay: `γ >= 0` on the logits. Defaults to 0.001.
        epsilon: `ε > 0` added to the losses. Defaults to 1e-8.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=FAMO(learning_rate=0.025))

    Reference:
        Liu, Liu, Jin, Stone & Liu, "FAMO: Fast Adaptive Multitask Optimization", NeurIPS 2023.
    """

    def __init__(self, learning_rate=0.025, weight_decay=0.001, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.learning_rate = check_number("FAMO", "learning_rate", learning_rate, minimum=0, strict=True)
        self.weight_decay = check_number("FAMO", "weight_decay", weight_decay, minimum=0)
        self.epsilon = check_number("FAMO", "epsilon", epsilon, minimum=0, strict=True)

    def build(self, input_shape=None):
        def state(name, shape=(self.num_tasks,)):
            return self.add_weight(shape=shape, initializer="zeros", trainable=False, name=name)

        self.logits = state("logits")
        self.previous_log_losses = state("previous_log_losses")
        self.has_previous = state("has_previous")
        self.adam_m = state("adam_m")
        self.adam_v = state("adam_v")
        self.adam_t = state("adam_t", shape=())
        self.built = True

    def combine_losses(self, losses, sampled, step):
        sampled32 = tf.cast(sampled, tf.float32)
        global_losses = self.global_losses(tf.stop_gradient(tf.cast(losses, tf.float32)))
        log_losses = tf.math.log(tf.maximum(global_losses, 0.0) + self.epsilon)
        valid = sampled32 * read(self.has_previous)
        delta = (read(self.previous_log_losses) - log_losses) * valid
        logits = read(self.logits)
        grad = famo_logit_gradient(logits, delta) + self.weight_decay * logits
        logits, m, v, t = adam_update(
            logits, grad, read(self.adam_m), read(self.adam_v), read(self.adam_t), self.learning_rate
        )
        self.logits.assign(logits)
        self.adam_m.assign(m)
        self.adam_v.assign(v)
        self.adam_t.assign(t)
        self.previous_log_losses.assign(tf.where(sampled32 > 0, log_losses, read(self.previous_log_losses)))
        self.has_previous.assign(tf.maximum(read(self.has_previous), sampled32))
        # Weights from the global losses; the objective is linear in this replica's share, so the
        # summed replica gradients equal the gradient of FAMO's log objective on the global losses.
        _, weights = famo_objective(tf.cast(global_losses, losses.dtype), logits, sampled, self.epsilon)
        return tf.reduce_sum(tf.cast(sampled, losses.dtype) * weights * losses), weights

    def loss_weights(self, losses, step):
        return famo_objective(losses, read(self.logits), None, self.epsilon)[1]

    def get_config(self):
        return {
            **super().get_config(),
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "epsilon": self.epsilon,
        }
