"""FiLM: feature-wise linear modulation by the task."""

import keras

from mtl_keras.layers._utils import broadcast_like
from mtl_keras.layers.conditioning import TaskConditioning


@keras.saving.register_keras_serializable(package="mtl_keras")
class FiLM(TaskConditioning):
    """Feature-wise linear modulation (Perez et al. 2018): `y = γ(z_i) ⊙ h + β(z_i)`.

    Each channel (last axis) of `h` is scaled and shifted by the task: a dense feature
    `(batch, C)` or a feature map `(batch, H, W, C)` (per channel, the same at every position).
    With a one-hot descriptor `γ(z_i) = γ_i` and `β(z_i) = β_i` are vectors per task (task `i`
    owns them); with a learned descriptor they are affine maps of `z_i`,
    `γ(z) = W_γ z + b_γ`, `β(z) = W_β z + b_β` (shared; task `i` owns `z_i`).

    The layer starts as the identity: `γ = 1`, `β = 0` (with a learned descriptor `W_γ = W_β = 0`,
    `b_γ = 1`, `b_β = 0`), so inserting an untrained FiLM block does not change a network.
    The layer is built for a channel count and rejects features with another one.

    Args:
        num_tasks: the number of tasks `T`.
        descriptor: `"one_hot"` (default) or `"learned"`.
        descriptor_dim: size of a learned descriptor. Defaults to `num_tasks`.
        kernel_initializer: initializer of `W_γ`, `W_β` with a learned descriptor. Defaults to zeros.

    Input shape:
        `(batch, ..., channels)`, or a list of `num_tasks` of them with `task_index=None`.

    Output shape:
        same as the input (a list of `num_tasks` with `task_index=None`).

    Example:

    >>> film = FiLM(num_tasks=3)
    >>> h = keras.ops.ones((2, 5, 5, 8))
    >>> bool(keras.ops.all(film(h, task_index=1) == h))  # identity at initialisation
    True
    """

    def __init__(self, num_tasks, descriptor="one_hot", descriptor_dim=None, kernel_initializer="zeros", **kwargs):
        super().__init__(num_tasks, descriptor=descriptor, descriptor_dim=descriptor_dim, **kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build_task_vectors(self, channels):
        self.gamma = self.add_task_vector("gamma", channels, 1.0, initializer=self.kernel_initializer)
        self.beta = self.add_task_vector("beta", channels, 0.0, initializer=self.kernel_initializer)

    def condition(self, h, task_index):
        gamma = keras.ops.cast(broadcast_like(self.task_vector(self.gamma, task_index), h), h.dtype)
        beta = keras.ops.cast(broadcast_like(self.task_vector(self.beta, task_index), h), h.dtype)
        return gamma * h + beta

    def get_config(self):
        return {**super().get_config(), "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
