"""The logged multi-task objective (`loss` in the logs) and the logged task weights."""

import keras
from keras import ops


class ObjectiveMean(keras.metrics.Metric):
    """Tracks the logged `loss` of a `MultiTaskModel`.

    In training it is the mean over steps of the objective that was minimised,
    `Σ_{i∈B} ω_i L_i` plus penalties. In evaluation it is `Σ_i ω_i \\bar L_i + \\bar P`, built
    from each task's mean loss over *its own* examples, so tasks with smaller evaluation sets
    (padded and masked in one pass, see `mtl_keras.data`) are not diluted.

    Args:
        weights: the fixed task weights `ω_i` used in evaluation.
        name: the metric name. Defaults to `"loss"`.
    """

    def __init__(self, weights, name="loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.task_weights = [float(w) for w in weights]
        num_tasks = len(self.task_weights)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")
        self.task_sums = self.add_variable(shape=(num_tasks,), initializer="zeros", name="task_sums")
        self.task_counts = self.add_variable(shape=(num_tasks,), initializer="zeros", name="task_counts")
        self.penalty_total = self.add_variable(shape=(), initializer="zeros", name="penalty_total")

    def update_state(self, objective):
        """Training: adds one step's objective."""
        self.total.assign_add(ops.cast(objective, "float32"))
        self.count.assign_add(1.0)

    def update_evaluation(self, task_sums, task_counts, penalty):
        """Evaluation: adds one batch's per-task loss sums and example counts, and the penalty."""
        self.task_sums.assign_add(ops.cast(task_sums, "float32"))
        self.task_counts.assign_add(ops.cast(task_counts, "float32"))
        self.penalty_total.assign_add(ops.cast(penalty, "float32"))
        self.count.assign_add(1.0)

    def result(self):
        weights = ops.convert_to_tensor(self.task_weights, "float32")
        evaluation = ops.sum(weights * ops.divide_no_nan(self.task_sums, self.task_counts))
        evaluation = evaluation + ops.divide_no_nan(self.penalty_total, self.count)
        training = ops.divide_no_nan(self.total, self.count)
        return ops.where(ops.sum(self.task_counts) > 0, evaluation, training)

    def get_config(self):
        return {**super().get_config(), "weights": self.task_weights}


class TaskWeightsMean(keras.metrics.Metric):
    """Mean over steps of every task's weight, logged as `<task>_weight`.

    One `[T]` state updated by one op per step, whatever the number of tasks (one `Mean` per
    task costs a handful of ops each, which shows in the step time of cheap strategies at large
    `T`). Its result is a dict, which Keras spreads over the logs.

    Args:
        task_names: the tasks, in the model's order.
        name: the metric name (not logged itself). Defaults to `"task_weights"`.
    """

    def __init__(self, task_names, name="task_weights", **kwargs):
        super().__init__(name=name, **kwargs)
        self.task_names = list(task_names)
        self.sums = self.add_variable(shape=(len(self.task_names),), initializer="zeros", name="sums")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, weights):
        """Adds one step's weights `[T]`."""
        self.sums.assign_add(ops.cast(weights, "float32"))
        self.count.assign_add(1.0)

    def result(self):
        means = ops.unstack(ops.divide_no_nan(self.sums, self.count), num=len(self.task_names))
        return {f"{name}_weight": mean for name, mean in zip(self.task_names, means)}

    def get_config(self):
        return {**super().get_config(), "task_names": self.task_names}
