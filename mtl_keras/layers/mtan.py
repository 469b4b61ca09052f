"""MTAN: task-specific soft-attention modules over a shared convolutional backbone."""

import math

import keras
import numpy as np

from mtl_keras.layers._utils import split_inputs
from mtl_keras.layers.base import TaskAwareLayer

POOLINGS = (None, "avg", "max", "flatten")


@keras.saving.register_keras_serializable(package="mtl_keras")
class MTAN(TaskAwareLayer):
    """Multi-task attention network (Liu, Johns, Davison, CVPR 2019): soft attention per task over a shared backbone.

    A shared backbone of `J` stages computes the global feature pool `p^(1) … p^(J)`
    (`p^(j) = stage_j(p^(j−1))`). Task `i` owns one attention module per stage and reads the
    pool through element-wise masks:

        a_i^(1) = h_i^(1)(g_i^(1)(p^(1))),
        a_i^(j) = h_i^(j)(g_i^(j)([p^(j); f^(j)(â_i^(j−1))])),      j > 1
        â_i^(j) = a_i^(j) ⊙ p^(j)

    `g` is a 1×1 convolution, batch normalisation and ReLU, `h` a 1×1 convolution, batch
    normalisation and a sigmoid, so every mask is in `(0, 1)`; `f^(j)`, shared by the tasks, is a
    3×3 convolution with batch normalisation and ReLU that maps the previous attended feature to the
    channels of stage `j`, followed by max pooling to its resolution. Task `i`'s output is its
    last attended feature `â_i^(J)` (globally pooled with `pooling`). The backbone and the `f^(j)`
    are shared; task `i` owns its `g_i, h_i`, so its output depends only on the shared
    parameters and its own attention modules, and the tasks' features differ only by what
    their masks select.

    The paper splits each block into its first layers (whose output `u^(j)` the mask reads) and
    its last layer (whose output `p^(j)` the mask multiplies). Here a stage is any Keras layer, so
    the mask reads the stage's output `p^(j)` itself, as for a one-layer block of the paper.

    Args:
        num_tasks: the number of tasks `T`.
        stages: list of Keras layers, the shared backbone's stages, each mapping a feature map
            `(batch, h, w, c)` to one of the same or a smaller (integer-factor) resolution, e.g.
            strided convolutions or residual blocks.
        attention_units: channels of the attention modules' hidden 1×1 convolution; `None`
            (default) uses each stage's own channel count.
        pooling: `"avg"` (default: global average pooling of the output), `"max"`, `"flatten"`
            (the feature map as one vector, keeping where each feature is) or `None` (the
            feature map).

    Input shape:
        `(batch, height, width, channels)`, or with `task_index=None` a list of `num_tasks` such
        tensors (one per task; each then runs the backbone).

    Output shape:
        `(batch, channels_J)` with average or max pooling, `(batch, h_J · w_J · channels_J)`
        flattened, else the last stage's feature map; a list of `num_tasks` with `task_index=None`.

    Example:

    >>> stages = [keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
    ...           keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")]
    >>> mtan = MTAN(num_tasks=2, stages=stages)
    >>> [tuple(y.shape) for y in mtan(keras.ops.ones((4, 16, 16, 3)))]
    [(4, 16), (4, 16)]
    >>> [tuple(m.shape) for m in mtan.attention_masks(keras.ops.ones((4, 16, 16, 3)), task_index=0)]
    [(4, 8, 8, 8), (4, 4, 4, 16)]

    Reference: Liu, Johns, Davison. End-to-End Multi-Task Learning with Attention. CVPR 2019.
    """

    def __init__(self, num_tasks, stages, attention_units=None, pooling="avg", **kwargs):
        super().__init__(num_tasks, **kwargs)
        stages = list(stages) if isinstance(stages, (list, tuple)) else [stages]
        if not stages or not all(isinstance(s, keras.layers.Layer) for s in stages):
            raise ValueError(f"MTAN: stages must be a non-empty list of Keras layers. Received: stages={stages!r}")
        if attention_units is not None and (int(attention_units) != attention_units or attention_units < 1):
            raise ValueError(f"MTAN: attention_units must be None or a positive integer. Received: attention_units={attention_units}")
        if pooling not in POOLINGS:
            raise ValueError(f"MTAN: pooling must be one of {POOLINGS}. Received: pooling={pooling!r}")
        self.stages = stages
        self.attention_units = None if attention_units is None else int(attention_units)
        self.pooling = pooling
        self.stage_shapes = None
        self.attention = []  # attention[i][j]: task i's module at stage j
        self.transfers = []  # transfers[j - 1]: the shared f^(j)

    # ------------------------------------------------------------------ build
    def _shapes(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 4:
            raise ValueError(f"{self.name}: MTAN takes images (batch, height, width, channels). Received: input_shape={shape}")
        shapes = []
        for stage in self.stages:
            if not stage.built:
                stage.build(shape)
            shape = tuple(stage.compute_output_spec(keras.KerasTensor(shape)).shape)
            if len(shape) != 4:
                raise ValueError(f"{self.name}: stage '{stage.name}' must output feature maps (rank 4). Received: output shape {shape}")
            shapes.append(shape)
        return shapes

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        self.stage_shapes = self._shapes(input_shape)
        for j, shape in enumerate(self.stage_shapes):
            if j > 0:
                self.transfers.append(self._transfer(j, self.stage_shapes[j - 1], shape))
        for i in range(self.num_tasks):
            self.attention.append([self._attention_module(i, j, shape[-1]) for j, shape in enumerate(self.stage_shapes)])
        for i in range(self.num_tasks):
            for j, shape in enumerate(self.stage_shapes):
                channels = shape[-1] * (1 if j == 0 else 2)
                self.attention[i][j].build(shape[:-1] + (channels,))
        for j, transfer in enumerate(self.transfers, start=1):
            transfer.build(self.stage_shapes[j - 1])
        self.built = True

    def _attention_module(self, task, stage, channels):
        units = self.attention_units or channels
        return keras.Sequential(
            [
                keras.layers.Conv2D(units, 1, name="g_conv"),
                keras.layers.BatchNormalization(name="g_bn"),
                keras.layers.ReLU(name="g_relu"),
                keras.layers.Conv2D(channels, 1, name="h_conv"),
                keras.layers.BatchNormalization(name="h_bn"),
                keras.layers.Activation("sigmoid", name="h_sigmoid"),
            ],
            name=f"task{task}_attention{stage}",
        )

    def _transfer(self, stage, previous, current):
        factors = [_pool_factor(a, b) for a, b in zip(previous[1:3], current[1:3], strict=True)]
        if None in factors:
            raise ValueError(
                f"{self.name}: stage {stage} must keep or shrink the resolution of stage {stage - 1} by an integer "
                f"factor. Received: feature maps {previous} -> {current}"
            )
        layers = [
            keras.layers.Conv2D(current[-1], 3, padding="same", use_bias=False, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.ReLU(name="relu"),
        ]
        if factors != [1, 1]:
            layers.append(keras.layers.MaxPooling2D(pool_size=tuple(factors), padding="same", name="pool"))
        return keras.Sequential(layers, name=f"shared_transfer{stage}")

    # ------------------------------------------------------------------ forward
    def shared_features(self, inputs):
        """The global feature pool `[p^(1), …, p^(J)]` (the shared backbone's stage outputs)."""
        features, h = [], inputs
        for stage in self.stages:
            h = stage(h)
            features.append(h)
        return features

    def _attend(self, features, task_index):
        masks, attended = [], None
        for j, p in enumerate(features):
            if j == 0:
                mask = self.attention[task_index][0](p)
            else:
                previous = self.transfers[j - 1](attended)
                mask = self.attention[task_index][j](keras.ops.concatenate([p, previous], axis=-1))
            attended = mask * p
            masks.append(mask)
        return attended, masks

    def attention_masks(self, inputs, task_index):
        """Task `task_index`'s masks `[a^(1), …, a^(J)]`, each of the shape of its stage's output, in `(0, 1)`."""
        self.check_task_index(task_index)
        return self._attend(self.shared_features(inputs), task_index)[1]

    def _pool(self, feature):
        if self.pooling == "avg":
            return keras.ops.mean(feature, axis=(1, 2))
        if self.pooling == "max":
            return keras.ops.max(feature, axis=(1, 2))
        if self.pooling == "flatten":
            return keras.ops.reshape(feature, (-1, int(np.prod(feature.shape[1:]))))
        return feature

    def call(self, inputs, task_index=None):
        if isinstance(inputs, (list, tuple)):
            per_task = split_inputs(self, inputs)
            if task_index is not None:
                self.check_task_index(task_index)
                return self.call(per_task[task_index], task_index=task_index)
            return [self.call(x, task_index=i) for i, x in enumerate(per_task)]
        features = self.shared_features(inputs)  # one backbone pass for every task
        if task_index is not None:
            self.check_task_index(task_index)
            return self._pool(self._attend(features, task_index)[0])
        return [self._pool(self._attend(features, i)[0]) for i in range(self.num_tasks)]

    def compute_output_shape(self, input_shape, task_index=None):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        last = self._shapes(input_shape)[-1]
        if self.pooling == "flatten":
            shape = (last[0], int(np.prod(last[1:])))
        else:
            shape = (last[0], last[-1]) if self.pooling else last
        return shape if task_index is not None else [shape] * self.num_tasks

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        return [w for module in self.attention[task_index] for w in module.weights]

    def get_config(self):
        return {
            **super().get_config(),
            "stages": [keras.saving.serialize_keras_object(stage) for stage in self.stages],
            "attention_units": self.attention_units,
            "pooling": self.pooling,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["stages"] = [keras.saving.deserialize_keras_object(c) for c in config["stages"]]
        return cls(**config)


def _pool_factor(before, after):
    """The integer `r` with `ceil(before / r) == after` (max pooling with `padding="same"`), or `None`."""
    if before is None or after is None or after < 1 or after > before:
        return None
    factor = math.ceil(before / after)
    return factor if math.ceil(before / factor) == after else None
