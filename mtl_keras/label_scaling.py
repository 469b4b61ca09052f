"""`LabelScaler`: per-task standardization of regression labels, on `keras.layers.Normalization`."""

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="mtl_keras")
class LabelScaler(keras.layers.Layer):
    """Standardizes the labels of regression tasks for the loss, and maps predictions back.

    Tasks whose labels differ in scale by orders of magnitude pull the shared parameters with
    gradients of very different sizes. With `Task(label_scaling="standard")` the loss sees
    `ỹ = (y − μ) / σ` and the head learns standardized values; predictions are returned in the
    original units, `ŷ = σ · raw + μ`. The statistics `μ, σ` come from the training labels
    (`adapt`), one pair per output unit, and are saved with the model. A unit with `σ = 0` (a
    constant label) is only shifted.

    Each task's statistics live in a `keras.layers.Normalization` layer (its `adapt` computes
    them); scaling reads them from its weights at call time, so a re-adapted scaler takes effect
    in compiled training steps too.

    Args:
        units: dict `{task_name: output units}` of the tasks to scale.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:

    >>> scaler = LabelScaler({"price": 1})
    >>> scaler.adapt({"price": np.array([100.0, 300.0])})
    >>> float(scaler.scale("price", np.array([[300.0]]))[0, 0])
    1.0
    >>> float(scaler.unscale("price", np.array([[1.0]]))[0, 0])
    300.0
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = {str(name): int(n) for name, n in dict(units).items()}
        self.normalizers = {
            name: keras.layers.Normalization(axis=-1, name=f"{name}_labels") for name in self.units
        }
        for name, norm in self.normalizers.items():
            norm.build((None, self.units[name]))
        self.adapted_flag = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False, name="adapted")
        self.built = True

    @property
    def task_names(self):
        """The names of the scaled tasks."""
        return list(self.units)

    @property
    def adapted(self):
        """Whether `adapt` has set the statistics (saved with the model)."""
        return bool(int(keras.ops.convert_to_numpy(self.adapted_flag)))

    def adapt(self, labels):
        """Sets every scaled task's mean and standard deviation from its labels.

        Args:
            labels: dict `{task_name: array}` of labels (missing labels already removed); tasks
                left out keep their statistics.

        Raises:
            ValueError: naming the task, for labels of the wrong width, empty or not finite.
        """
        for name, values in labels.items():
            if name not in self.units:
                raise ValueError(f"LabelScaler: task '{name}' is not scaled. Scaled tasks: {self.task_names}")
            values = np.asarray(values, dtype="float64").reshape(len(values), -1)
            if values.shape[1] != self.units[name]:
                raise ValueError(
                    f"Task '{name}': labels of width {values.shape[1]} for a head of {self.units[name]} unit(s)."
                )
            if len(values) == 0:
                raise ValueError(f"Task '{name}': no labels to adapt label scaling from.")
            if not np.isfinite(values).all():
                bad = values[~np.isfinite(values)].ravel()[0]
                raise ValueError(f"Task '{name}': labels must be finite to adapt label scaling. Received: label={bad}")
            self.normalizers[name].adapt(values.astype("float32"))
        self.adapted_flag.assign(1)

    def copy_statistics(self, other):
        """Takes the statistics of the tasks this scaler shares with `other` (another `LabelScaler`).

        Returns:
            The names of the tasks copied.
        """
        shared = [name for name in self.units if name in other.units]
        for name in shared:
            for mine, theirs in zip(self.normalizers[name].weights, other.normalizers[name].weights):
                mine.assign(theirs)
        if shared and other.adapted:
            self.adapted_flag.assign(1)
        return shared

    def statistics(self, name):
        """`(mean, std)` of task `name`, tensors of shape `(units,)`."""
        weights = {w.name: w for w in self.normalizers[name].weights}
        std = ops.sqrt(ops.maximum(weights["variance"], 0.0))
        return weights["mean"], ops.where(std > 0, std, ops.ones_like(std))

    def scale(self, name, labels):
        """`(y − μ) / σ` for task `name`."""
        labels = ops.convert_to_tensor(labels)
        mean, std = self.statistics(name)
        return (labels - ops.cast(mean, labels.dtype)) / ops.cast(std, labels.dtype)

    def unscale(self, name, values):
        """`σ · v + μ` for task `name`: standardized values back in the labels' units."""
        values = ops.convert_to_tensor(values)
        mean, std = self.statistics(name)
        return values * ops.cast(std, values.dtype) + ops.cast(mean, values.dtype)

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {**super().get_config(), "units": dict(self.units)}
