"""Full sharing: one network for all tasks, with the task descriptor appended to its input."""

import keras

from mtl_keras.layers._utils import output_shape_of, split_shapes
from mtl_keras.layers.conditioning import TaskConditioning


@keras.saving.register_keras_serializable(package="mtl_keras")
class SharedWithTaskId(TaskConditioning):
    """One shared network fed the input and the task descriptor: `y_i = f_θ([x; z_i])`.

    The other extreme of the notes: every parameter of `f` is shared, and the task enters only
    through `z_i` concatenated to the input (repeated at every position of a feature map). With
    a learned descriptor task `i` owns `z_i`; everything else is shared.

    Args:
        layer: the shared Keras layer or model `f` (used as is, not copied). It is built for
            inputs of `channels + descriptor size` features.
        num_tasks: the number of tasks `T`.
        descriptor: `"one_hot"` (default) or `"learned"`.
        descriptor_dim: size of a learned descriptor. Defaults to `num_tasks`.

    Input shape:
        `(batch, ..., channels)`, or a list of `num_tasks` of them with `task_index=None`.

    Output shape:
        the output of `f` on `(batch, ..., channels + descriptor size)` (a list of `num_tasks`
        with `task_index=None`).

    Example:

    >>> block = SharedWithTaskId(keras.layers.Dense(8), num_tasks=3)
    >>> tuple(block(keras.ops.ones((4, 5)), task_index=keras.ops.array([0, 2, 1, 1])).shape)
    (4, 8)
    """

    def __init__(self, layer, num_tasks, descriptor="one_hot", descriptor_dim=None, **kwargs):
        super().__init__(num_tasks, descriptor=descriptor, descriptor_dim=descriptor_dim, **kwargs)
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(f"SharedWithTaskId: layer must be a Keras layer or model. Received: layer={layer!r}")
        self.layer = layer

    def _wrapped_shape(self, shape):
        return tuple(shape[:-1]) + (shape[-1] + self.z_dim,)

    def build_task_vectors(self, channels):
        pass

    def build(self, input_shape):
        super().build(input_shape)
        if not self.layer.built:
            self.layer.build(self._wrapped_shape(split_shapes(self, input_shape)[0]))

    def condition(self, h, task_index):
        return self.layer(keras.ops.concatenate([h, self.descriptor_like(h, task_index)], axis=-1))

    def compute_output_shape(self, input_shape, task_index=None):
        if task_index is None:
            return [self.compute_output_shape(s, task_index=0) for s in split_shapes(self, input_shape)]
        return output_shape_of(self.layer, self._wrapped_shape(input_shape))

    def get_config(self):
        return {**super().get_config(), "layer": keras.saving.serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)
