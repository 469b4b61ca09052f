"""ExcessMTL: robust multi-task learning with excess risks (He, Zhou, Wang & Wang, ICML 2024)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import active_rows, check_number, combine, read, renormalise
from mtl_keras.weighting.base import WEIGHTINGS, Combination, GradientWeighting


def excess_mtl_risks(grads, squared_sums, epsilon=1e-7):
    """Excess-risk estimates `E_i = g_iᵀ H_i⁻¹ g_i`, `H_i = diag(√(Σ_{s<=t} g_i(s)²) + ε)` `[T]`.

    A second-order estimate of how far each task's loss is from its own minimum: the squared
    gradient in the metric of a diagonal (AdaGrad-style) curvature estimate `H_i`.

    Args:
        grads: float tensor `[T, P]`, this step's per-task gradients.
        squared_sums: float tensor `[T, P]`, the running sums of squared gradients, this step's
            included.
        epsilon: `ε > 0` in the curvature.

    Returns:
        Float tensor `[T]` (0 for zero rows).
    """
    return tf.reduce_sum(tf.math.divide_no_nan(tf.square(grads), tf.sqrt(squared_sums) + epsilon), axis=1)


def excess_mtl_weight_update(weights, risks, initial_risks, step_size, present=None):
    """One exponentiated-gradient step on the task weights: `w_i ← w_i exp(η E_i / E_i(0))`, renormalised.

    The present tasks' weights are rescaled to keep their sum (the others are unchanged), so the
    weights keep summing to what they summed to (`T` from the start at ones).

    Args:
        weights: float tensor `[T]`, the current weights.
        risks: float tensor `[T]`, the excess-risk estimates `E_i`.
        initial_risks: float tensor `[T]`, `E_i(0)` (the estimates at the task's first step).
        step_size: the robust step size `η >= 0`.
        present: optional 0/1 float tensor `[T]`, the tasks to update.

    Returns:
        Float tensor `[T]`.
    """
    present = tf.ones_like(weights) if present is None else tf.cast(present, weights.dtype)
    grown = weights * tf.exp(step_size * tf.math.divide_no_nan(risks, initial_risks) * present)
    return renormalise(grown, tf.reduce_sum(weights * present), present)


@WEIGHTINGS.register("excess_mtl")
@keras.saving.register_keras_serializable(package="mtl_keras")
class ExcessMTL(GradientWeighting):
    """ExcessMTL: up-weights the tasks that are furthest from their own optimum (largest excess risk).

    Weighting by the raw losses favours noisy tasks, whose losses stay high whatever the model;
    ExcessMTL weights by *excess* risk, the distance to the task's best achievable loss, which
    label noise does not inflate. It estimates it from a second-order expansion with a diagonal
    AdaGrad-style curvature, `E_i = g_iᵀ H_i⁻¹ g_i` (see `excess_mtl_risks`), normalises it by the
    task's first estimate, and updates the weights by exponentiated gradient ascent (a
    distributionally robust objective):

        w_i ← w_i exp(η E_i / E_i(0)),   then rescaled so that Σ_i w_i = T,

    and the shared parameters follow `d = Σ_i w_i g_i` (this step's updated weights). The paper's
    weights are on the simplex; here they sum to `T` (equal weights 1 at the start), which only
    rescales the learning rate. The running sums of squared gradients (`[T, P]`, non-trainable
    state) make the strategy need the gradient size before training (`build((T, P))`); it works on
    the shared parameters only. An absent task (zero row) keeps its weight, sums and `E_i(0)`;
    the present tasks' weights are renormalised among themselves.

    Args:
        step_size: the robust step size `η >= 0`. Defaults to 0.01 (the authors' default).
        epsilon: `ε > 0` in the curvature. Defaults to 1e-7.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=ExcessMTL(step_size=0.01))

    Reference:
        He, Zhou, Wang & Wang, "Robust Multi-Task Learning with Excess Risks", ICML 2024.
    """

    needs_gradient_size = True
    supports_representation = False

    def __init__(self, step_size=0.01, epsilon=1e-7, **kwargs):
        super().__init__(**kwargs)
        self.step_size = check_number("ExcessMTL", "step_size", step_size, minimum=0)
        self.epsilon = check_number("ExcessMTL", "epsilon", epsilon, minimum=0, strict=True)

    def build_state(self, gradient_shape):
        self.squared_sums = self.add_weight(
            shape=gradient_shape, initializer="zeros", trainable=False, name="squared_sums"
        )
        # Rows: task weights, initial risk estimates, has-initial flags.
        initial = [[1.0] * self.num_tasks, [0.0] * self.num_tasks, [0.0] * self.num_tasks]
        self.task_state = self.add_weight(
            shape=(3, self.num_tasks),
            initializer=keras.initializers.Constant(initial),
            trainable=False,
            name="task_state",
        )

    @property
    def task_weight_values(self):
        """The current task weights `[T]`."""
        return read(self.task_state)[0]

    def combine_gradients(self, grads, losses, step):
        dtype = grads.dtype
        present = active_rows(grads)
        squared_sums = tf.cast(read(self.squared_sums), dtype) + tf.square(grads)
        risks = excess_mtl_risks(grads, squared_sums, self.epsilon)
        weights, initial, has_initial = tf.unstack(tf.cast(read(self.task_state), dtype))
        updating = present * has_initial  # a task's first step only records E_i(0)
        weights = excess_mtl_weight_update(weights, risks, initial, self.step_size, updating)
        initial = tf.where(present * (1.0 - has_initial) > 0, risks, initial)
        has_initial = tf.maximum(has_initial, present)
        self.squared_sums.assign(tf.cast(squared_sums, self.squared_sums.dtype))
        self.task_state.assign(tf.cast(tf.stack([weights, initial, has_initial]), self.task_state.dtype))
        used = weights * present
        return Combination(combine(used, grads), used)

    def get_config(self):
        return {**super().get_config(), "step_size": self.step_size, "epsilon": self.epsilon}
