"""Per-task gradients for gradient-level weighting, with as few backward passes as the maths allows.

Gradient-level strategies (PCGrad, MGDA, CAGrad, ...) need the matrix `G` `[T, P]` whose row `i`
is task `i`'s gradient, combine it into one direction `d`, and the model then applies `d` to the
shared parameters. How `G` is obtained decides the step time:

- on the shared **parameters** `θ_sh`: row `i` is `∇_{θ_sh} L_i`, one backward pass per task.
  Each pass starts from task `i`'s own scalar loss, so it goes through head `i` and the trunk
  only (differentiating the stacked `[T]` loss vector with a one-hot output gradient would also
  run every other head backwards, with zeros); the same pass gives head `i`'s own gradient.
- on the shared **representation** `Z` (the body's output): every head reads its own identity
  copy `Z_i` of `Z`, so one backward pass of `Σ_i L_i` through the heads yields every row
  `∇_{Z_i} L_i` and the heads' own gradients at once; `d` then goes back through the trunk once
  (`∂Z/∂θ_sh · d`). Two backward passes in all, whatever `T`, like plain weighted-sum training.

Under `tf.distribute` the parameter rows are summed over replicas before they are combined (the
global-batch gradients). Representation rows have one column per example, split over replicas;
`Weighting.combine_representation_gradients` combines them exactly as on the global batch (for
Gram-based strategies the global Gram matrix is the sum of the replicas' ones).

Each task's own parameters get the gradient of its own loss (weight 1, as in the papers);
penalties (soft sharing) and layer losses add their gradient to every variable they touch.
"""

import numpy as np
import tensorflow as tf


def gradient(tape, target, sources, output_gradients=None):
    """`tape.gradient` with zeros (not None) for sources the target does not depend on."""
    single = not isinstance(sources, (list, tuple))
    source_list = [sources] if single else list(sources)
    grads = tape.gradient(target, source_list, output_gradients=output_gradients)
    grads = [_zeros_like(s) if g is None else g for g, s in zip(grads, source_list)]
    return grads[0] if single else grads


def representation_copies(representation, num_tasks, tape):
    """One watched identity copy of the representation `Z` per task (each feeds that task's head)."""
    copies = [tf.identity(representation) for _ in range(num_tasks)]
    tape.watch(copies)
    return copies


def on_parameters(model, tape, task_losses, losses, sampled, extra, step, scale=1.0):
    """Gradients of every trainable variable, with the shared part combined from per-parameter rows.

    Args:
        model: the `MultiTaskModel`.
        tape: the persistent `tf.GradientTape` that recorded the forward pass.
        task_losses: list of `T` scalar losses (this replica's share of each task's global mean).
        losses: the same stacked, `[T]`.
        sampled: float 0/1 `[T]`, the tasks of this step.
        extra: `None` or the scalar penalty (already divided by the number of replicas).
        step: the training step.
        scale: the loss scale of a `LossScaleOptimizer` (1 otherwise): the backward passes start
            from `scale · L_i`, the strategy sees unscaled rows, and the returned gradients are
            scaled (the optimizer unscales them).

    Returns:
        `(grads, weights, objective)`: one gradient per `model.trainable_variables`, the task
        weights `[T]` and the weighted objective `Σ_i w_i L_i` of this replica.
    """
    variables = model.trainable_variables
    shared = model.shared_variables
    shared_ids = {id(v) for v in shared}
    others = [v for v in variables if id(v) not in shared_ids]
    rows, other_grads = [], [tf.zeros(tuple(v.shape), "float32") for v in others]
    for loss, flag in zip(task_losses, tf.unstack(sampled)):
        # The tape recorded the losses, not products made after it closed: seed with the 0/1 flag.
        grads = gradient(tape, loss, shared + others, output_gradients=tf.cast(flag * scale, loss.dtype))
        rows.append(_flatten(grads[: len(shared)]) / scale)
        other_grads = [a + tf.cast(g, a.dtype) for a, g in zip(other_grads, grads[len(shared) :])]
    weighting = model.weighting
    matrix = weighting.sum_over_replicas(tf.stack(rows))
    direction, weights = weighting.combine_gradients(matrix, weighting.global_losses(losses), step)
    replica = tf.distribute.get_replica_context()
    num_replicas = replica.num_replicas_in_sync if replica is not None else 1
    shared_grads = _split(direction * (scale / num_replicas), shared)  # the optimizer sums replicas again
    grads = _in_order(variables, zip(shared, shared_grads), zip(others, other_grads))
    if extra is not None:
        penalty = gradient(tape, extra, variables, output_gradients=tf.cast(scale, extra.dtype))
        grads = [g + tf.cast(p, g.dtype) for g, p in zip(grads, penalty)]
    return _result(grads, weights, losses, sampled)


def on_representation(model, tape, representation, copies, task_losses, losses, sampled, extra, step, scale=1.0):
    """Gradients of every trainable variable, the body's combined from representation-level rows.

    Args:
        representation: the body's output `Z`.
        copies: `representation_copies(Z)`, the tensors the heads were called on.
        (others as in `on_parameters`.)

    Returns:
        `(grads, weights, objective)` as in `on_parameters`.
    """
    variables = model.trainable_variables
    body_ids = {id(v) for v in model.body.trainable_variables}
    trunk = [v for v in model.shared_variables if id(v) in body_ids]
    trunk_ids = {id(v) for v in trunk}
    others = [v for v in variables if id(v) not in trunk_ids]
    # Pass 1, through the heads: Σ_i sampled_i L_i, each loss seeded with its 0/1 flag. Row i is the
    # gradient of task i's own copy of Z; the heads' own parameters get their task's gradient.
    seeds = [tf.cast(flag * scale, loss.dtype) for loss, flag in zip(task_losses, tf.unstack(sampled))]
    first = gradient(tape, list(task_losses), list(copies) + others, output_gradients=seeds)
    rows = tf.stack([tf.cast(g, tf.float32) / scale for g in first[: len(copies)]])  # [T, B, ...]
    direction, weights = model.weighting.combine_representation_gradients(rows, losses, step)
    # Pass 2, through the trunk: the combined direction at Z, plus the penalty (layer losses may
    # depend on Z's copies, the trunk or the heads; counted once, here, and never in the rows).
    targets, seeds = [representation], [tf.cast(direction * scale, representation.dtype)]
    sources = trunk if extra is None else trunk + others
    if extra is not None:
        targets.append(extra)
        seeds.append(tf.cast(scale, extra.dtype))
    second = gradient(tape, targets, sources, output_gradients=seeds)
    head_grads = first[len(copies) :]
    if extra is not None:
        head_grads = [g + tf.cast(p, g.dtype) for g, p in zip(head_grads, second[len(trunk) :])]
    grads = _in_order(variables, zip(trunk, second[: len(trunk)]), zip(others, head_grads))
    return _result(grads, weights, losses, sampled)


def _zeros_like(source):
    if isinstance(source, tf.Tensor):  # a representation copy: its batch size may be unknown
        return tf.zeros_like(source)
    return tf.zeros(tuple(source.shape), "float32")


def _flatten(grads):
    if not grads:  # no shared parameters (e.g. a body frozen for fine-tuning): an empty row
        return tf.zeros([0], tf.float32)
    return tf.concat([tf.reshape(tf.cast(g, tf.float32), [-1]) for g in grads], axis=0)


def _split(direction, variables):
    pieces, offset = [], 0
    for v in variables:
        size = int(np.prod(v.shape))
        pieces.append(tf.reshape(direction[offset : offset + size], v.shape))
        offset += size
    return pieces


def _in_order(variables, *pairs):
    """The gradients of `(variable, gradient)` pairs, in the order of `variables`."""
    by_id = {id(v): g for pair in pairs for v, g in pair}
    return [by_id[id(v)] for v in variables]


def _result(grads, weights, losses, sampled):
    weights = tf.stop_gradient(tf.cast(weights, losses.dtype))
    return grads, weights, tf.reduce_sum(weights * sampled * losses)
