"""Additive conditioning: a bias vector per task."""

import keras

from mtl_keras.layers._utils import broadcast_like
from mtl_keras.layers.conditioning import TaskConditioning


@keras.saving.register_keras_serializable(package="mtl_keras")
class AdditiveConditioning(TaskConditioning):
    """Adds a task-dependent bias to the feature: `y = h + W z_i`.

    With a one-hot descriptor `W z_i = b_i` is a bias vector per task (task `i` owns `b_i`).
    With a learned descriptor the bias is `W z_i + b` (shared `W`, `b`; task `i` owns `z_i`).
    The bias is added per channel (last axis), so the layer works on dense features and on
    feature maps. It starts as the identity (all biases 0).

    Concatenating `z` to the input of a linear layer is the same function
    (`W [h; z] = W_h h + W_z z`, see `ConcatConditioning`): `ConcatConditioning(units)` equals a
    `Dense(units)` followed by `AdditiveConditioning` with `b_i` the rows of `W_z`.

    Args:
        num_tasks: the number of tasks `T`.
        descriptor: `"one_hot"` (default) or `"learned"`.
        descriptor_dim: size of a learned descriptor. Defaults to `num_tasks`.
        kernel_initializer: initializer of `W` with a learned descriptor. Defaults to zeros.

    Input shape:
        `(batch, ..., channels)`, or a list of `num_tasks` of them with `task_index=None`.

    Output shape:
        same as the input (a list of `num_tasks` with `task_index=None`).

    Example:

    >>> layer = AdditiveConditioning(num_tasks=3)
    >>> y = layer(keras.ops.ones((4, 8)), task_index=keras.ops.array([0, 1, 2, 0]))
    >>> tuple(y.shape)
    (4, 8)
    """

    def __init__(self, num_tasks, descriptor="one_hot", descriptor_dim=None, kernel_initializer="zeros", **kwargs):
        super().__init__(num_tasks, descriptor=descriptor, descriptor_dim=descriptor_dim, **kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build_task_vectors(self, channels):
        self.bias = self.add_task_vector("bias", channels, 0.0, initializer=self.kernel_initializer)

    def condition(self, h, task_index):
        return h + keras.ops.cast(broadcast_like(self.task_vector(self.bias, task_index), h), h.dtype)

    def get_config(self):
        return {**super().get_config(), "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
