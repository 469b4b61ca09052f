"""`TaskStack`: shared and task-aware layers chained into one task-aware body.

Used by the zoo's conditioned (FiLM, additive, multiplicative), cross-stitch and image MMoE / PLE
models; it lives with the other sharing layers so that `.keras` files of those models reload after
`import mtl_keras` alone.
"""

import keras

from mtl_keras.layers.base import TaskAwareLayer

MODES = ("per_task", "columns")


@keras.saving.register_keras_serializable(package="mtl_keras")
class TaskStack(TaskAwareLayer):
    """A sequence of shared and task-aware layers that threads the task through the stack.

    Plain Keras layers in the stack are shared by every task; `TaskAwareLayer`s compute a
    feature per task. Two modes:

    - `"per_task"` (default): each task's feature is computed on its own,
      `h_i = f_n(… f_2(f_1(x, i), i) …, i)`, every task-aware layer being called with
      `task_index=i` (conditioning layers such as `FiLM`, `MMoE` or `PLE` after a shared
      backbone, a per-task copy). The leading plain layers run once for all tasks.
      `task_index` may also be an int tensor of shape `(batch,)` (one task per example).
    - `"columns"`: the stack carries the list of all tasks' features (one column per task), as
      in a cross-stitch network: task-aware layers map the list of columns to a new list, plain
      layers are applied to every column, and task `i`'s output is column `i`.

    Args:
        layers: list of Keras layers (plain or task-aware).
        num_tasks: the number of tasks `T`.
        mode: `"per_task"` (default) or `"columns"`.

    Input shape:
        the first layer's input, e.g. `(batch, features)` or `(batch, height, width, channels)`.

    Output shape:
        the last layer's output for task `task_index`; a list of `num_tasks` with `task_index=None`.

    Example:

    >>> stack = TaskStack([keras.layers.Dense(8), FiLM(num_tasks=2), keras.layers.ReLU()], num_tasks=2)
    >>> [tuple(h.shape) for h in stack(keras.ops.ones((4, 5)))]
    [(4, 8), (4, 8)]
    """

    def __init__(self, layers, num_tasks, mode="per_task", **kwargs):
        super().__init__(num_tasks, **kwargs)
        if mode not in MODES:
            raise ValueError(f"TaskStack: mode must be one of {MODES}. Received: mode={mode!r}")
        layers = list(layers)
        if not layers:
            raise ValueError("TaskStack: layers must be a non-empty list of Keras layers. Received: layers=[]")
        for layer in layers:
            if not isinstance(layer, keras.layers.Layer):
                raise ValueError(f"TaskStack: every item of layers must be a Keras layer. Received: {layer!r}")
            if isinstance(layer, TaskAwareLayer) and layer.num_tasks != self.num_tasks:
                raise ValueError(
                    f"TaskStack: layer '{layer.name}' was made for {layer.num_tasks} tasks, the stack for {self.num_tasks}."
                )
        self.mode = mode
        self.stack_layers = layers
        prefix = 0
        while prefix < len(layers) and not isinstance(layers[prefix], TaskAwareLayer):
            prefix += 1
        self._prefix = prefix

    def build(self, input_shape):
        # A symbolic pass builds every layer of the stack with the shapes it will see.
        self._forward(keras.KerasTensor(tuple(input_shape)), None)
        self.built = True

    def _shared_prefix(self, x):
        for layer in self.stack_layers[: self._prefix]:
            x = layer(x)
        return x

    def _per_task(self, h, task_index):
        for layer in self.stack_layers[self._prefix :]:
            h = layer(h, task_index=task_index) if isinstance(layer, TaskAwareLayer) else layer(h)
        return h

    def _forward(self, inputs, task_index):
        h = self._shared_prefix(inputs)
        if self.mode == "per_task":
            if task_index is None:
                return [self._per_task(h, i) for i in range(self.num_tasks)]
            return self._per_task(h, task_index)
        columns = h
        for layer in self.stack_layers[self._prefix :]:
            if isinstance(layer, TaskAwareLayer):
                columns = layer(columns)
            elif isinstance(columns, list):
                columns = [layer(c) for c in columns]
            else:
                columns = layer(columns)
        if not isinstance(columns, list):
            columns = [columns] * self.num_tasks
        if task_index is None:
            return columns
        if not isinstance(task_index, int):
            raise ValueError(
                f"{self.name}: a 'columns' TaskStack takes a Python int task_index. Received: task_index={task_index!r}"
            )
        return columns[task_index]

    def call(self, inputs, task_index=None):
        if isinstance(task_index, int):
            self.check_task_index(task_index)
        return self._forward(inputs, task_index)

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        owned = []
        for layer in self.stack_layers:
            if isinstance(layer, TaskAwareLayer):
                owned += layer.task_variables(task_index)
        return owned

    def get_config(self):
        return {
            **super().get_config(),
            "layers": [keras.saving.serialize_keras_object(layer) for layer in self.stack_layers],
            "mode": self.mode,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layers"] = [keras.saving.deserialize_keras_object(c) for c in config["layers"]]
        return cls(**config)
