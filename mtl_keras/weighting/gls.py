"""Geometric loss strategy, GLS (Chennupati, Sistu, Yogamani & Rawashdeh, CVPR Workshops 2019)."""

import keras

from mtl_keras.weighting._ops import check_number
from mtl_keras.weighting.base import WEIGHTINGS, LossWeighting


def gls_objective(losses, sampled=None, epsilon=1e-8):
    """The geometric mean of the losses, `(Π_i L_i)^(1/n)`, and its effective loss weights.

    Computed as `exp(mean_i log(L_i + ε))` over the `n` sampled tasks. Its gradient is
    `Σ_i w_i ∇L_i` with `w_i = GM / (n (L_i + ε))`: each loss is weighted by the inverse of its
    value, so the tasks' relative (not absolute) decreases are balanced.

    Args:
        losses: float tensor `[T]` of non-negative losses.
        sampled: optional 0/1 float tensor `[T]`; the others are left out (weight 0).
        epsilon: `ε > 0` added to the losses before the logarithm.

    Returns:
        `(objective, weights)`: the geometric mean (scalar, 0 without sampled task) and the
        weights `[T]` (no gradient).
    """
    ops = keras.ops
    sampled = ops.ones_like(losses) if sampled is None else ops.cast(sampled, losses.dtype)
    count = ops.sum(sampled)
    shifted = ops.maximum(losses, 0.0) + epsilon
    log_mean = ops.divide_no_nan(ops.sum(sampled * ops.log(shifted)), count)
    objective = ops.where(count > 0, ops.exp(log_mean), ops.zeros_like(log_mean))
    weights = ops.stop_gradient(ops.divide_no_nan(objective, count * shifted) * sampled)
    return objective, weights


@WEIGHTINGS.register("gls")
@keras.saving.register_keras_serializable(package="mtl_keras")
class GLS(LossWeighting):
    """Geometric loss strategy: trains on the geometric mean of the task losses.

        L = (Π_{i=1}^{T} L_i)^(1/T),   ∂L/∂L_i = L / (T L_i).

    The product makes the objective invariant to each loss's scale (multiplying `L_i` by a
    constant multiplies `L` by a constant), so no task dominates by its units. The mean is over the
    tasks present at the step (absent tasks are left out). The effective weights `L / (T L_i)` are
    logged as `<task>_weight`.

    Under `tf.distribute` the objective is not linear in the replicas' shares of the losses: the
    strategy takes the weights from the global losses and returns `Σ_i w_i L_i` (stopped weights),
    whose gradient summed over replicas is exactly the gradient of the geometric mean of the
    global losses. (The value it returns is that linear surrogate, which equals the geometric mean
    at the current losses.)

    Args:
        epsilon: `ε > 0` added to the losses. Defaults to 1e-8.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting="gls")
    >>> GLS()([[1.0, 0.0], [0.0, 1.0]], losses=[1.0, 4.0]).weights  # 2 / (2 L_i) = (1, ¼)

    Reference:
        Chennupati, Sistu, Yogamani & Rawashdeh, "MultiNet++: Multi-Stream Feature Aggregation and
        Geometric Loss Strategy for Multi-Task Learning", CVPR Workshops 2019.
    """

    needs_losses = True
    backends = ("tensorflow", "jax")

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = check_number("GLS", "epsilon", epsilon, minimum=0, strict=True)

    def combine_losses(self, losses, sampled, step):
        sampled = keras.ops.cast(sampled, losses.dtype)
        _, weights = gls_objective(self.global_losses(losses), sampled, self.epsilon)
        return keras.ops.sum(weights * sampled * losses), weights

    def loss_weights(self, losses, step):
        return gls_objective(losses, None, self.epsilon)[1]

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
