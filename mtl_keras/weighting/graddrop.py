"""Gradient Sign Dropout (Chen et al., NeurIPS 2020)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import check_int, check_number, step_seed, xla_compiled
from mtl_keras.weighting.base import WEIGHTINGS, Combination, GradientWeighting


@xla_compiled
def graddrop_direction(grads, uniform, leak=0.0, signal=None):
    """GradDrop: keeps, per coordinate, only the gradients of one randomly chosen sign.

    With the positive sign purity `P = ½ (1 + Σ_i s_i / Σ_i |s_i|)` (per coordinate, in `[0, 1]`)
    of the sign signal `s` (the gradients themselves by default) and `U ~ Uniform(0, 1)`, task
    `i` keeps coordinate `k` when `P_k > U_k` and `s_ik > 0`, or `P_k < U_k` and `s_ik < 0`; masks
    leak by `ℓ`: `M = ℓ + (1 - ℓ) M`. Coordinates where every signal is zero give `P = ½` and
    contribute nothing.

    Args:
        grads: float tensor `[T, P]` (or `[T, B, ...]`).
        uniform: float tensor of uniform draws in `[0, 1)`, shaped like one row of `signal`.
        leak: `ℓ` in `[0, 1]`; 1 keeps everything (plain sum). Defaults to 0.
        signal: optional float tensor `[T, ...]` that broadcasts against `grads` and decides the
            masks, e.g. the batch sums `Σ_b ∇_Z L_i[b]` kept as `[T, 1, ...]` so that every example
            of a feature gets the same mask. Defaults to `grads`.

    Returns:
        Float tensor shaped like one row of `grads`: `Σ_i M_i ⊙ g_i`.
    """
    signal = grads if signal is None else tf.cast(signal, grads.dtype)
    total = tf.reduce_sum(signal, axis=0)
    purity = 0.5 * (1.0 + tf.math.divide_no_nan(total, tf.reduce_sum(tf.abs(signal), axis=0)))
    uniform = tf.cast(uniform, grads.dtype)[tf.newaxis]
    purity = purity[tf.newaxis]
    keep = tf.logical_or(tf.logical_and(purity > uniform, signal > 0), tf.logical_and(purity < uniform, signal < 0))
    mask = leak + (1.0 - leak) * tf.cast(keep, grads.dtype)
    return tf.reduce_sum(mask * grads, axis=0)


@WEIGHTINGS.register("graddrop")
@keras.saving.register_keras_serializable(package="mtl_keras")
class GradDrop(GradientWeighting):
    """GradDrop: drops, coordinate by coordinate, the gradients whose sign loses a random vote.

    The sign purity `P = ½ (1 + Σ_i g_i / Σ_i |g_i|)` says how consistently the tasks push each
    coordinate one way; a uniform draw `U` then keeps the positive gradients (when `P > U`) or the
    negative ones, so that the kept direction is consistent in sign. Draws are stateless random
    from `(seed, step)`.

    The paper applies GradDrop to the gradients of a shared activation layer: use it with
    `uses_representation=True`. There, as in the authors' implementation, the sign signal of each
    feature is first summed over the batch (`marginalize_batch`), so every example of a feature
    gets the same mask and one draw per feature is needed (under `tf.distribute`, the sums are
    over the global batch). On parameter gradients (the default) it acts on each coordinate.

    The result is not a linear combination of the task gradients: the reported task weights are 1.

    Args:
        leak: `ℓ` in `[0, 1]`, the fraction of every gradient always kept. Defaults to 0.
        seed: integer seed of the draws. Defaults to 0.
        marginalize_batch: on the representation, decide the signs from the batch sums of the
            gradients (True, the authors' default) or per example and feature (False; under
            `tf.distribute` each replica then draws for its own examples, so the draws are not
            those of one device on the global batch).
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=GradDrop(leak=0.1, uses_representation=True))

    Reference:
        Chen, Ngiam, Huang, Luong, Kretzschmar, Chai & Anguelov, "Just Pick a Sign: Optimizing Deep
        Multitask Models with Gradient Sign Dropout", NeurIPS 2020.
    """

    adaptive = False

    def __init__(self, leak=0.0, seed=0, marginalize_batch=True, **kwargs):
        super().__init__(**kwargs)
        self.leak = check_number("GradDrop", "leak", leak, minimum=0, maximum=1)
        self.seed = check_int("GradDrop", "seed", seed, minimum=0)
        self.marginalize_batch = bool(marginalize_batch)

    def _uniform(self, shape, step, dtype):
        return tf.random.stateless_uniform(shape, seed=step_seed(self.seed, step, salt=53), dtype=dtype)

    def combine_gradients(self, grads, losses, step):
        weights = tf.ones([tf.shape(grads)[0]], grads.dtype)
        return Combination(
            graddrop_direction(grads, self._uniform(tf.shape(grads)[1:], step, grads.dtype), self.leak), weights
        )

    def combine_representation_gradients(self, grads, losses, step):
        if not self.marginalize_batch:
            return super().combine_representation_gradients(grads, losses, step)
        signal = self.sum_over_replicas(
            tf.reduce_sum(grads, axis=1, keepdims=True)
        )  # [T, 1, ...]: one sign per feature
        uniform = self._uniform(tf.shape(signal)[1:], step, grads.dtype)
        weights = tf.ones([tf.shape(grads)[0]], grads.dtype)
        return Combination(graddrop_direction(grads, uniform, self.leak, signal), weights)

    def get_config(self):
        return {
            **super().get_config(),
            "leak": self.leak,
            "seed": self.seed,
            "marginalize_batch": self.marginalize_batch,
        }
