"""Layers conditioned on a preference vector `r` on the simplex: `PreferenceFiLM` and `PreferenceBody`."""

import keras

from mtl_keras.layers._utils import check_channels
from mtl_keras.layers.film import FiLM


@keras.saving.register_keras_serializable(package="mtl_keras")
class PreferenceFiLM(FiLM):
    """FiLM conditioned on a preference vector instead of a task id: `y = γ(r) ⊙ h + β(r)`.

    `γ(r) = W_γ r + b_γ` and `β(r) = W_β r + b_β` are affine maps of the preference `r` `(batch, T)`
    — the learned-descriptor form of `mtl_keras.layers.FiLM` with the descriptor replaced by `r`
    (COSMOS, Ruchte & Grabocka 2021, condition a network on `r` the same way). All weights are
    shared by the tasks. It starts as the identity (`W = 0`, `b_γ = 1`, `b_β = 0`).

    Args:
        num_tasks: the number of tasks `T` (the length of `r`).
        kernel_initializer: initializer of `W_γ`, `W_β`. Defaults to zeros.

    Call arguments:
        inputs: a feature `(batch, C)` or a feature map `(batch, H, W, C)`.
        preference: float tensor `(batch, T)`.

    Example:

    >>> film = PreferenceFiLM(num_tasks=2)
    >>> film(keras.ops.ones((4, 8)), preference=keras.ops.full((4, 2), 0.5)).shape
    (4, 8)
    """

    def __init__(self, num_tasks, kernel_initializer="zeros", **kwargs):
        kwargs.pop("descriptor", None)
        kwargs.pop("descriptor_dim", None)
        super().__init__(num_tasks, descriptor="learned", descriptor_dim=num_tasks, kernel_initializer=kernel_initializer, **kwargs)

    def build(self, input_shape):
        self.channels = input_shape[-1]
        if self.channels is None:
            raise ValueError(f"{self.name}: the last axis of the feature must be known. Received: input_shape={input_shape}")
        self.build_task_vectors(self.channels)  # no task descriptors: the preference is the descriptor
        self.built = True

    def task_vector(self, handle, preference):
        r = keras.ops.cast(preference, handle["kernel"].dtype)
        return keras.ops.matmul(r, handle["kernel"]) + handle["bias"]

    def call(self, inputs, preference):
        check_channels(self, inputs, self.channels)
        return self.condition(inputs, preference)

    def compute_output_shape(self, input_shape, preference=None):
        return tuple(input_shape)

    def compute_output_spec(self, inputs, preference=None, **kwargs):
        return keras.KerasTensor(tuple(inputs.shape), dtype=self.compute_dtype)

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        return []  # every weight is shared

    def get_config(self):
        config = super().get_config()
        for key in ("descriptor", "descriptor_dim"):
            config.pop(key, None)
        return config


@keras.saving.register_keras_serializable(package="mtl_keras")
class PreferenceBody(keras.layers.Layer):
    """A shared trunk whose every block is modulated by the preference `r` through `PreferenceFiLM`.

    Block `k`: `h ← relu(FiLM_k(layer_k(h), r))`, with `layer_k` a `Dense(units[k])` (`backbone="mlp"`)
    or a `Conv2D(filters[k], 3)` followed by 2x2 max pooling (`backbone="conv"`, image inputs; the
    map is then averaged over positions). One network thus represents a whole family of trade-offs.

    Args:
        num_tasks: the number of tasks `T`.
        backbone: `"mlp"` or `"conv"`.
        units: widths of the dense blocks (`"mlp"`), or of dense blocks after the convolutions.
        filters: channels of the convolution blocks (`"conv"`).

    Call arguments:
        inputs: `(batch, d)` (or any shape, flattened) for `"mlp"`; `(batch, H, W, C)` for `"conv"`.
        preference: float tensor `(batch, T)`.
    """

    def __init__(self, num_tasks, backbone="mlp", units=(64, 64), filters=(16, 32), **kwargs):
        super().__init__(**kwargs)
        if backbone not in ("mlp", "conv"):
            raise ValueError(f"PreferenceBody: backbone must be 'mlp' or 'conv'. Received: backbone={backbone!r}")
        self.num_tasks = int(num_tasks)
        self.backbone = backbone
        self.units = tuple(int(u) for u in units)
        self.filters = tuple(int(f) for f in filters) if backbone == "conv" else ()
        self.flatten = keras.layers.Flatten()
        self.convs = [keras.layers.Conv2D(f, 3, padding="same", name=f"conv_{i}") for i, f in enumerate(self.filters)]
        self.pools = [keras.layers.MaxPooling2D(2, padding="same") for _ in self.filters]
        self.denses = [keras.layers.Dense(u, name=f"dense_{i}") for i, u in enumerate(self.units)]
        films = len(self.filters) + len(self.units)
        self.films = [PreferenceFiLM(self.num_tasks, name=f"film_{i}") for i in range(films)]

    def build(self, input_shape):
        self.built = True  # sub-layers are built on the first call

    def call(self, inputs, preference, training=None):
        h = inputs
        films = iter(self.films)
        for conv, pool in zip(self.convs, self.pools):
            h = pool(keras.ops.relu(next(films)(conv(h), preference=preference)))
        h = keras.ops.mean(h, axis=(1, 2)) if self.convs else self.flatten(h)
        for dense in self.denses:
            h = keras.ops.relu(next(films)(dense(h), preference=preference))
        return h

    def compute_output_shape(self, input_shape, preference=None):
        width = self.units[-1] if self.units else (self.filters[-1] if self.filters else None)
        return (input_shape[0], width)

    def get_config(self):
        return {
            **super().get_config(),
            "num_tasks": self.num_tasks,
            "backbone": self.backbone,
            "units": list(self.units),
            "filters": list(self.filters),
        }


def preference_like(preference, inputs):
    """A preference `(T,)` or `(batch, T)` broadcast to `(batch, T)` for the batch of `inputs` (float32)."""
    r = keras.ops.cast(keras.ops.convert_to_tensor(preference), "float32")
    if len(r.shape) == 2:
        return r
    first = keras.tree.flatten(inputs)[0]
    batch = keras.ops.shape(first)[0]
    return keras.ops.broadcast_to(r[None, :], (batch, r.shape[-1]))
