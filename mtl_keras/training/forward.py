"""The forward pass of a step, task by task: only the tasks trained in the step are computed.

A `MultiTaskModel` step runs, for every task `i`, the task's part of the network on its batch and
its masked loss. When tasks are sampled (`tasks_per_step < T`) each task's part runs inside a
conditional that skips it, forward and backward, when the task is not trained in the step (or has
no example in its batch): in multi-input mode the body and the head, in shared-input mode the head
(the body runs once on the shared input). Layers called inside a task's conditional hand their
call losses (activity regularizers, `add_loss`) out of it, summed.
"""

from typing import NamedTuple

import keras
from keras import ops

from mtl_keras import _compat
from mtl_keras.layers.base import TaskAwareLayer

#: Keras layers whose output for an example depends on that example alone (and that add no loss).
PER_EXAMPLE_LAYERS = tuple(
    getattr(keras.layers, name)
    for name in (
        "Activation", "Add", "Average", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "Concatenate",
        "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "Cropping1D",
        "Cropping2D", "Cropping3D", "Dense", "DepthwiseConv1D", "DepthwiseConv2D", "Dot", "Dropout", "ELU",
        "EinsumDense", "Embedding", "Flatten", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
        "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
        "GroupNormalization", "Identity", "InputLayer", "LayerNormalization", "LeakyReLU", "MaxPooling1D",
        "MaxPooling2D", "MaxPooling3D", "Maximum", "Minimum", "Multiply", "PReLU", "Permute", "ReLU",
        "RepeatVector", "Rescaling", "Reshape", "SeparableConv1D", "SeparableConv2D", "Softmax",
        "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Subtract", "UnitNormalization",
        "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    )
    if hasattr(keras.layers, name)
)


class TaskOutputs(NamedTuple):
    """One task's results of a step.

    Attributes:
        raw: the head's raw output (logits, standardized values).
        loss_sum: the masked loss summed over this replica's examples.
        count: this replica's labelled examples (weighted).
        labels: the labels as metrics see them (masked entries zeroed).
        mask: per-example weights (0 for masked examples).
        call_loss: the layer call losses made while computing the task (a scalar), or `None`
            when its layers make none.
    """

    raw: object
    loss_sum: object
    count: object
    labels: object
    mask: object
    call_loss: object


def run_tasks(model, objective, features, y, sample_weight, computed, training):
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
            called = [model.heads] + ([model.body] if callable(features[i]) and model.body is not None else [])
            call_losses = _compat.take_call_losses(called)
            produced.append(bool(call_losses))
            return TaskOutputs(raw, loss_sum, count, metric_labels, mask, _total(call_losses))

        if computed is None:
            result = compute()
        else:
            result = TaskOutputs(*ops.cond(computed[i], lambda c=compute: tuple(c()), lambda i=i, y=labels: tuple(_skipped(model, i, y))))
        outputs.append(result if any(produced) else result._replace(call_loss=None))
    return outputs


def runs_once_for_all_tasks(model):
    """Whether a multi-input step may run the body once on all tasks' batches together.

    True for a fully shared body (not task-aware) built only of layers whose output for an
    example depends on that example alone (no batch normalization, no layer losses), trained with a
    loss-level weighting: one pass on the concatenated batches then equals one pass per task, and
    one large product costs less than `T` small ones. Gradient-level weightings keep one pass per
    task (each task's backward pass then covers its own rows only).
    """
    body = model.body
    if body is None or isinstance(body, TaskAwareLayer) or model.weighting.uses_gradients:
        return False
    layers = [layer for layer in _compat.flatten_layers(body, include_self=True) if not isinstance(layer, (keras.Sequential, keras.Model))]
    return bool(layers) and all(type(layer) in PER_EXAMPLE_LAYERS and layer.activity_regularizer is None for layer in layers)


def one_body_pass(model, inputs):
    """The body's output for every task's batch, from one call on the batches put together (a list of `T`)."""
    rows = [ops.shape(keras.tree.flatten(x)[0])[0] for x in inputs]
    joined = keras.tree.map_structure(lambda *parts: ops.concatenate(parts, axis=0), *inputs)
    features = model.features(joined, None, training=True)
    bounds = [0]
    for count in rows:
        bounds.append(bounds[-1] + count)
    return [features[bounds[i] : bounds[i + 1]] for i in range(len(rows))]


def _skipped(model, index, labels):
    """What a task that is not computed contributes: zeros shaped like its real results."""
    task = model.tasks[index]
    batch = ops.shape(labels)[0]
    raw = ops.zeros((batch, task.output_units), dtype=model.heads.compute_dtype)
    if task.kind == "classification":
        metric_labels = ops.zeros((batch,), "int32")
    else:
        metric_labels = ops.zeros((batch, task.output_units), dtype=model.heads.compute_dtype)
    zero = ops.zeros((), "float32")
    return TaskOutputs(raw, zero, zero, metric_labels, ops.zeros((batch,), "float32"), zero)


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
