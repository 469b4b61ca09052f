"""Task-aware adapters that let a pre-trained body and old heads serve a new task set."""

import keras
import numpy as np

from mtl_keras.layers._utils import check_task_ids
from mtl_keras.layers.base import TaskAwareLayer


@keras.saving.register_keras_serializable(package="mtl_keras")
class TaskRemap(TaskAwareLayer):
    """Runs a pre-trained task-aware layer for new tasks, each as one of its source tasks.

    A task-aware body (`TaskSpecific`, `SoftSharing`, conditioned layers such as `FiLM` or
    `SharedWithTaskId`, `MMoE` gates, ...) was built for the `S` source tasks. A target task `j`
    has no slot of its own there, so it borrows one: `y_j = body(x, task_index=source_tasks[j])`.

    - copies per task (`TaskSpecific`, `SoftSharing`): target task `j` continues from copy
      `source_tasks[j]`;
    - conditioned bodies: target task `j` reuses source task `source_tasks[j]`'s id, hence its
      descriptor `z` (its one-hot column or learned vector) *as the initialisation of its own*:
      the borrowed per-task parameters belong to target task `j` (`task_variables(j)`) and are
      fine-tuned with it. Source data is not available (the transfer setting of the notes), so
      the source task has no further use for them; when old heads are kept, the borrowed
      source task's predictions change with the new task's (see `fine_tune.transfer_model`).

    Variables of source tasks that no target task borrows receive no gradient.

    Args:
        layer: the pre-trained `TaskAwareLayer` (used as is, weights kept).
        source_tasks: one source task index per target task (indices may repeat).

    Input shape:
        the wrapped layer's input; with `task_index=None`, one shared tensor or a list of
        `len(source_tasks)` tensors.

    Output shape:
        the wrapped layer's output for the borrowed task; a list with `task_index=None`.

    Example:

    >>> body = mk.layers.TaskSpecific(keras.layers.Dense(4), num_tasks=3)
    >>> remap = TaskRemap(body, source_tasks=[2])   # one target task, continues copy 2
    >>> tuple(remap(keras.ops.ones((2, 5)), task_index=0).shape)
    (2, 4)
    """

    def __init__(self, layer, source_tasks, **kwargs):
        source_tasks = [int(s) for s in source_tasks]
        super().__init__(num_tasks=kwargs.pop("num_tasks", len(source_tasks)), **kwargs)
        if not isinstance(layer, TaskAwareLayer):
            raise ValueError(f"TaskRemap: layer must be a mtl_keras.layers.TaskAwareLayer. Received: layer={layer!r}")
        if len(source_tasks) != self.num_tasks or any(not 0 <= s < layer.num_tasks for s in source_tasks):
            raise ValueError(
                f"TaskRemap: source_tasks must give one index in [0, {layer.num_tasks}) per target task. "
                f"Received: source_tasks={source_tasks}"
            )
        self.layer = layer
        self.source_tasks = source_tasks

    @property
    def has_penalty(self):
        return False  # the wrapped layer's penalty (if any) is found by MultiTaskModel on the layer itself

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.built = True

    def _source(self, task_index):
        if isinstance(task_index, (int, np.integer)):
            self.check_task_index(int(task_index))
            return self.source_tasks[int(task_index)]
        ids = check_task_ids(self, task_index)
        return keras.ops.take(keras.ops.convert_to_tensor(self.source_tasks, dtype="int32"), ids, axis=0)

    def call(self, inputs, task_index=None, training=None):
        if task_index is None:
            features = inputs if isinstance(inputs, (list, tuple)) else [inputs] * self.num_tasks
            return [self.call(h, task_index=i, training=training) for i, h in enumerate(features)]
        return self.layer(inputs, task_index=self._source(task_index), training=training)

    def compute_output_shape(self, input_shape, task_index=None):
        if task_index is None:
            shapes = input_shape if isinstance(input_shape, list) else [input_shape] * self.num_tasks
            return [self.compute_output_shape(s, task_index=i) for i, s in enumerate(shapes)]
        source = self.source_tasks[task_index] if isinstance(task_index, int) else 0
        return self.layer.compute_output_shape(input_shape, task_index=source)

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        return list(self.layer.task_variables(self.source_tasks[task_index]))

    def get_config(self):
        return {
            **super().get_config(),
            "layer": keras.saving.serialize_keras_object(self.layer),
            "source_tasks": self.source_tasks,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="mtl_keras")
class StackedHeads(TaskAwareLayer):
    """Heads of several task sets side by side: the old tasks' heads, then the new ones.

    Task `i` of the stack is task `i - offset_k` of part `k`, where part `k` covers tasks
    `[offset_k, offset_k + parts[k].num_tasks)`. Used to keep a pre-trained model's heads next
    to freshly initialised heads for the target tasks.

    Args:
        parts: a list of head layers (`TaskAwareLayer`s), in task order.

    Example:

    >>> old, new = mk.layers.TaskHeads([10, 1]), mk.layers.TaskHeads([3])
    >>> [tuple(y.shape) for y in StackedHeads([old, new])(keras.ops.ones((2, 8)))]
    [(2, 10), (2, 1), (2, 3)]
    """

    def __init__(self, parts, **kwargs):
        parts = list(parts)
        if not parts or not all(isinstance(p, TaskAwareLayer) for p in parts):
            raise ValueError(f"StackedHeads: parts must be a non-empty list of TaskAwareLayers. Received: parts={parts!r}")
        total = sum(p.num_tasks for p in parts)
        super().__init__(num_tasks=kwargs.pop("num_tasks", total), **kwargs)
        self.parts = parts
        self._where = [(k, j) for k, p in enumerate(parts) for j in range(p.num_tasks)]

    def build(self, input_shape):
        for part in self.parts:
            if not part.built:
                part.build(input_shape)
        self.built = True

    def call(self, inputs, task_index=None, training=None):
        if task_index is None:
            features = inputs if isinstance(inputs, (list, tuple)) else [inputs] * self.num_tasks
            return [self.call(h, task_index=i, training=training) for i, h in enumerate(features)]
        self.check_task_index(task_index)
        k, j = self._where[task_index]
        return self.parts[k](inputs, task_index=j, training=training)

    def compute_output_shape(self, input_shape, task_index=None):
        if task_index is None:
            shapes = input_shape if isinstance(input_shape, list) else [input_shape] * self.num_tasks
            return [self.compute_output_shape(s, task_index=i) for i, s in enumerate(shapes)]
        k, j = self._where[task_index]
        return self.parts[k].compute_output_shape(input_shape, task_index=j)

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        k, j = self._where[task_index]
        return list(self.parts[k].task_variables(j))

    def get_config(self):
        return {**super().get_config(), "parts": [keras.saving.serialize_keras_object(p) for p in self.parts]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["parts"] = [keras.saving.deserialize_keras_object(p) for p in config["parts"]]
        return cls(**config)
