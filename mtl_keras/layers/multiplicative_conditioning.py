"""Multiplicative conditioning: a scaling vector per task (gating)."""

import keras

from mtl_keras.layers._utils import broadcast_like
from mtl_keras.layers.conditioning import TaskConditioning


@keras.saving.register_keras_serializable(package="mtl_keras")
class MultiplicativeConditioning(TaskConditioning):
    """Scales the feature per task: `y = h ⊙ (W z_i)`, optionally through a gate `σ(W z_i)`.

    With a one-hot descriptor `W z_i = s_i` is a scaling vector per task (task `i` owns `s_i`);
    with a learned descriptor it is `W z_i + b` (shared `W`, `b`; task `i` owns `z_i`). The scale
    multiplies each channel (last axis): dense features and feature maps alike. With
    `activation="sigmoid"` the scale is a gate in (0, 1) that switches channels on and off per task.

    Without activation the layer starts as the identity (every scale 1); a sigmoid gate starts at
    `σ(0) = 0.5` on every channel.

    Args:
        num_tasks: the number of tasks `T`.
        activation: applied to `W z_i` (e.g. `"sigmoid"` for gating). Defaults to `None`.
        descriptor: `"one_hot"` (default) or `"learned"`.
        descriptor_dim: size of a learned descriptor. Defaults to `num_tasks`.
        kernel_initializer: initializer of `W` with a learned descriptor. Defaults to zeros.

    Input shape:
        `(batch, ..., channels)`, or a list of `num_tasks` of them with `task_index=None`.

    Output shape:
        same as the input (a list of `num_tasks` with `task_index=None`).

    Example:

    >>> layer = MultiplicativeConditioning(num_tasks=2, activation="sigmoid")
    >>> [tuple(y.shape) for y in layer(keras.ops.ones((4, 6, 6, 3)))]
    [(4, 6, 6, 3), (4, 6, 6, 3)]
    """

    def __init__(self, num_tasks, activation=None, descriptor="one_hot", descriptor_dim=None, kernel_initializer="zeros", **kwargs):
        super().__init__(num_tasks, descriptor=descriptor, descriptor_dim=descriptor_dim, **kwargs)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build_task_vectors(self, channels):
        identity = 1.0 if self.activation is keras.activations.linear else 0.0
        self.scale = self.add_task_vector("scale", channels, identity, initializer=self.kernel_initializer)

    def condition(self, h, task_index):
        scale = self.activation(self.task_vector(self.scale, task_index))
        return h * keras.ops.cast(broadcast_like(scale, h), h.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "activation": keras.activations.serialize(self.activation),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
