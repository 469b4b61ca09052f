"""The forward pass of a step, task by task: only the tasks trained in the step are computed.

A `MultiTaskModel` step runs, for every task `i`, the task's part of the network on its batch,
its masked loss and its metrics. When tasks are sampled (`tasks_per_step < T`) each task's part runs inside a
conditional that skips it, forward and backward, when the task is not trained in the step (or has
no example in its batch): in multi-input mode the body and the head, in shared-input mode the head
(the body runs once on the shared input). Layers called inside a task's conditional hand their
call losses (activity regularizers, `add_loss`) out of it, summed.
"""

from typing import NamedTuple

import keras
from keras import ops

from mtl_keras import _compat


class TaskOutputs(NamedTuple):
    """One task's results of a step (scalars).

    Attributes:
        loss_sum: the masked loss summed over this replica's examples.
        count: this replica's labelled examples (weighted).
        call_loss: the layer call losses made while computing the task, or `None` when its
            layers make none.
    """

    loss_sum: object
    count: object
    call_loss: object


def run_tasks(model, objective, features, y, sample_weight, computed, training, on_task=None, cond=None):
    """Each task's `TaskOutputs`, computing only the tasks where `computed` allows.

    Args:
        model: the `MultiTaskModel` (its `body`, `heads`, `task_names`).
        objective: the `TaskObjective`.
        features: per task, the head's input, or in multi-input mode a callable returning it (the
            body runs inside the task's conditional), as a list of `T`.
        y: dict `{task: labels}`.
        sample_weight: dict `{task: weights}` or `None`.
        computed: `None` to compute every task, or a list of `T` boolean scalars.
        training: training mode.
        on_task: called as `on_task(i, labels, predictions, mask, loss_sum, count)` with each
            computed task's results (inside its conditional: a skipped task costs nothing), e.g.
            to update its metrics.
        cond: the conditional, called as `cond(flag, true_fn, false_fn)`; `keras.ops.cond` by
            default (the JAX trainer passes one that keeps the branch's variable updates).
    """
    outputs = []
    for i, name in enumerate(model.task_names):
        labels = y[name]
        weights = sample_weight.get(name) if isinstance(sample_weight, dict) else None

        produced = []  # set while tracing: whether the task's layers made call losses

        def compute(i=i, labels=labels, weights=weights, produced=produced):
            h = features[i]() if callable(features[i]) else features[i]
            raw = model.heads(h, task_index=i, training=training)
            loss_sum, count, metric_labels, mask = objective.task_sum(i, labels, raw, weights)
            if on_task is not None:
                on_task(i, metric_labels, model.finalize_output(model.tasks[i], raw), mask, loss_sum, count)
            called = [model.heads] + ([model.body] if callable(features[i]) and model.body is not None else [])
            call_losses = _compat.take_call_losses(called)
            produced.append(bool(call_losses))
            return loss_sum, count, _total(call_losses)

        if computed is None:
            result = TaskOutputs(*compute())
        else:
            zero = ops.zeros((), "float32")
            branch = ops.cond if cond is None else cond
            result = TaskOutputs(*branch(computed[i], compute, lambda z=zero: (z, z, z)))
        outputs.append(result if any(produced) else result._replace(call_loss=None))
    return outputs


def _total(losses):
    if not losses:
        return ops.zeros((), "float32")
    return ops.sum(ops.stack([ops.cast(loss, "float32") for loss in losses]))


def rows(tensor):
    """The number of examples (first dimension) of a tensor or the first tensor of a structure."""
    first = keras.tree.flatten(tensor)[0]
    return ops.shape(first)[0]


def total_rows(labels):
    """The number of examples of all tasks together in a dict of label batches (0 for an idle step)."""
    return sum(ops.shape(t)[0] for t in keras.tree.flatten(labels))


def check_tasks_present(model, y, training):
    """Raises a `ValueError` unless `y` is a dict of labels by task name (every task's when `training`)."""
    if not isinstance(y, dict):
        raise ValueError(f"MultiTaskModel expects labels as a dict {{task_name: labels}}. Received labels of type {type(y).__name__}.")
    unknown = sorted(set(y) - set(model.task_names))
    if unknown:
        raise ValueError(f"Received labels for tasks the model does not have: {unknown}. Model tasks: {model.task_names}")
    missing = [name for name in model.task_names if name not in y]
    if training and missing:
        raise ValueError(f"Tasks with no data in the batch: {missing}. Every task needs data to train.")
