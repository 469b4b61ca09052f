"""`TaskTrackers`: the logged values of a multi-task model, per task."""

import math

import keras
from keras import ops

from mtl_keras import _compat
from mtl_keras.metrics import ObjectiveMean, TaskWeightsMean


class TaskTrackers:
    """Everything a `MultiTaskModel` logs: the objective, and per task its loss and metrics.

    Logs hold `loss` (the objective), `<task>_loss` and `<task>_<metric>` for every task,
    `<task>_weight` for adaptive weightings and `<layer>_penalty` for penalised layers. A task
    with no labelled example in the epoch (or the evaluation) logs NaN, never a made-up 0.

    Args:
        tasks: the model's `mtl_keras.Task`s, in order.
        adaptive: whether the weighting's weights change (then they are logged).
        penalty_names: names of the penalised layers.
    """

    def __init__(self, tasks, adaptive, penalty_names=()):
        self.tasks = list(tasks)
        self.objective = ObjectiveMean([t.weight for t in tasks], name="loss")
        self.task_losses = [_compat.set_direction(TaskMean(name=f"{t.name}_loss"), "down") for t in tasks]
        self.task_metrics = [t.build_metrics() for t in tasks]
        self.weights = TaskWeightsMean([t.name for t in tasks]) if adaptive else None
        self.penalties = [keras.metrics.Mean(name=f"{name}_penalty") for name in penalty_names]
        self.group = TaskMetricGroup(list(zip(self.task_losses, self.task_metrics)), self.penalties)

    @property
    def metrics(self):
        """The Keras metrics, for `Model.metrics` (reset every epoch, saved with the model)."""
        extra = [self.weights] if self.weights is not None else []
        return [self.objective, self.group, *extra]

    def update_task(self, index, labels, predictions, mask, loss_sum, count):
        """Adds one task's batch: its masked loss sum over `count` examples, and its metrics.

        Args:
            index: the task's index.
            labels: the labels as metrics see them.
            predictions: the predictions in natural units (probabilities, original units).
            mask: per-example weights (0 for masked examples).
            loss_sum: the masked loss summed over the batch; count: the batch's labelled examples.
        """
        self.task_losses[index].update_state(ops.divide_no_nan(loss_sum, count), sample_weight=count)
        for metric in self.task_metrics[index]:
            metric.update_state(labels, predictions, sample_weight=mask)

    def update_penalties(self, penalties):
        """Adds one step's values of the penalised layers."""
        for tracker, value in zip(self.penalties, penalties):
            tracker.update_state(value)

    def update_objective(self, objective, weights):
        """Adds one training step's objective (all replicas, penalties included) and task weights `[T]`."""
        self.objective.update_state(objective)
        if self.weights is not None:
            self.weights.update_state(weights)

    def update_evaluation(self, losses, penalties, penalty_total):
        """Adds one evaluation batch's objective terms (every task over its own examples) and penalties.

        The per-task losses and metrics are added by `update_task` as each task is computed.
        """
        present = losses.active
        self.objective.update_evaluation(losses.means * losses.counts * present, losses.counts * present, penalty_total)
        self.update_penalties(penalties)

    def diverged_tasks(self):
        """The tasks whose mean loss since the last reset is NaN or infinite although they had examples.

        Read outside the training step (under `tf.distribute`, the totals of all replicas).
        """
        diverged = []
        for task, tracker in zip(self.tasks, self.task_losses):
            count = float(keras.ops.convert_to_numpy(tracker.count))
            value = float(keras.ops.convert_to_numpy(tracker.total)) / max(count, 1e-30)
            if count > 0 and not math.isfinite(value):
                diverged.append(task.name)
        return diverged

    def results_by_task(self, logs, prefix=""):
        """Regroups flat logs (`{"a_loss": .., "a_accuracy": ..}`) into `{task: {metric: value}}`."""
        grouped = {}
        for task, metrics in zip(self.tasks, self.task_metrics):
            names = {"loss": f"{task.name}_loss"}
            names.update({m.name[len(task.name) + 1 :]: m.name for m in metrics})
            grouped[task.name] = {short: logs[prefix + full] for short, full in names.items() if prefix + full in logs}
        return grouped


class TaskMean(keras.metrics.Mean):
    """A task's mean loss: NaN (not 0) when the task had no labelled example."""

    def result(self):
        return ops.where(self.count > 0, super().result(), float("nan"))


class TaskMetricGroup(_compat.MetricGroup):
    """The per-task trackers as one container; a task without examples reports NaN for all its metrics.

    Args:
        per_task: list of `(loss tracker, [metrics])`, one per task.
        others: further metrics (e.g. the penalties).
    """

    def __init__(self, per_task, others=(), name="task_metrics"):
        members = [m for loss, metrics in per_task for m in (loss, *metrics)] + list(others)
        super().__init__(members, name=name)
        self.per_task = per_task
        self.others = list(others)

    def get_result(self):
        results = {}
        for loss, metrics in self.per_task:
            seen = loss.count > 0
            results[loss.name] = loss.result()
            for metric in metrics:
                results[metric.name] = ops.where(seen, metric.result(), float("nan"))
        results.update({m.name: m.result() for m in self.others})
        return results
