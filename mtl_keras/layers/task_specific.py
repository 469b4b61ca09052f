"""No sharing: an independent copy of a layer per task."""

import keras

from mtl_keras.layers._utils import make_copies, output_shape_of, split_inputs, split_shapes
from mtl_keras.layers.base import TaskAwareLayer


@keras.saving.register_keras_serializable(package="mtl_keras")
class TaskSpecific(TaskAwareLayer):
    """`T` independent copies of a layer or sub-model: `y_i = f_{θ_i}(x_i)`, nothing shared.

    One extreme of the notes: every task has its own network. The copies are made from the
    layer's config, so each has its own, independently initialised weights (the weights of the
    layer passed in, if any, are not used). Every weight of copy `i` belongs to task `i`.

    Args:
        layer: a Keras layer or model, used as a template.
        num_tasks: the number of tasks `T`.

    Input shape:
        the wrapped layer's input; with `task_index=None`, one tensor shared by all tasks or a
        list of `num_tasks` tensors (one per task).

    Output shape:
        the wrapped layer's output for task `task_index`; a list of `num_tasks` with `task_index=None`.

    Example:

    >>> block = TaskSpecific(keras.layers.Dense(8, activation="relu"), num_tasks=3)
    >>> [tuple(y.shape) for y in block(keras.ops.ones((4, 5)))]
    [(4, 8), (4, 8), (4, 8)]
    """

    def __init__(self, layer, num_tasks, **kwargs):
        super().__init__(num_tasks, **kwargs)
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(f"{type(self).__name__}: layer must be a Keras layer or model. Received: layer={layer!r}")
        self.layer_config = keras.saving.serialize_keras_object(layer)
        self.copies = make_copies(self.layer_config, self.num_tasks, prefix=self.name)

    def build(self, input_shape):
        for copy, shape in zip(self.copies, split_shapes(self, input_shape), strict=True):
            if not copy.built:
                copy.build(shape)
        self.built = True

    def call(self, inputs, task_index=None):
        if task_index is not None:
            self.check_task_index(task_index)
            return self.copies[task_index](inputs)
        return [copy(x) for copy, x in zip(self.copies, split_inputs(self, inputs), strict=True)]

    def compute_output_shape(self, input_shape, task_index=None):
        if task_index is not None:
            return output_shape_of(self.copies[task_index], input_shape)
        return [output_shape_of(copy, shape) for copy, shape in zip(self.copies, split_shapes(self, input_shape), strict=True)]

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        return list(self.copies[task_index].weights)

    def get_config(self):
        return {**super().get_config(), "layer": self.layer_config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)
