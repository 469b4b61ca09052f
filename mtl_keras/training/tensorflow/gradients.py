"""Per-task gradients for gradient-level weighting, with as few backward passes as the maths allows.

Gradient-level strategies (PCGrad, MGDA, CAGrad, ...) need the matrix `G` `[T, P]` whose row `i`
is task `i`'s gradient, combine it into one direction `d`, and the model then applies `d` to the
shared parameters. How `G` is obtained decides the step time:

- on the shared **parameters** `θ_sh` (`on_parameters`): row `i` is `∇_{θ_sh} L_i`, one backward
  pass per task, each starting from task `i`'s own scalar loss, so it goes through head `i` and
  the trunk only; the same pass gives head `i`'s own gradient. A task that is not computed in the
  step (not sampled) has a loss made by a skipped branch: its pass costs nothing and its row is 0.
- on the shared **representation** `Z` (the body's output; `on_representation`): every head reads
  its own identity copy `Z_i` of `Z`, so one backward pass of `Σ_i L_i` through the heads yields
  every row `∇_{Z_i} L_i` and the heads' own gradients at once; `d` then goes back through the
  trunk once (`∂Z/∂θ_sh · d`). Two backward passes in all, whatever `T`.

Under `tf.distribute` the parameter rows are summed over replicas before they are combined (the
global-batch gradients). Representation rows have one column per example, split over replicas;
`Weighting.combine_representation_gradients` combines them exactly as on the global batch.

Each task's own parameters get the gradient of its own loss (weight 1, as in the papers);
penalties (soft sharing) and layer losses add their gradient to every variable they touch.
"""

import numpy as np
import tensorflow as tf

from mtl_keras.weighting import GramWeighting, combine_blocks, gram_from_blocks


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


def on_parameters(tape, losses, shared, others, weighting, extra, step, scale=1.0):
    """Gradients from per-parameter rows: the shared part combined by the strategy, the rest summed.

    Args:
        tape: the persistent `tf.GradientTape` that recorded the forward pass.
        losses: the step's `TaskLosses` (this replica's shares of the global means).
        shared: the shared variables `θ_sh` (the columns of `G`).
        others: every other trainable variable (task-owned, strategy-owned).
        weighting: the `mtl_keras.weighting.Weighting`.
        extra: `None` or the scalar penalty (already divided by the number of replicas).
        step: the training step.
        scale: the loss scale of a `LossScaleOptimizer` (1 otherwise): the backward passes start
            from `scale · L_i`, the strategy sees unscaled rows, and the returned gradients are
            scaled (the optimizer unscales them).

    Returns:
        `(shared_grads, other_grads, weights)`: gradients aligned with `shared` and `others`, and
        the task weights `[T]`.
    """
    per_task, other_grads = [], [tf.zeros(tuple(v.shape), "float32") for v in others]
    for loss, flag in zip(losses.task_losses, tf.unstack(losses.active)):
        # The tape recorded the losses, not products made after it closed: seed with the 0/1 flag.
        grads = gradient(tape, loss, shared + others, output_gradients=tf.cast(flag * scale, loss.dtype))
        per_task.append([tf.cast(g, tf.float32) / scale for g in grads[: len(shared)]])
        other_grads = [a + tf.cast(g, a.dtype) for a, g in zip(other_grads, grads[len(shared) :])]
    global_losses = weighting.global_losses(losses.losses)
    if isinstance(weighting, GramWeighting) and shared:
        # K = Σ_variables B_v B_vᵀ block by block, never forming the [T, P] matrix (faster here).
        blocks = weighting.sum_over_replicas([tf.stack(column) for column in zip(*per_task)])
        weights = weighting.weights_from_gram(gram_from_blocks(blocks), global_losses, step)
        directions = combine_blocks(weights, blocks)
    else:
        matrix = weighting.sum_over_replicas(tf.stack([_flatten(grads) for grads in per_task]))
        direction, weights = weighting.combine_gradients(matrix, global_losses, step)
        directions = _split(direction, shared)
    shared_grads = [d * (scale / _num_replicas()) for d in directions]  # the optimizer sums replicas again
    if extra is not None:
        penalty = gradient(tape, extra, shared + others, output_gradients=tf.cast(scale, extra.dtype))
        shared_grads = [g + tf.cast(p, g.dtype) for g, p in zip(shared_grads, penalty[: len(shared)])]
        other_grads = [g + tf.cast(p, g.dtype) for g, p in zip(other_grads, penalty[len(shared) :])]
    return shared_grads, other_grads, weights


def on_representation(tape, representation, copies, losses, trunk, others, weighting, extra, step, scale=1.0):
    """Gradients with the trunk's combined from representation-level rows.

    Args:
        representation: the body's output `Z`.
        copies: `representation_copies(Z)`, the tensors the heads were called on.
        trunk: the body's trainable variables (reached through `Z` only).
        others: every other trainable variable.
        (the rest as in `on_parameters`.)

    Returns:
        `(trunk_grads, other_grads, weights)`, aligned with `trunk` and `others`.
    """
    # Pass 1, through the heads: Σ_i active_i L_i, each loss seeded with its 0/1 flag. Row i is the
    # gradient of task i's own copy of Z; the heads' own parameters get their task's gradient.
    seeds = [tf.cast(flag * scale, loss.dtype) for loss, flag in zip(losses.task_losses, tf.unstack(losses.active))]
    first = gradient(tape, list(losses.task_losses), list(copies) + others, output_gradients=seeds)
    rows = tf.stack([tf.cast(g, tf.float32) / scale for g in first[: len(copies)]])  # [T, B, ...]
    direction, weights = weighting.combine_representation_gradients(rows, losses.losses, step)
    # Pass 2, through the trunk: the combined direction at Z, plus the penalty (layer losses may
    # depend on Z's copies, the trunk or the heads; counted once, here, and never in the rows).
    targets, seeds = [representation], [tf.cast(direction * scale, representation.dtype)]
    sources = trunk if extra is None else trunk + others
    if extra is not None:
        targets.append(extra)
        seeds.append(tf.cast(scale, extra.dtype))
    second = gradient(tape, targets, sources, output_gradients=seeds)
    other_grads = first[len(copies) :]
    if extra is not None:
        other_grads = [g + tf.cast(p, g.dtype) for g, p in zip(other_grads, second[len(trunk) :])]
    return second[: len(trunk)], other_grads, weights


def _num_replicas():
    replica = tf.distribute.get_replica_context()
    return replica.num_replicas_in_sync if replica is not None else 1


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
