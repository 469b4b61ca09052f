"""Uniform task sampling, the notes' default."""

import keras
import tensorflow as tf

from mtl_keras.samplers.base import SAMPLERS, TaskSampler


@SAMPLERS.register("uniform")
@keras.saving.register_keras_serializable(package="mtl_keras")
class UniformSampler(TaskSampler):
    """Samples tasks uniformly, `p_i = 1 / T`, whatever the size of each task's data set.

    This is step 1 of the notes' recipe: every task is trained equally often, so a small data set
    is not drowned by a large one.

    Example:

    >>> sampler = UniformSampler()
    >>> sampler.configure(["a", "b", "c", "d"])
    >>> sampler.probabilities(0).numpy().tolist()
    [0.25, 0.25, 0.25, 0.25]
    """

    def probabilities(self, step):
        return tf.fill([self.num_tasks], 1.0 / self.num_tasks)
