"""Fast Adaptive Multitask Optimization (Liu, Liu, Jin, Stone & Liu, NeurIPS 2023)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import adam_update, check_number, read
from mtl_keras.weighting.base import WEIGHTINGS, LossWeighting


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
        `(objective, weights)`: the scalar and the effective loss weights `[T]` (no gradient; 0 for
        tasks that are not sampled).
    """
    sampled = tf.ones_like(losses) if sampled is None else tf.cast(sampled, losses.dtype)
    z = tf.stop_gradient(tf.nn.softmax(tf.cast(logits, losses.dtype)))
    shifted = tf.maximum(losses, 0.0) + epsilon
    c = tf.stop_gradient(tf.reduce_sum(sampled * z / shifted))
    objective = tf.reduce_sum(sampled * tf.math.divide_no_nan(z, c) * tf.math.log(shifted))
    weights = tf.stop_gradient(tf.math.divide_no_nan(z, c * shifted) * sampled)
    return objective, weights


def famo_logit_gradient(logits, delta, present=None):
    """Gradient of FAMO's logit update `(∂z/∂ξ)ᵀ δ = z ⊙ (δ - zᵀδ)`, with `z = softmax(ξ)`.

    Args:
        logits: float tensor `[T]`, `ξ`.
        delta: float tensor `[T]`, the decrease of the log-losses `log L_i(t-1) - log L_i(t)`.
        present: optional 0/1 float tensor `[T]`: the softmax is then over the present tasks only
            and the other tasks' gradient is 0 (their logits do not move).

    Returns:
        Float tensor `[T]`: descending along it lowers the weight of tasks that improved most.
    """
    if present is None:
        z = tf.nn.softmax(logits)
        return z * (delta - tf.reduce_sum(z * delta))
    present = tf.cast(present, logits.dtype)
    z = (
        tf.nn.softmax(tf.where(present > 0, logits, tf.fill(tf.shape(logits), tf.constant(-1e30, logits.dtype))))
        * present
    )
    return z * (delta - tf.reduce_sum(z * delta)) * present


def famo_state_update(state, log_losses, sampled, learning_rate, weight_decay):
    """One FAMO logit update from this step's log-losses; returns the new state.

    Args:
        state: sequence of six `[T]` tensors: logits, previous log-losses, has-previous flags,
            Adam's `m`, `v` and per-task step counts `t`.
        log_losses: float tensor `[T]`, `log(L_i + ε)` of this step.
        sampled: 0/1 float tensor `[T]`, the tasks present at this step.
        learning_rate, weight_decay: FAMO's `β` and `γ`.

    Returns:
        The updated state tuple. `δ_i = log L_i(t') - log L_i(t)`, with `t'` the task's previous
        present step, counts only for tasks present now and seen before; the logit update (softmax,
        weight decay and Adam moments) involves only those tasks: every other task's state,
        absent ones included, is left exactly as it was (their previous log-losses too).
    """
    logits, previous, has_previous, m, v, t = state
    updating = sampled * has_previous
    delta = (previous - log_losses) * updating
    grad = (famo_logit_gradient(logits, delta, updating) + weight_decay * logits) * updating
    new_logits, new_m, new_v, new_t = adam_update(logits, grad, m, v, t, learning_rate)
    moving = updating > 0
    logits = tf.where(moving, new_logits, logits)
    m, v, t = tf.where(moving, new_m, m), tf.where(moving, new_v, v), tf.where(moving, new_t, t)
    previous = tf.where(sampled > 0, log_losses, previous)
    return logits, previous, tf.maximum(has_previous, sampled), m, v, t


@WEIGHTINGS.register("famo")
@keras.saving.register_keras_serializable(package="mtl_keras")
class FAMO(LossWeighting):
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
    at the start of step `t`, before the weights of step `t` are computed. A task absent at a step
    (not sampled, or no labelled example) neither moves nor counts: its logit, Adam moments and
    last log-loss are kept, the softmax of the update is over the tasks present now and at their
    previous step, and `δ_i` is taken from the task's last present step. Losses are made positive
    with `+ epsilon` before the logarithm.

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

    needs_losses = True

    def __init__(self, learning_rate=0.025, weight_decay=0.001, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.learning_rate = check_number("FAMO", "learning_rate", learning_rate, minimum=0, strict=True)
        self.weight_decay = check_number("FAMO", "weight_decay", weight_decay, minimum=0)
        self.epsilon = check_number("FAMO", "epsilon", epsilon, minimum=0, strict=True)

    def build_state(self, gradient_shape):
        # One variable, rows: logits ξ, previous log-losses, has-previous flags, Adam m, v and the
        # per-task step counts: one read and one write per step instead of twelve.
        self.state = self.add_weight(shape=(6, self.num_tasks), initializer="zeros", trainable=False, name="state")

    @property
    def logits(self):
        """FAMO's current logits `ξ` `[T]` (the task weights are `softmax(ξ)`, rescaled per step)."""
        return read(self.state)[0]

    def combine_losses(self, losses, sampled, step):
        sampled32 = tf.cast(sampled, tf.float32)
        global_losses = self.global_losses(tf.stop_gradient(tf.cast(losses, tf.float32)))
        log_losses = tf.math.log(tf.maximum(global_losses, 0.0) + self.epsilon)
        state = famo_state_update(
            tf.unstack(read(self.state)), log_losses, sampled32, self.learning_rate, self.weight_decay
        )
        self.state.assign(tf.stack(state))
        logits = state[0]
        # Weights from the global losses; the objective is linear in this replica's share, so the
        # summed replica gradients equal the gradient of FAMO's log objective on the global losses.
        _, weights = famo_objective(tf.cast(global_losses, losses.dtype), logits, sampled, self.epsilon)
        return tf.reduce_sum(tf.cast(sampled, losses.dtype) * weights * losses), weights

    def loss_weights(self, losses, step):
        return famo_objective(losses, self.logits, None, self.epsilon)[1]

    def get_config(self):
        return {
            **super().get_config(),
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "epsilon": self.epsilon,
        }
