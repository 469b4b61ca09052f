"""Smooth Tchebycheff scalarization, STCH (Lin, Zhang, Yang, Zhang & Zhang, ICML 2024)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import check_int, check_number, read
from mtl_keras.weighting.base import WEIGHTINGS, LossWeighting


def stch_objective(values, mu=1.0, preference=None, ideal=None, sampled=None):
    """The smooth Tchebycheff scalarization `μ log Σ_i exp(λ_i (f_i - z_i) / μ)` and its gradient weights.

    It is a smooth upper bound of the Tchebycheff scalarization `max_i λ_i (f_i - z_i)`, within
    `μ log T` of it; as `μ → 0` it tends to the max (the worst task takes all the weight), and its
    minimisers are weakly Pareto optimal for every `μ > 0`. Its gradient with respect to the `f_i`
    is `λ ⊙ softmax(λ (f - z) / μ)` (sums to 1 for `λ = 1`).

    Args:
        values: float tensor `[T]`, the objectives `f_i`.
        mu: the smoothing `μ > 0`.
        preference: optional float tensor `[T]`, the preference `λ_i > 0` (ones by default).
        ideal: optional float tensor `[T]`, the ideal point `z` (zeros by default).
        sampled: optional 0/1 float tensor `[T]`; the others are left out (weight 0).

    Returns:
        `(objective, gradient)`: the scalar and `∂ objective / ∂ f_i` `[T]` (no gradient).
    """
    dtype = values.dtype
    preference = tf.ones_like(values) if preference is None else tf.cast(preference, dtype)
    ideal = tf.zeros_like(values) if ideal is None else tf.cast(ideal, dtype)
    sampled = tf.ones_like(values) if sampled is None else tf.cast(sampled, dtype)
    scaled = preference * (values - ideal) / mu
    logits = tf.where(sampled > 0, scaled, tf.fill(tf.shape(values), tf.constant(-1e30, dtype)))
    any_sampled = tf.reduce_sum(sampled) > 0
    objective = tf.where(any_sampled, mu * tf.reduce_logsumexp(logits), tf.zeros([], dtype))
    gradient = tf.where(any_sampled, preference * tf.nn.softmax(logits) * sampled, tf.zeros_like(values))
    return objective, tf.stop_gradient(gradient)


@WEIGHTINGS.register("stch")
@keras.saving.register_keras_serializable(package="mtl_keras")
class STCH(LossWeighting):
    """STCH: minimises a smooth Tchebycheff scalarization of the (normalised, log) task losses.

    The Tchebycheff scalarization `max_i λ_i (f_i - z_i)` trains the worst-off task and reaches
    every Pareto-optimal point (for some `λ`), but is not smooth; STCH replaces the max by

        STCH_μ(f) = μ log Σ_i exp(λ_i (f_i - z_i) / μ),

    smooth, within `μ log T` of the max. As in the authors' multi-task code, the objectives are the
    log-losses normalised by a nadir point, `f_i = log(L_i / N_i)` (ideal point `z = 0`), so tasks in
    different units compare, and the objective is multiplied by the number of tasks `n` present at
    the step (its gradient weights then sum to `n`, as equal weighting's do):

        objective = n μ log Σ_i exp(λ_i log(L_i / N_i) / μ),
        ∂ objective / ∂ L_i = n λ_i softmax_i / L_i.

    The nadir `N_i` is the mean of task `i`'s loss over the first `warmup_steps` steps, during which
    the objective is `Σ_i log L_i` (as in the authors' code); with `warmup_steps=0` it is the loss
    at the task's first present step. Absent tasks (not sampled, no labelled example) are left out
    of the objective and of the nadir means.

    Under `tf.distribute` the weights are taken from the global losses and the strategy returns
    `Σ_i w_i L_i` with stopped weights, whose gradient summed over replicas is the gradient of
    STCH on the global losses (its value is that linear surrogate).

    Args:
        mu: the smoothing `μ > 0`. Defaults to 1.0 (the authors' multi-task value).
        warmup_steps: steps (`>= 0`) averaged into the nadir point. Defaults to 0.
        preference: `None` (all `λ_i = 1`) or a list of `T` positive preferences.
        epsilon: `ε > 0` added to the losses before the logarithm. Defaults to 1e-8.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=STCH(mu=0.5, warmup_steps=200))

    Reference:
        Lin, Zhang, Yang, Zhang & Zhang, "Smooth Tchebycheff Scalarization for Multi-Objective
        Optimization", ICML 2024.
    """

    needs_losses = True

    def __init__(self, mu=1.0, warmup_steps=0, preference=None, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.mu = check_number("STCH", "mu", mu, minimum=0, strict=True)
        self.warmup_steps = check_int("STCH", "warmup_steps", warmup_steps, minimum=0)
        if preference is not None:
            preference = [check_number("STCH", "preference", p, minimum=0, strict=True) for p in preference]
        self.preference = preference
        self.epsilon = check_number("STCH", "epsilon", epsilon, minimum=0, strict=True)

    def build_state(self, gradient_shape):
        if self.preference is not None and len(self.preference) != self.num_tasks:
            raise ValueError(
                f"STCH: got {len(self.preference)} preferences for {self.num_tasks} tasks {self.task_names}. "
                f"Received: preference={self.preference}"
            )
        # Rows: sums and counts of each task's losses for the nadir point.
        self.nadir_state = self.add_weight(
            shape=(2, self.num_tasks), initializer="zeros", trainable=False, name="nadir_state"
        )

    @property
    def nadir(self):
        """The nadir point `N` `[T]` (0 for tasks not seen yet)."""
        sums, counts = tf.unstack(read(self.nadir_state))
        return tf.math.divide_no_nan(sums, counts)

    def combine_losses(self, losses, sampled, step):
        dtype = losses.dtype
        sampled = tf.cast(sampled, dtype)
        global_losses = self.global_losses(losses)
        sums, counts = tf.unstack(tf.cast(read(self.nadir_state), dtype))
        warming = tf.cast(step, dtype) < self.warmup_steps
        recording = sampled * tf.where(warming, tf.ones_like(counts), tf.cast(counts == 0, dtype))
        sums, counts = sums + recording * global_losses, counts + recording
        self.nadir_state.assign(tf.cast(tf.stack([sums, counts]), self.nadir_state.dtype))
        shifted = tf.maximum(global_losses, 0.0) + self.epsilon
        normalised = tf.math.log(shifted) - tf.math.log(tf.math.divide_no_nan(sums, counts) + self.epsilon)
        preference = None if self.preference is None else tf.constant(self.preference, dtype)
        _, gradient = stch_objective(normalised, self.mu, preference, None, sampled)
        stch_weights = tf.reduce_sum(sampled) * gradient / shifted
        weights = tf.stop_gradient(tf.where(warming, sampled / shifted, stch_weights))
        return tf.reduce_sum(weights * sampled * losses), weights

    def get_config(self):
        return {
            **super().get_config(),
            "mu": self.mu,
            "warmup_steps": self.warmup_steps,
            "preference": self.preference,
            "epsilon": self.epsilon,
        }
