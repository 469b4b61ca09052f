"""Task sampling proportional to (a power of) the data-set size."""

import keras
import tensorflow as tf

from mtl_keras.samplers.base import SAMPLERS, TaskSampler, sizes_argument, sizes_in_task_order


@SAMPLERS.register("proportional")
@keras.saving.register_keras_serializable(package="mtl_keras")
class ProportionalSampler(TaskSampler):
    """Samples task `i` with probability `p_i = n_i^α / Σ_j n_j^α`.

    `α = 1` samples in proportion to the data-set sizes `n_i` (every example equally often),
    `α = 0` is uniform, and values in between (e.g. the square root, `α = 0.5`) temper the
    dominance of large data sets.

    Args:
        sizes: data-set size of each task, a dict by task name or a list in task order.
        alpha: the exponent `α >= 0`. Defaults to 1.

    Example:

    >>> sampler = ProportionalSampler(sizes={"a": 1, "b": 2, "c": 3})
    >>> sampler.configure(["a", "b", "c"])
    >>> [round(p, 4) for p in sampler.probabilities(0).numpy().tolist()]
    [0.1667, 0.3333, 0.5]
    """

    def __init__(self, sizes, alpha=1.0):
        if not alpha >= 0:
            raise ValueError(f"ProportionalSampler: alpha must be >= 0. Received: alpha={alpha}")
        self.sizes = sizes_argument(sizes, "ProportionalSampler")
        self.alpha = float(alpha)

    def configure(self, task_names):
        super().configure(task_names)
        self._sizes = tf.constant(sizes_in_task_order(self.sizes, self.task_names, "ProportionalSampler"))

    def probabilities(self, step):
        scores = tf.pow(self._sizes, self.alpha)
        return scores / tf.reduce_sum(scores)

    def get_config(self):
        return {"sizes": self.sizes, "alpha": self.alpha}
