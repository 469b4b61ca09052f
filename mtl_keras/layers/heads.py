"""Multi-head block: one output head per task on a shared feature."""

import keras

from mtl_keras.layers.base import TaskAwareLayer


@keras.saving.register_keras_serializable(package="mtl_keras")
class TaskHeads(TaskAwareLayer):
    """One output head per task: `y_i = W_i · tower_i(h) + b_i`.

    The multi-head architecture of the notes: the feature `h` is shared and each task `i` owns
    its head (an optional tower of dense layers, then a linear output of `output_units[i]`
    units). Heads output raw scores (logits, standardized values); `MultiTaskModel` turns them
    into probabilities and original units.

    Args:
        output_units: list of output sizes, one per task.
        hidden_units: sizes of the dense tower of each head before its output layer
            (e.g. `(32,)`). Defaults to `()`: a linear head.
        activation: activation of the tower layers. Defaults to `"relu"`.
        kernel_initializer: initializer of every dense kernel.

    Input shape:
        `(batch, ..., features)`, or with `task_index=None` a list of `num_tasks` such tensors
        (one feature per task) or a single shared tensor.

    Output shape:
        `(batch, ..., output_units[i])` for task `i`; a list of those with `task_index=None`.

    Example:

    >>> heads = TaskHeads([10, 1])
    >>> [tuple(y.shape) for y in heads(keras.ops.ones((4, 8)))]
    [(4, 10), (4, 1)]
    """

    def __init__(self, output_units, hidden_units=(), activation="relu", kernel_initializer="glorot_uniform", **kwargs):
        output_units = [int(u) for u in output_units]
        super().__init__(num_tasks=kwargs.pop("num_tasks", len(output_units)), **kwargs)
        if len(output_units) != self.num_tasks or min(output_units) < 1:
            raise ValueError(f"TaskHeads: output_units must be positive, one per task. Received: output_units={output_units}")
        self.output_units = output_units
        self.hidden_units = [int(u) for u in hidden_units]
        self.activation = activation
        self.kernel_initializer = kernel_initializer
        self.towers = [
            keras.Sequential(
                [
                    keras.layers.Dense(u, activation=activation, kernel_initializer=kernel_initializer, name=f"hidden{j}")
                    for j, u in enumerate(self.hidden_units)
                ]
                + [keras.layers.Dense(units, kernel_initializer=kernel_initializer, name="output")],
                name=f"head{i}",
            )
            for i, units in enumerate(output_units)
        ]

    def build(self, input_shape):
        shapes = input_shape if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)) else [input_shape] * self.num_tasks
        for tower, shape in zip(self.towers, shapes, strict=True):
            tower.build(tuple(shape))

    def _head(self, h, task_index):
        return self.towers[task_index](h)

    def call(self, inputs, task_index=None):
        if task_index is not None:
            self.check_task_index(task_index)
            return self._head(inputs, task_index)
        features = inputs if isinstance(inputs, (list, tuple)) else [inputs] * self.num_tasks
        return [self._head(h, i) for i, h in enumerate(features)]

    def compute_output_shape(self, input_shape, task_index=None):
        def one(shape, i):
            return tuple(shape[:-1]) + (self.output_units[i],)

        if task_index is not None:
            return one(input_shape, task_index)
        if isinstance(input_shape, list):
            return [one(s, i) for i, s in enumerate(input_shape)]
        return [one(input_shape, i) for i in range(self.num_tasks)]

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        return list(self.towers[task_index].weights)

    def get_config(self):
        return {
            **super().get_config(),
            "output_units": self.output_units,
            "hidden_units": self.hidden_units,
            "activation": self.activation,
            "kernel_initializer": self.kernel_initializer,
        }
