"""Annealed task sampling (Stickland & Murray, 2019)."""

import keras
import tensorflow as tf

from mtl_keras.samplers.base import SAMPLERS, TaskSampler, sizes_argument, sizes_in_task_order


@SAMPLERS.register("annealed")
@keras.saving.register_keras_serializable(package="mtl_keras")
class AnnealedSampler(TaskSampler):
    """Proportional sampling whose exponent anneals from 1 towards uniform.

    `p_i(s) ∝ n_i^{α(s)}` with `α(s) = 1 - (1 - alpha_end) · min(s / (total_steps - 1), 1)`.
    Training starts proportional to the data-set sizes and ends closer to uniform, so small
    tasks are not neglected late in training. With `alpha_end = 0.2` and steps counted in epochs
    this is the schedule of "BERT and PALs" (Stickland & Murray, ICML 2019),
    `α = 1 - 0.8 (e - 1) / (E - 1)`.

    Args:
        sizes: data-set size of each task, a dict by task name or a list in task order.
        total_steps: number of steps over which `α` anneals (`>= 2`).
        alpha_end: the exponent reached at `total_steps - 1`. Defaults to 0.2.

    Example:

    >>> sampler = AnnealedSampler(sizes=[1, 4], total_steps=3, alpha_end=0.0)
    >>> sampler.configure(["a", "b"])
    >>> sampler.probabilities(2).numpy().tolist()  # α = 0 at the end: uniform
    [0.5, 0.5]
    """

    def __init__(self, sizes, total_steps, alpha_end=0.2):
        if int(total_steps) != total_steps or total_steps < 2:
            raise ValueError(f"AnnealedSampler: total_steps must be an integer >= 2. Received: total_steps={total_steps}")
        if not 0 <= alpha_end <= 1:
            raise ValueError(f"AnnealedSampler: alpha_end must be in [0, 1]. Received: alpha_end={alpha_end}")
        self.sizes = sizes_argument(sizes, "AnnealedSampler")
        self.total_steps = int(total_steps)
        self.alpha_end = float(alpha_end)

    def configure(self, task_names):
        super().configure(task_names)
        self._sizes = tf.constant(sizes_in_task_order(self.sizes, self.task_names, "AnnealedSampler"))

    def alpha(self, step):
        """The exponent `α` at `step`."""
        progress = tf.minimum(tf.cast(step, tf.float32) / float(self.total_steps - 1), 1.0)
        return 1.0 - (1.0 - self.alpha_end) * progress

    def probabilities(self, step):
        scores = tf.pow(self._sizes, self.alpha(step))
        return scores / tf.reduce_sum(scores)

    def get_config(self):
        return {"sizes": self.sizes, "total_steps": self.total_steps, "alpha_end": self.alpha_end}
