"""`PreferenceObjective`: the training objective of a preference-conditioned model (COSMOS)."""

import keras
import tensorflow as tf

from mtl_keras.weighting.base import LossWeighting


@keras.saving.register_keras_serializable(package="mtl_keras")
class PreferenceObjective(LossWeighting):
    """`Σ_i r_i L_i − λ cos(r, L)` for the preference `r` drawn at the current step.

    The linear scalarisation `Σ r_i L_i` trains the network at the trade-off `r`; COSMOS's cosine
    term (Ruchte & Grabocka 2021) pulls the loss vector `L = (L_1, ..., L_T)` towards the direction of
    `r`, which spreads the solutions along the front (linear scalarisation alone tends to collapse on
    its convex parts). `λ = 0` is plain linear scalarisation with random preferences.

    Mind the scale of `λ`: the cosine term pulls `L` towards the *direction* of `r` (a larger `r_i`,
    a relatively larger `L_i`), against the linear term (a larger `r_i`, a smaller `L_i`). Its gradient
    grows like `λ / |L|`, so with small losses a large `λ` takes over and reverses the meaning of `r`
    (measured: with `λ = 1` on a two-regression toy problem whose losses fall below 1, `r = (0.9, 0.1)`
    gave the *higher* loss on the first task; with `λ = 0.1` and `λ = 0` the lower). Hence the default 0.1.

    `PreferenceModel` sets the step's preference (`step_preference`, a `(T,)` tensor) before the
    objective is computed; the reported weights are `r`.

    Args:
        cosine_weight: `λ >= 0`. Defaults to 0.1.

    Reference: Ruchte & Grabocka, "Scalable Pareto Front Approximation for Deep Multi-Objective
    Learning" (COSMOS), ICDM 2021.
    """

    adaptive = False

    def __init__(self, cosine_weight=0.1, **kwargs):
        super().__init__(**kwargs)
        self.cosine_weight = float(cosine_weight)
        object.__setattr__(self, "step_preference", None)

    def combine_losses(self, losses, sampled, step):
        r = self.step_preference
        if r is None:  # outside a preference model's step: uniform
            r = tf.fill([self.num_tasks], 1.0 / self.num_tasks)
        r = tf.cast(r, losses.dtype)
        active = tf.cast(sampled, losses.dtype) * losses
        total = tf.reduce_sum(r * active)
        if self.cosine_weight:
            cosine = tf.reduce_sum(r * active) / (tf.norm(r) * tf.norm(active) + 1e-12)
            total -= self.cosine_weight * cosine
        return total, tf.stop_gradient(r)

    def get_config(self):
        return {**super().get_config(), "cosine_weight": self.cosine_weight}
