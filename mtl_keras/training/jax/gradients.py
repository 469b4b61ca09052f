"""Per-task gradients on JAX for gradient-level weighting: one `jax.vjp` of the forward pass, one pull-back per task.

The forward pass returns the vector of per-task losses `[T]` (and the step's extra loss);
`jax.vjp` records it once and its pull-back, seeded with the one-hot vector of task `i` (0 when
the task is not trained in the step), gives task `i`'s gradient of every variable: its row of
`G` on the shared parameters and its head's own gradient. The strategy combines `G` into the
shared parameters' direction; the extra loss (penalties, layer losses) is pulled back once more
and added to every variable it touches, as on TensorFlow.

The strategies' maths (`combine_gradients`) is TensorFlow code; on JAX it runs on the host
through `jax.pure_callback` (the same numbers as on TensorFlow). Only strategies without state
(no variables) run there: a callback cannot carry a strategy's variables through the step.
"""

import jax
import numpy as np
from keras import ops


def on_parameters(backward, losses, is_shared, weighting, step):
    """Gradients of every trainable variable, the shared ones combined by `weighting`.

    Args:
        backward: the pull-back of `jax.vjp` of the forward pass, taking `(seeds [T], extra seed)`.
        losses: the step's `TaskLosses`.
        is_shared: per trainable variable, whether it is shared (a column block of `G`).
        weighting: a gradient-level `mtl_keras.weighting.Weighting` without state.
        step: the training step (a scalar).

    Returns:
        `(grads, weights)`: gradients aligned with the trainable variables, and the task weights `[T]`.
    """
    num_tasks = len(losses.task_losses)
    rows, others = [], None
    for i in range(num_tasks):
        seed = ops.one_hot(i, num_tasks, dtype="float32") * losses.active
        (grads,) = backward((seed, ops.zeros((), "float32")))
        rows.append(_flatten([g for g, shared in zip(grads, is_shared) if shared]))
        own = [ops.zeros_like(g) if shared else g for g, shared in zip(grads, is_shared)]
        others = own if others is None else [a + b for a, b in zip(others, own)]
    direction, weights = combine_on_host(weighting, ops.stack(rows), ops.stop_gradient(losses.losses), step)
    (extra,) = backward((ops.zeros((num_tasks,), "float32"), ops.ones((), "float32")))
    pieces = iter(_split(direction, [g for g, shared in zip(others, is_shared) if shared]))
    grads = [(next(pieces) if shared else own) + e for own, shared, e in zip(others, is_shared, extra)]
    return grads, weights


def combine_on_host(weighting, matrix, losses, step):
    """`weighting.combine_gradients(matrix, losses, step)` run by TensorFlow on the host: `(direction [P], weights [T])`."""
    num_tasks, size = matrix.shape

    def combine(rows, task_losses, at):
        import tensorflow as tf

        direction, weights = weighting.combine_gradients(
            tf.constant(rows), tf.constant(task_losses), tf.constant(int(at), tf.int64)
        )
        return np.asarray(direction, np.float32), np.asarray(weights, np.float32)

    shapes = (jax.ShapeDtypeStruct((size,), np.float32), jax.ShapeDtypeStruct((num_tasks,), np.float32))
    return jax.pure_callback(combine, shapes, matrix, losses, step)


def _flatten(grads):
    if not grads:
        return ops.zeros((0,), "float32")
    return ops.concatenate([ops.reshape(ops.cast(g, "float32"), (-1,)) for g in grads], axis=0)


def _split(direction, like):
    pieces, offset = [], 0
    for g in like:
        size = int(np.prod(g.shape))
        pieces.append(ops.reshape(direction[offset : offset + size], g.shape))
        offset += size
    return pieces
