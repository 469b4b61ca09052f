"""Fixed task weights, the default."""

import math

import keras

from mtl_keras.weighting.base import WEIGHTINGS, LossWeighting


@WEIGHTINGS.register("static")
@keras.saving.register_keras_serializable(package="mtl_keras")
class StaticWeighting(LossWeighting):
    """Fixed weights: minimises `Σ_i ω_i L_i(θ, D_i)` with constant `ω_i`.

    Args:
        weights: `None` to use each `Task`'s own `weight` (equal weights by default), a list in
            task order, or a dict by task name. Weights must be finite and `>= 0`.

    Example:

    >>> model.compile(optimizer="adam", weighting=StaticWeighting({"left": 1.0, "right": 0.5}))
    >>> StaticWeighting([1.0, 0.5])([[1.0, 0.0], [0.0, 2.0]]).direction  # (1, 1)
    """

    adaptive = False
    backends = ("tensorflow", "jax")

    def __init__(self, weights=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(weights, (str, bytes)) or (weights is not None and not isinstance(weights, dict) and not hasattr(weights, "__iter__")):
            raise ValueError(
                f"StaticWeighting: weights must be None, a list in task order or a dict by task name. Received: weights={weights!r}"
            )
        self.weights_spec = (
            dict(weights) if isinstance(weights, dict) else (list(weights) if weights is not None else None)
        )

    def configure(self, tasks):
        super().configure(tasks)
        self._resolve_values()  # invalid weights raise at compile

    def _resolve_values(self):
        spec = self.weights_spec
        if spec is None:
            values = self.task_weights
        elif isinstance(spec, dict):
            unknown = sorted(set(spec) - set(self.task_names))
            if unknown:
                raise ValueError(f"StaticWeighting: weights name unknown tasks {unknown}. Tasks: {self.task_names}")
            values = [spec.get(name, weight) for name, weight in zip(self.task_names, self.task_weights)]
        else:
            if len(spec) != self.num_tasks:
                raise ValueError(
                    f"StaticWeighting: got {len(spec)} weights for {self.num_tasks} tasks {self.task_names}. "
                    f"Received: weights={spec}"
                )
            values = spec
        for name, value in zip(self.task_names, values):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"StaticWeighting: task '{name}' has a weight that is not a number. Received: weight={value!r}") from None
            if math.isnan(value) or math.isinf(value) or value < 0:
                raise ValueError(f"StaticWeighting: task '{name}' has an invalid weight. Received: weight={value}")
        return [float(v) for v in values]

    @property
    def values(self):
        """The weights `[T]` (Python floats) for the current tasks."""
        return self._resolve_values()

    def loss_weights(self, losses, step):
        return keras.ops.convert_to_tensor(self.values, dtype=losses.dtype)

    def get_config(self):
        return {**super().get_config(), "weights": self.weights_spec}
