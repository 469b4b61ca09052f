"""Gradient Sign Dropout (Chen et al., NeurIPS 2020)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import check_int, check_number, step_seed
from mtl_keras.weighting.base import WEIGHTINGS, Weighting


def graddrop_direction(grads, uniform, leak=0.0):
    """GradDrop: keeps, per coordinate, only the gradients of one randomly chosen sign.

    With the positive sign purity `P = ½ (1 + Σ_i g_i / Σ_i |g_i|)` (per coordinate, in `[0, 1]`)
    and `U ~ Uniform(0, 1)`, task `i` keeps coordinate `k` when `P_k > U_k` and `g_ik > 0`, or
    `P_k < U_k` and `g_ik < 0`; masks leak by `ℓ`: `M = ℓ + (1 - ℓ) M`. Coordinates where every
    gradient is zero give `P = ½` and contribute nothing.

    Args:
        grads: float tensor `[T, P]`.
        uniform: float tensor `[P]` of uniform draws in `[0, 1)`.
        leak: `ℓ` in `[0, 1]`; 1 keeps everything (plain sum). Defaults to 0.

    Returns:
        Float tensor `[P]`: `Σ_i M_i ⊙ g_i`.
    """
    total = tf.reduce_sum(grads, axis=0)
    purity = 0.5 * (1.0 + tf.math.divide_no_nan(total, tf.reduce_sum(tf.abs(grads), axis=0)))
    uniform = tf.cast(uniform, grads.dtype)[tf.newaxis]
    purity = purity[tf.newaxis]
    keep = tf.logical_or(
        tf.logical_and(purity > uniform, grads > 0), tf.logical_and(purity < uniform, grads < 0)
    )
    mask = leak + (1.0 - leak) * tf.cast(keep, grads.dtype)
    return tf.reduce_sum(mask * grads, axis=0)


@WEIGHTINGS.register("graddrop")
@keras.saving.register_keras_serializable(package="mtl_keras")
class GradDrop(Weighting):
    """GradDrop: drops, coordinate by coordinate, the gradients whose sign loses a random vote.

    The sign purity `P = ½ (1 + Σ_i g_i / Σ_i |g_i|)` says how consistently the tasks push each
    coordinate one way; a uniform draw `U` then keeps the positive gradients (when `P > U`) or the
    negative ones, so that the kept direction is consistent in sign. The paper applies it to the
    gradients of a shared activation layer (use the model's representation gradients for that);
    on parameter gradients it acts coordinate-wise in the same way. Draws are stateless random from
    `(seed, step)`.

    The result is not a linear combination of the task gradients: the reported task weights are 1.

    Args:
        leak: `ℓ` in `[0, 1]`, the fraction of every gradient always kept. Defaults to 0.
        seed: integer seed of the draws. Defaults to 0.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=GradDrop(leak=0.1))

    Reference:
        Chen, Ngiam, Huang, Luong, Kretzschmar, Chai & Anguelov, "Just Pick a Sign: Optimizing Deep
        Multitask Models with Gradient Sign Dropout", NeurIPS 2020.
    """

    uses_gradients = True
    adaptive = False

    def __init__(self, leak=0.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.leak = check_number("GradDrop", "leak", leak, minimum=0, maximum=1)
        self.seed = check_int("GradDrop", "seed", seed, minimum=0)

    def combine_gradients(self, grads, losses, step):
        uniform = tf.random.stateless_uniform(tf.shape(grads)[1:], seed=step_seed(self.seed, step, salt=53), dtype=grads.dtype)
        weights = tf.ones([tf.shape(grads)[0]], grads.dtype)
        return graddrop_direction(grads, uniform, self.leak), weights

    def get_config(self):
        return {**super().get_config(), "leak": self.leak, "seed": self.seed}
