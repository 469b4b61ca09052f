"""Base class of layers whose computation depends on the task."""

import keras


class TaskAwareLayer(keras.layers.Layer):
    """A layer that computes a feature per task, with parameters owned per task or shared.

    This is the contract between sharing layers and `MultiTaskModel`. A task-aware layer is
    called in one of two ways:

    - `layer(x, task_index=i)` with a Python int `i`: the output for task `i` (a tensor);
      a conditioned layer may also accept an int tensor of shape `(batch,)`, one task per example;
    - `layer(x)` (`task_index=None`): a list with one output per task, in task order
      (efficient when all tasks share the input, e.g. one trunk pass feeding every head).
      Layers that take one input per task accept a list of `num_tasks` tensors here.

    `task_variables(i)` lists the variables that belong to task `i` alone; every other
    variable of the layer is shared. `MultiTaskModel` uses this split to keep the parameters of
    tasks that are not sampled in a step untouched and to give gradient-level weighting the
    shared parameters `θ_sh`.

    Args:
        num_tasks: the number of tasks `T`.
    """

    def __init__(self, num_tasks, **kwargs):
        super().__init__(**kwargs)
        if int(num_tasks) != num_tasks or num_tasks < 1:
            raise ValueError(f"{type(self).__name__}: num_tasks must be a positive integer. Received: num_tasks={num_tasks}")
        self.num_tasks = int(num_tasks)

    def check_task_index(self, task_index):
        """Raises a `ValueError` if a Python int `task_index` is out of range."""
        if isinstance(task_index, int) and not 0 <= task_index < self.num_tasks:
            raise ValueError(
                f"{self.name}: task_index must be in [0, {self.num_tasks}). Received: task_index={task_index}"
            )

    #: Whether the layer adds a penalty to the objective (see `penalty`).
    has_penalty = False

    def penalty(self):
        """A scalar added to the training objective once per step (e.g. soft sharing's coupling).

        Computed from the weights only; `MultiTaskModel` adds it once per step, whatever the
        number of calls, and logs it as `<layer name>_penalty`.
        """
        return None

    def task_variables(self, task_index):
        """Variables that belong to task `task_index` only. Defaults to none (all shared)."""
        self.check_task_index(task_index)
        return []

    def compute_output_spec(self, inputs, task_index=None, **kwargs):
        # Keras's default would not pass `task_index` to `compute_output_shape`, so a symbolic call
        # `layer(keras.Input(...), task_index=i)` would get the list of all tasks' shapes.
        if type(self).compute_output_shape is keras.layers.Layer.compute_output_shape:
            return super().compute_output_spec(inputs, task_index=task_index, **kwargs)
        input_shape = keras.tree.map_structure(lambda t: tuple(t.shape), inputs)
        output_shape = self.compute_output_shape(input_shape, task_index=task_index)
        return keras.tree.map_shape_structure(lambda s: keras.KerasTensor(s, dtype=self.compute_dtype), output_shape)

    def get_config(self):
        return {**super().get_config(), "num_tasks": self.num_tasks}


def check_parts(body, heads, task_names):
    """Raises a `ValueError` if a model's heads are not task-aware, or its body or heads are made for other tasks."""
    if not isinstance(heads, TaskAwareLayer):
        raise ValueError(f"heads must be a mtl_keras.layers.TaskAwareLayer. Received: heads={heads!r}")
    for part, label in ((body, "body"), (heads, "heads")):
        if isinstance(part, TaskAwareLayer) and part.num_tasks != len(task_names):
            raise ValueError(
                f"The {label} was made for {part.num_tasks} tasks but the model has {len(task_names)}: {task_names}."
            )
