"""Base class of task samplers: which tasks a training step trains."""

import numpy as np
import tensorflow as tf

from mtl_keras.registry import Registry

SAMPLERS = Registry("task sampler")


class TaskSampler:
    """Chooses the mini-batch of tasks `B ~ {T_i}` trained at each step.

    A sampler defines a distribution over tasks, `probabilities(step)`, and draws
    `tasks_per_step` distinct tasks from it. Draws are stateless: the randomness is derived from
    `(seed, step)` with `tf.random.stateless_uniform`, so a run is reproducible and every replica
    of a `tf.distribute` strategy draws the same tasks. Drawing `k` distinct tasks uses the
    Gumbel-top-k trick (`argtop_k(log p_i + g_i)`, `g_i ~ Gumbel(0, 1)`): for `k = 1` task `i` is
    drawn with probability exactly `p_i`; for `k = T` every task is trained every step.

    Subclasses implement `probabilities(step)` with TensorFlow ops and `get_config`.
    """

    def configure(self, task_names):
        """Called by the model with the ordered task names before training."""
        self.task_names = list(task_names)
        self.num_tasks = len(self.task_names)

    def probabilities(self, step):
        """Returns a float32 tensor `[T]` of task probabilities at training step `step`."""
        raise NotImplementedError

    def sample(self, step, tasks_per_step, seed=0):
        """Returns a float32 0/1 mask `[T]` with exactly `tasks_per_step` ones.

        Args:
            step: the training step (an integer tensor, e.g. `optimizer.iterations`).
            tasks_per_step: how many distinct tasks to draw (Python int, `1 <= k <= T`).
            seed: integer seed; together with `step` it fixes the draw.

        Returns:
            Float32 tensor of shape `[T]`, 1.0 for the tasks drawn at this step.
        """
        num_tasks = self.num_tasks
        if not 1 <= tasks_per_step <= num_tasks:
            raise ValueError(
                f"tasks_per_step must be between 1 and the number of tasks ({num_tasks}). "
                f"Received: tasks_per_step={tasks_per_step}"
            )
        if tasks_per_step == num_tasks:
            return tf.ones([num_tasks], tf.float32)
        step = tf.cast(step, tf.int64)
        uniform = tf.random.stateless_uniform(
            [num_tasks], seed=tf.stack([tf.constant(seed, tf.int64), step]), minval=1e-20, maxval=1.0
        )
        gumbel = -tf.math.log(-tf.math.log(uniform))
        logits = tf.math.log(tf.maximum(self.probabilities(step), 1e-30)) + gumbel
        _, chosen = tf.math.top_k(logits, k=tasks_per_step)
        return tf.reduce_sum(tf.one_hot(chosen, num_tasks, dtype=tf.float32), axis=0)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def get(identifier):
    """Returns a `TaskSampler` from a registered name, a config dict or an instance (`None`: "uniform")."""
    return SAMPLERS.resolve(identifier, TaskSampler, default="uniform")


def check_sampling(tasks_per_step, seed, num_tasks):
    """Returns `(tasks_per_step, seed)` as ints, checked: `1 <= tasks_per_step <= T` (default T), an integer seed.

    Raises:
        ValueError: quoting the bad value.
    """
    tasks_per_step = num_tasks if tasks_per_step is None else tasks_per_step
    if isinstance(tasks_per_step, bool) or not isinstance(tasks_per_step, (int, np.integer)) or not 1 <= tasks_per_step <= num_tasks:
        raise ValueError(
            f"tasks_per_step must be an integer between 1 and the number of tasks ({num_tasks}). "
            f"Received: tasks_per_step={tasks_per_step!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer. Received: seed={seed!r}")
    return int(tasks_per_step), int(seed)


def sizes_argument(sizes, sampler):
    """`sizes` as given to a sampler (a dict by task or a list in task order), or a `ValueError`.

    A string would otherwise be read character by character (`"12"` as the sizes 1 and 2).
    """
    if isinstance(sizes, dict):
        values = list(sizes.values())
    elif isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise ValueError(
            f"{sampler}: sizes must be a list of data-set sizes in task order or a dict {{task: size}}. Received: sizes={sizes!r}"
        )
    else:
        values = list(sizes)
    if any(isinstance(v, (bool, np.bool_, str, bytes)) for v in values):
        raise ValueError(f"{sampler}: every size must be a number. Received: sizes={sizes!r}")
    return dict(sizes) if isinstance(sizes, dict) else values


def sizes_in_task_order(sizes, task_names, sampler):
    """Returns data-set sizes as a list in task order, checking they are positive."""
    if isinstance(sizes, dict):
        missing = [t for t in task_names if t not in sizes]
        extra = [t for t in sizes if t not in task_names]
        if missing or extra:
            raise ValueError(
                f"{sampler}: sizes must name every task once. Missing: {missing}; unknown: {extra}"
            )
        sizes = [sizes[t] for t in task_names]
    sizes = [float(s) for s in sizes]
    if len(sizes) != len(task_names):
        raise ValueError(
            f"{sampler}: got {len(sizes)} sizes for {len(task_names)} tasks. Received: sizes={sizes}"
        )
    for name, size in zip(task_names, sizes):
        if not size > 0:
            raise ValueError(f"{sampler}: task '{name}' has a non-positive size. Received: size={size}")
    return sizes
