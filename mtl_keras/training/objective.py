"""`TaskObjective`: per-task masked losses of a batch, scaled to the global batch."""

from typing import NamedTuple

from keras import ops


class TaskLosses(NamedTuple):
    """The per-task losses of one step (float tensors of shape `[T]` unless said otherwise).

    Attributes:
        losses: this replica's share of each task's mean loss over the *global* batch
            (`Σ_replica local sums / global count`); their sum over replicas is the global mean.
        means: each task's mean loss over this replica's examples (what is logged).
        counts: this replica's labelled examples per task (weighted by sample weights).
        active: 1 for tasks that were sampled and have a labelled example in the global batch.
        task_losses: `losses` as a list of `T` scalars, each depending on its own task's
            computation only (per-task backward passes start from them).
    """

    losses: object
    means: object
    counts: object
    active: object
    task_losses: list


class TaskObjective:
    """Masked per-task losses `L_i = Σ_j m_ij ℓ_i(y_ij, ŷ_ij) / Σ_j m_ij` of one batch.

    The mask `m_ij` is the example's sample weight, and 0 for a missing label
    (`Task.missing_label`). Masked labels are replaced by 0 before any loss or metric sees them, so
    NaN or out-of-range placeholders never reach a computation. Losses are computed on the heads'
    raw outputs (logits, standardized values): regression labels of tasks with label scaling are
    standardized first.

    Under `tf.distribute` every replica divides its sum by the task's *global* count of labelled
    examples, so summing the replicas' losses gives the exact global mean even when masks are
    uneven across replicas.

    Args:
        tasks: the model's `mtl_keras.Task`s.
        label_scaler: a `mtl_keras.label_scaling.LabelScaler` (or `None`).
    """

    def __init__(self, tasks, label_scaler=None):
        self.tasks = list(tasks)
        self.loss_fns = [t.build_loss() for t in self.tasks]
        self.label_scaler = label_scaler

    def prepare_labels(self, index, labels, raw, sample_weight=None):
        """Returns `(labels for the loss, labels for metrics, mask)` of task `index`."""
        task = self.tasks[index]
        batch = ops.shape(raw)[0]
        labels = ops.convert_to_tensor(labels)
        mask = ops.ones((batch,), "float32")
        if sample_weight is not None:
            mask = mask * ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        if task.missing_label is not None:
            as_float = ops.cast(labels, "float32")
            missing = ops.isnan(as_float) if task.missing_label == "nan" else ops.equal(as_float, float(task.missing_label))
            missing = ops.any(ops.reshape(missing, (batch, -1)), axis=-1)
            mask = mask * ops.cast(ops.logical_not(missing), "float32")
        if sample_weight is not None or task.missing_label is not None:
            keep = ops.reshape(mask > 0, (batch,) + (1,) * (len(labels.shape) - 1))
            labels = ops.where(keep, labels, ops.zeros_like(labels))
        if task.kind == "classification":
            labels = ops.reshape(ops.cast(labels, "int32"), (batch,))
            return labels, labels, mask
        labels = ops.reshape(ops.cast(labels, raw.dtype), ops.shape(raw))
        if self.label_scaler is not None and task.name in self.label_scaler.units:
            return self.label_scaler.scale(task.name, labels), labels, mask
        return labels, labels, mask

    def task_sum(self, index, labels, raw, sample_weight=None):
        """`(Σ_j m_j ℓ_j, Σ_j m_j, labels for metrics, mask)` of task `index` on this replica's batch."""
        y_loss, y_metric, mask = self.prepare_labels(index, labels, raw, sample_weight)
        per_example = ops.cast(self.loss_fns[index](y_loss, raw), "float32")
        if len(per_example.shape) > 1:
            per_example = ops.mean(ops.reshape(per_example, (ops.shape(raw)[0], -1)), axis=-1)
        total = ops.sum(ops.where(mask > 0, per_example * mask, 0.0))
        return total, ops.sum(mask), y_metric, mask

    def combine(self, sums, counts, sampled, sum_over_replicas=None):
        """The step's `TaskLosses` from each task's local loss sum and count.

        Args:
            sums: list of `T` scalar local loss sums.
            counts: list of `T` scalar local counts.
            sampled: float `[T]`, 1 for the tasks of this step.
            sum_over_replicas: a function summing a tensor over replicas (identity by default).
        """
        local_counts = ops.stack(counts)
        global_counts = local_counts if sum_over_replicas is None else sum_over_replicas(local_counts)
        active = ops.cast(sampled, "float32") * ops.cast(global_counts > 0, "float32")
        task_losses = [
            ops.where(active[i] > 0, ops.divide_no_nan(total, global_counts[i]), 0.0) for i, total in enumerate(sums)
        ]
        means = ops.divide_no_nan(ops.stack(sums), local_counts)
        return TaskLosses(ops.stack(task_losses), means, local_counts, active, task_losses)
