"""Dynamic Weight Average (Liu, Johns & Davison, CVPR 2019)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import check_int, check_number, read
from mtl_keras.weighting.base import WEIGHTINGS, LossWeighting


def dwa_weights(loss_ratios, temperature=2.0, present=None):
    """DWA weights `w_i = T exp(r_i / τ) / Σ_j exp(r_j / τ)` from the loss ratios `r` `[T]`.

    Args:
        loss_ratios: float tensor `[T]`, `r_i = L_i(t-1) / L_i(t-2)`.
        temperature: `τ > 0`; larger values give more even weights.
        present: optional 0/1 float tensor `[T]`: the softmax is then taken over the present
            tasks only (`T` their number), and absent tasks get weight 0.

    Returns:
        Float tensor `[T]` of weights summing to `T` (the number of present tasks).
    """
    if present is None:
        num_tasks = tf.cast(tf.shape(loss_ratios)[0], loss_ratios.dtype)
        return num_tasks * tf.nn.softmax(loss_ratios / temperature)
    present = tf.cast(present, loss_ratios.dtype)
    logits = tf.where(
        present > 0, loss_ratios / temperature, tf.fill(tf.shape(loss_ratios), tf.constant(-1e30, loss_ratios.dtype))
    )
    weights = tf.reduce_sum(present) * tf.nn.softmax(logits) * present
    return tf.where(tf.reduce_sum(present) > 0, weights, tf.zeros_like(weights))


@WEIGHTINGS.register("dwa")
@keras.saving.register_keras_serializable(package="mtl_keras")
class DynamicWeightAverage(LossWeighting):
    """Dynamic Weight Average: weighs each task by how slowly its loss has been falling.

        w_i(t) = T exp(r_i(t-1) / τ) / Σ_j exp(r_j(t-1) / τ),   r_i(t-1) = L_i(t-1) / L_i(t-2).

    The paper averages each loss over an epoch; the strategy does not see epochs, so it averages
    over *periods* of `period` training steps (`period=1`: per step; set it to the number of steps
    per epoch to follow the paper). The last two period means per task are kept in non-trainable
    variables; only steps where the task was present (sampled, with labelled examples) count, and
    the softmax of a step is over its present tasks (absent tasks get weight 0 and keep their
    history). Until a task has two complete periods its ratio is 1 (equal weights `w_i = 1` at the
    start).

    Args:
        temperature: `τ > 0`. Defaults to 2 (the paper's value).
        period: number of steps averaged into one loss value (`>= 1`). Defaults to 1.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=DynamicWeightAverage(temperature=2.0, period=100))

    Reference:
        Liu, Johns & Davison, "End-to-End Multi-Task Learning with Attention", CVPR 2019.
    """

    needs_losses = True

    def __init__(self, temperature=2.0, period=1, **kwargs):
        super().__init__(**kwargs)
        self.temperature = check_number("DynamicWeightAverage", "temperature", temperature, minimum=0, strict=True)
        self.period = check_int("DynamicWeightAverage", "period", period, minimum=1)

    def build_state(self, gradient_shape):
        shape = (self.num_tasks,)

        def state(name, shape=shape):
            return self.add_weight(shape=shape, initializer="zeros", trainable=False, name=name)

        self.loss_sums = state("loss_sums")
        self.loss_counts = state("loss_counts")
        self.period_steps = state("period_steps", shape=())
        self.last_losses = state("last_losses")
        self.previous_losses = state("previous_losses")
        self.periods_seen = state("periods_seen")

    def loss_ratios(self):
        """Current `r_i = L_i(t-1) / L_i(t-2)` (1 for tasks with fewer than two periods of history)."""
        ratio = tf.math.divide_no_nan(read(self.last_losses), read(self.previous_losses))
        return tf.where(read(self.periods_seen) >= 2, ratio, tf.ones_like(ratio))

    def combine_losses(self, losses, sampled, step):
        sampled = tf.cast(sampled, losses.dtype)
        ratios = tf.cast(self.loss_ratios(), losses.dtype)
        weights = tf.stop_gradient(dwa_weights(ratios, self.temperature, sampled))
        total = tf.reduce_sum(weights * sampled * losses)
        self._record(tf.cast(self.global_losses(tf.stop_gradient(losses)), tf.float32), tf.cast(sampled, tf.float32))
        return total, weights

    def loss_weights(self, losses, step):
        return tf.cast(dwa_weights(self.loss_ratios(), self.temperature), losses.dtype)

    def _record(self, losses, sampled):
        sums = read(self.loss_sums) + losses * sampled
        counts = read(self.loss_counts) + sampled
        steps = read(self.period_steps) + 1.0
        done = steps >= float(self.period)
        update = tf.logical_and(done, counts > 0)
        last = read(self.last_losses)
        self.previous_losses.assign(tf.where(update, last, read(self.previous_losses)))
        self.last_losses.assign(tf.where(update, tf.math.divide_no_nan(sums, counts), last))
        self.periods_seen.assign(
            tf.where(update, tf.minimum(read(self.periods_seen) + 1.0, 2.0), read(self.periods_seen))
        )
        self.loss_sums.assign(tf.where(done, tf.zeros_like(sums), sums))
        self.loss_counts.assign(tf.where(done, tf.zeros_like(counts), counts))
        self.period_steps.assign(tf.where(done, 0.0, steps))

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "period": self.period}
