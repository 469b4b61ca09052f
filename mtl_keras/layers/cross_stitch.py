"""Cross-stitch units: learned linear mixing of the tasks' features."""

import keras
import numpy as np

from mtl_keras.layers._utils import make_copies, split_inputs, split_shapes
from mtl_keras.layers.base import TaskAwareLayer


@keras.saving.register_keras_serializable(package="mtl_keras")
class CrossStitch(TaskAwareLayer):
    """Cross-stitch unit (Misra et al. 2016): each task's feature is a learned mix of all tasks' features.

    With the tasks' features `x_1 … x_T` (one network column per task),

        x̃_i = Σ_j α_ij x_j

    `α` starts at `α_ii = self_weight`, `α_ij = (1 − self_weight) / (T − 1)` (mostly each task's
    own column, as the paper's 0.9 / 0.1) and is learned. With `per_channel=True` every channel
    has its own `α_ij` (a vector of `channels` entries). Row `α_i·` only shapes task `i`'s
    feature, so task `i` owns it.

    If `layer` is given, the unit is a whole cross-stitch block: each task first applies its own
    copy of `layer` (made from its config, as `TaskSpecific`; task `i` owns copy `i`), then the
    features are stitched. Stack blocks (passing the list of features on) for a cross-stitch network.

    Args:
        num_tasks: the number of tasks `T`.
        layer: optional Keras layer or model applied per task before the unit.
        self_weight: initial `α_ii`, in (0, 1]. Defaults to 0.9.
        per_channel: one `α_ij` per channel. Defaults to `False` (a scalar per pair of tasks).

    Input shape:
        a list of `num_tasks` tensors of the same shape `(batch, ..., channels)` (one per task),
        or one tensor fed to every task.

    Output shape:
        task `task_index`'s mixed feature (the shape of the columns' features); a list of
        `num_tasks` with `task_index=None`.

    Example:

    >>> stitch = CrossStitch(num_tasks=2, layer=keras.layers.Dense(8))
    >>> features = stitch(keras.ops.ones((4, 5)))
    >>> [tuple(f.shape) for f in CrossStitch(num_tasks=2)(features)]
    [(4, 8), (4, 8)]
    """

    def __init__(self, num_tasks, layer=None, self_weight=0.9, per_channel=False, **kwargs):
        super().__init__(num_tasks, **kwargs)
        if not 0.0 < float(self_weight) <= 1.0:
            raise ValueError(f"CrossStitch: self_weight must be in (0, 1]. Received: self_weight={self_weight}")
        if layer is not None and not isinstance(layer, keras.layers.Layer):
            raise ValueError(f"CrossStitch: layer must be a Keras layer or model. Received: layer={layer!r}")
        self.self_weight = float(self_weight)
        self.per_channel = bool(per_channel)
        self.layer_config = keras.saving.serialize_keras_object(layer) if layer is not None else None
        self.copies = make_copies(self.layer_config, self.num_tasks, prefix=self.name) if layer is not None else []
        self.alphas = []
        self.channels = None

    def _initial_row(self, task_index, channels):
        other = (1.0 - self.self_weight) / (self.num_tasks - 1) if self.num_tasks > 1 else 0.0
        row = np.full((self.num_tasks,), other, dtype="float32")
        row[task_index] = self.self_weight
        return row[:, None] * np.ones((1, channels), "float32") if self.per_channel else row

    def build(self, input_shape):
        shapes = split_shapes(self, input_shape)
        if self.copies:
            for copy, shape in zip(self.copies, shapes, strict=True):
                if not copy.built:
                    copy.build(shape)
            shapes = [tuple(copy.compute_output_spec(keras.KerasTensor(s)).shape) for copy, s in zip(self.copies, shapes, strict=True)]
        self.channels = shapes[0][-1]
        for i in range(self.num_tasks):
            row = self._initial_row(i, self.channels)
            self.alphas.append(
                self.add_weight(shape=row.shape, initializer=lambda shape, dtype=None, row=row: keras.ops.cast(row, dtype), name=f"alpha{i}")
            )
        self.built = True

    def _columns(self, inputs):
        features = split_inputs(self, inputs)
        if self.copies:
            features = [copy(x) for copy, x in zip(self.copies, features, strict=True)]
        shapes = {tuple(f.shape[1:]) for f in features}
        if len(shapes) > 1:
            raise ValueError(f"{self.name}: the tasks' features must have the same shape. Received shapes: {sorted(shapes, key=str)}")
        return features

    def _stitch(self, columns, task_index):
        stacked = keras.ops.stack(columns, axis=0)  # (T, batch, ..., channels)
        alpha = keras.ops.cast(self.alphas[task_index].value, stacked.dtype)
        rank = len(stacked.shape)
        alpha = keras.ops.reshape(alpha, (self.num_tasks,) + (1,) * (rank - 2) + ((self.channels,) if self.per_channel else (1,)))
        return keras.ops.sum(alpha * stacked, axis=0)

    def call(self, inputs, task_index=None):
        columns = self._columns(inputs)
        if task_index is not None:
            self.check_task_index(task_index)
            return self._stitch(columns, task_index)
        return [self._stitch(columns, i) for i in range(self.num_tasks)]

    def compute_output_shape(self, input_shape, task_index=None):
        shapes = split_shapes(self, input_shape)
        if self.copies:
            shapes = [tuple(copy.compute_output_spec(keras.KerasTensor(s)).shape) for copy, s in zip(self.copies, shapes, strict=True)]
        return shapes[0] if task_index is not None else [shapes[0]] * self.num_tasks

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        copy = list(self.copies[task_index].weights) if self.copies else []
        return [self.alphas[task_index]] + copy

    def get_config(self):
        return {
            **super().get_config(),
            "layer": self.layer_config,
            "self_weight": self.self_weight,
            "per_channel": self.per_channel,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("layer") is not None:
            config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)
