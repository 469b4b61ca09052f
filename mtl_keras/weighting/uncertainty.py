"""Uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import read
from mtl_keras.weighting.base import WEIGHTINGS, LossWeighting


def uncertainty_objective(losses, log_variances, sampled=None, replicas=1):
    """The homoscedastic-uncertainty objective `Σ_i exp(-s_i) L_i + s_i`.

    For a fixed loss `L_i > 0` the objective is minimised at `s_i* = log L_i` (its derivative
    `1 - exp(-s_i) L_i` vanishes there), so the learned weight `exp(-s_i*)` is `1 / L_i`.

    Args:
        losses: float tensor `[T]`, the per-task losses.
        log_variances: float tensor `[T]`, `s_i = log σ_i²`.
        sampled: optional 0/1 float tensor `[T]`; tasks with 0 are left out.
        replicas: number of replicas the objective is summed over (`tf.distribute`): the
            `s_i` terms, which do not depend on the data, are divided by it so that their
            gradient is counted once.

    Returns:
        `(objective, weights)`: the scalar objective and the weights `exp(-s_i)` `[T]`.
    """
    weights = keras.ops.exp(-log_variances)
    terms = weights * losses + log_variances / replicas
    if sampled is not None:
        terms = terms * keras.ops.cast(sampled, terms.dtype)
    return keras.ops.sum(terms), weights


@WEIGHTINGS.register("uncertainty")
@keras.saving.register_keras_serializable(package="mtl_keras")
class UncertaintyWeighting(LossWeighting):
    """Learns one log-variance per task and weighs each loss by its inverse variance.

    Kendall et al. model each task's output with a homoscedastic noise `σ_i` and maximise the
    likelihood, which gives `L_i / (2σ_i²) + log σ_i` for a regression task and
    `L_i / σ_i² + log σ_i` for a classification task. With `s_i = log σ_i²` (learned, created in
    `build`, initialised at 0) we minimise, for every task alike,

        Σ_i exp(-s_i) L_i + s_i,

    i.e. twice the regression form (a constant factor that does not move the minimiser). We use
    this one form for all tasks, as most implementations do (e.g. LibMTL): the classification form
    would only change the optimum from `s_i* = log L_i` to `log 2L_i`, a constant factor 2 in the
    weight. The weights `exp(-s_i)` are logged as `<task>_weight`. The `s_i` are trained by the
    model's optimizer together with the network; an absent task (`sampled_i = 0`) has no term in
    the objective, so its `s_i` gets no gradient. Called on a gradient matrix, the strategy returns
    `Σ_i exp(-s_i) g_i` with its current `s` (learning them needs an optimizer on `combine_losses`).

    Args:
        **kwargs: forwarded to `Weighting` (e.g. `name`).

    Example:

    >>> model.compile(optimizer="adam", weighting="uncertainty")

    Reference:
        Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene
        Geometry and Semantics", CVPR 2018.
    """

    needs_losses = True
    backends = ("tensorflow", "jax")

    def build_state(self, gradient_shape):
        self.log_variances = self.add_weight(
            shape=(self.num_tasks,), initializer="zeros", trainable=True, name="log_variances"
        )

    def loss_weights(self, losses, step):
        return keras.ops.exp(-read(self.log_variances))

    def combine_losses(self, losses, sampled, step):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        total, weights = uncertainty_objective(
            losses, keras.ops.cast(read(self.log_variances), losses.dtype), sampled, replicas=replicas
        )
        return total, keras.ops.stop_gradient(weights)
