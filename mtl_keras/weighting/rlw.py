"""Random loss weighting (Lin et al., TMLR 2022)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import check_int, step_seed
from mtl_keras.weighting.base import WEIGHTINGS, LossWeighting


def rlw_weights(num_tasks, seed):
    """`softmax(z)` with `z ~ N(0, I_T)` drawn statelessly from `seed` (`[2]` int): weights `[T]` summing to 1."""
    return tf.nn.softmax(tf.random.stateless_normal([num_tasks], seed=seed))


random_loss_weights = rlw_weights  # former name


@WEIGHTINGS.register("rlw")
@keras.saving.register_keras_serializable(package="mtl_keras")
class RandomLossWeighting(LossWeighting):
    """Random loss weighting (RLW): fresh random weights at every step.

    At each step `t`, `λ̃ ~ N(0, I)` and the weights are `λ = softmax(λ̃)` (they sum to 1, as in the
    paper), so the objective is `Σ_i λ_i L_i`. Draws are stateless, derived from `(seed, step)`:
    a run is reproducible and every replica draws the same weights.

    Args:
        seed: integer seed of the weight draws. Defaults to 0.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=RandomLossWeighting(seed=3))

    Reference:
        Lin, Ye, Xu, Shi, Zhang, Kwok, "Reasonable Effectiveness of Random Weighting: A Litmus Test
        for Multi-Task Learning", TMLR 2022.
    """

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.seed = check_int("RandomLossWeighting", "seed", seed, minimum=0)

    def loss_weights(self, losses, step):
        weights = rlw_weights(self.num_tasks, step_seed(self.seed, step, salt=17))
        return tf.cast(weights, losses.dtype)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
