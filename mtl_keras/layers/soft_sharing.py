"""Soft parameter sharing: task copies of a layer coupled by a penalty."""

import keras

from mtl_keras.layers.task_specific import TaskSpecific

PAIRINGS = ("mean", "all_pairs")
NORMS = ("squared_l2", "l2")


@keras.saving.register_keras_serializable(package="mtl_keras")
class SoftSharing(TaskSpecific):
    """`T` copies of a layer whose weights are pulled together by a penalty (soft parameter sharing).

    Each task `t` has its own copy `θ_t` (all of copy `t`'s weights belong to task `t`), and the
    training objective gets the coupling penalty (Duong et al. 2015; the notes' `Σ_t ||θ_t − θ_t'||`)

        pairing="mean":       λ · Σ_t       d(θ_t, θ̄)      with θ̄ = (1/T) Σ_t θ_t
        pairing="all_pairs":  λ · Σ_{t<t'}  d(θ_t, θ_t')

    where `θ_t` is the vector of all trainable weights of copy `t` and `d(a, b) = ||a − b||²`
    (`norm="squared_l2"`, default: smooth, the classic L2 coupling) or `||a − b||`
    (`norm="l2"`: the plain Euclidean norm, which pulls with a constant force and can make
    copies exactly equal). `λ = 0` gives independently trained copies (`TaskSpecific`); as
    `λ → ∞` the copies become equal: hard sharing. The copies start from independent
    initialisations.

    The penalty is returned by `penalty()` (`has_penalty = True`): `MultiTaskModel` adds it once
    per training step and logs it as `<name>_penalty`. `λ` is a non-trainable variable, so it can
    be changed during or between runs (e.g. by a tuner) with `layer.penalty_weight = value`
    without retracing the training step.

    Args:
        layer: a Keras layer or model, used as a template for the copies.
        num_tasks: the number of tasks `T`.
        penalty_weight: `λ >= 0`. Defaults to 0.01.
        pairing: `"mean"` (default, `T` terms) or `"all_pairs"` (`T(T−1)/2` terms).
        norm: `"squared_l2"` (default) or `"l2"`.

    Input shape:
        the wrapped layer's input; with `task_index=None`, one tensor shared by all tasks or a
        list of `num_tasks` tensors (one per task).

    Output shape:
        the wrapped layer's output for task `task_index`; a list of `num_tasks` with `task_index=None`.

    Example:

    >>> block = SoftSharing(keras.layers.Dense(8), num_tasks=2, penalty_weight=0.1)
    >>> outputs = block(keras.ops.ones((4, 5)))
    >>> float(block.penalty()) > 0.0
    True
    >>> block.penalty_weight = 0.0
    >>> float(block.penalty())
    0.0
    """

    has_penalty = True

    def __init__(self, layer, num_tasks, penalty_weight=0.01, pairing="mean", norm="squared_l2", **kwargs):
        super().__init__(layer, num_tasks, **kwargs)
        if pairing not in PAIRINGS:
            raise ValueError(f"SoftSharing: pairing must be one of {PAIRINGS}. Received: pairing={pairing!r}")
        if norm not in NORMS:
            raise ValueError(f"SoftSharing: norm must be one of {NORMS}. Received: norm={norm!r}")
        self.pairing = pairing
        self.norm = norm
        self._check_penalty_weight(penalty_weight)
        self.penalty_weight_variable = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(float(penalty_weight)),
            trainable=False,
            name="penalty_weight",
        )

    @staticmethod
    def _check_penalty_weight(value):
        if not float(value) >= 0.0:
            raise ValueError(f"SoftSharing: penalty_weight (λ) must be >= 0. Received: penalty_weight={value}")

    @property
    def penalty_weight(self):
        """`λ`, as a Python float. Set it with `layer.penalty_weight = value`."""
        return float(keras.ops.convert_to_numpy(self.penalty_weight_variable.value))

    @penalty_weight.setter
    def penalty_weight(self, value):
        self._check_penalty_weight(value)
        self.penalty_weight_variable.assign(float(value))

    def _flat_copies(self):
        flats = []
        for copy in self.copies:
            weights = [keras.ops.reshape(keras.ops.cast(w.value, "float32"), (-1,)) for w in copy.trainable_weights]
            flats.append(keras.ops.concatenate(weights, axis=0))
        return keras.ops.stack(flats, axis=0)

    def coupling(self):
        """The penalty without `λ`: `Σ_t d(θ_t, θ̄)` or `Σ_{t<t'} d(θ_t, θ_t')`."""
        if not self.built or not self.copies[0].trainable_weights:
            return keras.ops.zeros(())
        theta = self._flat_copies()
        if self.pairing == "mean":
            diffs = theta - keras.ops.mean(theta, axis=0, keepdims=True)
        else:
            first = [t for t in range(self.num_tasks) for _ in range(t + 1, self.num_tasks)]
            second = [u for t in range(self.num_tasks) for u in range(t + 1, self.num_tasks)]
            if not first:
                return keras.ops.zeros(())
            diffs = keras.ops.take(theta, first, axis=0) - keras.ops.take(theta, second, axis=0)
        squared = keras.ops.sum(keras.ops.square(diffs), axis=-1)
        if self.norm == "l2":
            # sqrt(max(s, ε)): the norm, with a zero (not NaN) gradient where two copies are equal.
            squared = keras.ops.sqrt(keras.ops.maximum(squared, 1e-24))
        return keras.ops.sum(squared)

    def penalty(self):
        return keras.ops.cast(self.penalty_weight_variable.value, "float32") * self.coupling()

    def get_config(self):
        return {
            **super().get_config(),
            "penalty_weight": self.penalty_weight,
            "pairing": self.pairing,
            "norm": self.norm,
        }
