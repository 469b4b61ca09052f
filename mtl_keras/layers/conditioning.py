"""Base class of the layers that condition a feature `h` on the task descriptor `z`."""

import keras

from mtl_keras.layers._utils import (
    broadcast_like,
    check_channels,
    check_task_ids,
    split_inputs,
    split_shapes,
    take_rows,
)
from mtl_keras.layers.base import TaskAwareLayer
from mtl_keras.layers.task_embedding import TaskEmbedding


class TaskConditioning(TaskAwareLayer):
    """Base of the conditioning layers: `y = f(h, z_i)` for a feature `h` and task descriptor `z_i`.

    The task is given as `task_index`: a Python int (one task for the batch), an int tensor of
    shape `(batch,)` (one task per example, e.g. in a serving signature), or `None` (a list of
    the `T` outputs). The descriptor `z_i` comes from a `TaskEmbedding` (`descriptor="one_hot"`
    or `"learned"`).

    Subclasses describe per-task vectors `v(z)` (a bias, a scale, FiLM's γ and β) with
    `add_task_vector`: with a one-hot descriptor `W z_i` is column `i` of `W`, stored as one
    variable per task (task `i` owns it); with a learned descriptor `v(z) = W z + b` with a
    shared `W` and `b` (and task `i` owns its descriptor `z_i`). Subclasses implement
    `condition(h, task_index)` and, if the width changes, `output_channels(channels)`.

    Args:
        num_tasks: the number of tasks `T`.
        descriptor: `"one_hot"` (default) or `"learned"`.
        descriptor_dim: size of a learned descriptor. Defaults to `num_tasks`.
    """

    def __init__(self, num_tasks, descriptor="one_hot", descriptor_dim=None, **kwargs):
        super().__init__(num_tasks, **kwargs)
        self.descriptor = descriptor
        self.descriptor_dim = descriptor_dim
        self.embedding = TaskEmbedding(self.num_tasks, output_dim=descriptor_dim, mode=descriptor, name="descriptor")
        self.channels = None
        self._task_vectors = []

    @property
    def z_dim(self):
        """Size of the descriptor `z`."""
        return self.embedding.output_dim

    def build(self, input_shape):
        shape = split_shapes(self, input_shape)[0]
        self.channels = shape[-1]
        if self.channels is None:
            raise ValueError(f"{self.name}: the last axis of the feature must be known. Received: input_shape={input_shape}")
        self.embedding.build()
        self.build_task_vectors(self.channels)
        self.built = True

    def build_task_vectors(self, channels):
        """Creates the weights; called by `build` with the feature's channel count."""

    def add_task_vector(self, name, size, identity_value, initializer=None):
        """Adds the weights of a per-task vector `v(z) = W z` of `size` entries.

        `identity_value` (0 for a bias, 1 for a scale) is the initial value of every task's
        vector, so an untrained layer starts from the identity. Returns a handle for `task_vector`.
        """
        init = keras.initializers.Constant(identity_value)
        if self.descriptor == "one_hot":
            rows = [self.add_weight(shape=(size,), initializer=init, name=f"{name}_task{i}") for i in range(self.num_tasks)]
            handle = {"rows": rows}
        else:
            kernel = self.add_weight(shape=(self.z_dim, size), initializer=initializer or "zeros", name=f"{name}_kernel")
            bias = self.add_weight(shape=(size,), initializer=init, name=f"{name}_bias")
            handle = {"kernel": kernel, "bias": bias}
        self._task_vectors.append(handle)
        return handle

    def task_vector(self, handle, task_index):
        """`v(z_i)`: shape `(size,)` for a Python int task, `(batch, size)` for an id tensor."""
        if "rows" in handle:
            return take_rows(handle["rows"], task_index)
        z = self.embedding.lookup(task_index)
        return keras.ops.matmul(z, handle["kernel"]) + handle["bias"]

    def descriptor_like(self, h, task_index):
        """`z_i` broadcast to every position of `h`: shape `h.shape[:-1] + (z_dim,)`."""
        z = broadcast_like(self.embedding.lookup(task_index), h)
        return keras.ops.zeros_like(h[..., :1]) + keras.ops.cast(z, h.dtype)

    def condition(self, h, task_index):
        raise NotImplementedError

    def output_channels(self, channels):
        """Channels of the output for a feature of `channels` channels (the same by default)."""
        return channels

    def call(self, inputs, task_index=None):
        if task_index is None:
            return [self.call(h, task_index=i) for i, h in enumerate(split_inputs(self, inputs))]
        check_channels(self, inputs, self.channels)
        return self.condition(inputs, check_task_ids(self, task_index))

    def compute_output_shape(self, input_shape, task_index=None):
        if task_index is None:
            return [self.compute_output_shape(s, task_index=0) for s in split_shapes(self, input_shape)]
        return tuple(input_shape[:-1]) + (self.output_channels(input_shape[-1]),)

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        rows = [handle["rows"][task_index] for handle in self._task_vectors if "rows" in handle]
        return rows + self.embedding.task_variables(task_index)

    def get_config(self):
        return {**super().get_config(), "descriptor": self.descriptor, "descriptor_dim": self.descriptor_dim}
