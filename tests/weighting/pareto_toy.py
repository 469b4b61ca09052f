"""A two-objective toy problem with a known Pareto set, shared by the weighting tests.

`f_1(x) = ||x - a||² + 1` and `f_2(x) = s (||x - b||² + 1)` on `x ∈ R²`: both are convex with the
same Hessian shape, so the Pareto set is the segment `[a, b]` (a point off it can lower both
losses by moving towards it). The losses stay `>= 1` (`>= s`), so log-based methods (GLS, STCH,
DB-MTL, FAMO) see positive losses. The scale `s` makes the tasks' gradients differ in size.
"""

import numpy as np
import tensorflow as tf

A = np.array([-1.0, 0.0])
B = np.array([1.0, 0.0])


def losses_and_gradients(x, scale=4.0):
    """`([f_1, f_2], G)` at `x` (`G` `[2, 2]`, one gradient per row)."""
    losses = np.array([np.sum((x - A) ** 2) + 1.0, scale * (np.sum((x - B) ** 2) + 1.0)])
    grads = np.stack([2.0 * (x - A), 2.0 * scale * (x - B)])
    return losses, grads


def distance_to_front(x):
    """Euclidean distance from `x` to the Pareto set, the segment `[a, b]`."""
    t = np.clip((x - A) @ (B - A) / np.sum((B - A) ** 2), 0.0, 1.0)
    return float(np.linalg.norm(x - (A + t * (B - A))))


def descend(strategy, start=(0.5, 2.0), steps=400, learning_rate=0.1, decay=25.0, scale=4.0, dtype="float64"):
    """Runs `x ← x - lr_t · clip(d)` with `d = strategy(G, losses, step).direction`; returns the path `[steps + 1, 2]`.

    The step size decays, `lr_t = lr / (1 + t / decay)`, and `d` is clipped to norm 1 (as with
    Keras' `clipnorm`, or Nash-MTL's `max_norm`): methods whose direction does not vanish at the
    front (Nash-MTL and FairGrad promise every task a positive improvement, and FairGrad's
    direction even grows as the gradients become opposite) then settle on it, bouncing across it
    by at most one step, as in their convergence analyses with vanishing steps.
    """
    x = np.array(start, dtype="float64")
    path = [x.copy()]
    for step in range(steps):
        losses, grads = losses_and_gradients(x, scale)
        direction = strategy(tf.constant(grads, dtype), losses=tf.constant(losses, dtype), step=step).direction
        direction = np.asarray(direction, dtype="float64")
        direction = direction / max(1.0, float(np.linalg.norm(direction)))
        x = x - learning_rate / (1.0 + step / decay) * direction
        path.append(x.copy())
    return np.array(path)
