"""Concatenation-based conditioning: `[h, z]` into a linear layer."""

import keras

from mtl_keras.layers.conditioning import TaskConditioning


@keras.saving.register_keras_serializable(package="mtl_keras")
class ConcatConditioning(TaskConditioning):
    """Concatenates the task descriptor to the feature, then a linear layer: `y = a(W [h; z_i] + b)`.

    `z_i` is repeated at every position of a feature map, so on `(batch, H, W, C)` this is a
    1×1 convolution of the concatenated map. Splitting `W = [W_h; W_z]` gives
    `W [h; z_i] = W_h h + W_z z_i`: the same function as a linear layer followed by
    `AdditiveConditioning` (with a one-hot `z_i`, the task bias is row `i` of `W_z`).

    `W` and `b` are shared (one matrix mixes `h` and `z`); with a learned descriptor task `i`
    owns `z_i`.

    Args:
        num_tasks: the number of tasks `T`.
        units: output channels.
        activation: activation `a`. Defaults to `None` (linear).
        use_bias: whether to add `b`. Defaults to `True`.
        descriptor: `"one_hot"` (default) or `"learned"`.
        descriptor_dim: size of a learned descriptor. Defaults to `num_tasks`.
        kernel_initializer: initializer of `W`.
        bias_initializer: initializer of `b`.

    Input shape:
        `(batch, ..., channels)`, or a list of `num_tasks` of them with `task_index=None`.

    Output shape:
        `(batch, ..., units)` (a list of `num_tasks` with `task_index=None`).

    Example:

    >>> layer = ConcatConditioning(num_tasks=3, units=16)
    >>> tuple(layer(keras.ops.ones((4, 8)), task_index=2).shape)
    (4, 16)
    """

    def __init__(
        self,
        num_tasks,
        units,
        activation=None,
        use_bias=True,
        descriptor="one_hot",
        descriptor_dim=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(num_tasks, descriptor=descriptor, descriptor_dim=descriptor_dim, **kwargs)
        if int(units) != units or units < 1:
            raise ValueError(f"ConcatConditioning: units must be a positive integer. Received: units={units}")
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build_task_vectors(self, channels):
        self.kernel = self.add_weight(shape=(channels + self.z_dim, self.units), initializer=self.kernel_initializer, name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer, name="bias") if self.use_bias else None

    def condition(self, h, task_index):
        hz = keras.ops.concatenate([h, self.descriptor_like(h, task_index)], axis=-1)
        y = keras.ops.matmul(hz, keras.ops.cast(self.kernel, h.dtype))
        if self.bias is not None:
            y = y + keras.ops.cast(self.bias, h.dtype)
        return self.activation(y)

    def output_channels(self, channels):
        return self.units

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
