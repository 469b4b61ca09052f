"""Task descriptor `z_i` from an integer task id."""

import keras

from mtl_keras.layers._utils import check_task_ids, take_rows
from mtl_keras.layers.base import TaskAwareLayer

MODES = ("one_hot", "learned")


@keras.saving.register_keras_serializable(package="mtl_keras")
class TaskEmbedding(keras.layers.Layer):
    """Task descriptor `z_i` of an integer task id `i`.

    - `mode="one_hot"`: `z_i = e_i`, the `i`-th unit vector of size `output_dim` (no weights).
    - `mode="learned"`: `z_i` is a trainable vector of size `output_dim`, one per task.

    Each learned row is its own variable, so `task_variables(i)` can list task `i`'s descriptor as
    a parameter owned by task `i` alone.

    Args:
        num_tasks: the number of tasks `T`.
        output_dim: the descriptor size. Defaults to `num_tasks`. A one-hot descriptor needs
            `output_dim >= num_tasks` (extra zeros leave room for tasks added later).
        mode: `"one_hot"` (default) or `"learned"`.
        embeddings_initializer: initializer of the learned rows. Defaults to a normal
            distribution of standard deviation `1 / sqrt(output_dim)` (descriptors of norm ≈ 1).

    Input shape:
        int task ids of shape `(batch,)` (or `(batch, 1)`).

    Output shape:
        `(batch, output_dim)`.

    Example:

    >>> embedding = TaskEmbedding(3)
    >>> keras.ops.convert_to_numpy(embedding(keras.ops.array([2, 0])))
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """

    def __init__(self, num_tasks, output_dim=None, mode="one_hot", embeddings_initializer=None, **kwargs):
        super().__init__(**kwargs)
        if int(num_tasks) != num_tasks or num_tasks < 1:
            raise ValueError(f"TaskEmbedding: num_tasks must be a positive integer. Received: num_tasks={num_tasks}")
        if mode not in MODES:
            raise ValueError(f"TaskEmbedding: mode must be one of {MODES}. Received: mode={mode!r}")
        self.num_tasks = int(num_tasks)
        output_dim = self.num_tasks if output_dim is None else output_dim
        if int(output_dim) != output_dim or output_dim < 1:
            raise ValueError(f"TaskEmbedding: output_dim must be a positive integer. Received: output_dim={output_dim}")
        if mode == "one_hot" and output_dim < self.num_tasks:
            raise ValueError(
                f"TaskEmbedding: a one-hot descriptor of {self.num_tasks} tasks needs output_dim >= {self.num_tasks}. "
                f"Received: output_dim={output_dim}"
            )
        self.output_dim = int(output_dim)
        self.mode = mode
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer or keras.initializers.RandomNormal(stddev=self.output_dim**-0.5)
        )
        self.rows = []

    def build(self, input_shape=None):
        if self.mode == "learned":
            self.rows = [
                self.add_weight(shape=(self.output_dim,), initializer=self.embeddings_initializer, name=f"task{i}")
                for i in range(self.num_tasks)
            ]
        self.built = True

    def check_task_index(self, task_index):
        TaskAwareLayer.check_task_index(self, task_index)

    def lookup(self, task_index):
        """`z` for a Python int task (shape `(output_dim,)`) or an id tensor (shape `(batch, output_dim)`)."""
        if not self.built:
            self.build()
        task_index = check_task_ids(self, task_index)
        if self.mode == "learned":
            return take_rows(self.rows, task_index)
        if isinstance(task_index, int):
            return keras.ops.one_hot(keras.ops.convert_to_tensor(task_index), self.output_dim, dtype=self.compute_dtype)
        return keras.ops.one_hot(task_index, self.output_dim, dtype=self.compute_dtype)

    def call(self, inputs):
        return self.lookup(inputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def task_variables(self, task_index):
        """Task `task_index`'s learned descriptor (none for one-hot descriptors)."""
        self.check_task_index(task_index)
        return [self.rows[task_index]] if self.mode == "learned" else []

    def get_config(self):
        return {
            **super().get_config(),
            "num_tasks": self.num_tasks,
            "output_dim": self.output_dim,
            "mode": self.mode,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
