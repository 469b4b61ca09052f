"""Points of the probability simplex: weight grids, Dirichlet draws, and checks of preference vectors.

A weight vector (or preference) for `T` tasks is a point of the simplex
`Δ^{T-1} = {r ∈ R^T : r_i >= 0, Σ_i r_i = 1}`. Nothing here imports TensorFlow.
"""

import itertools
import math

import numpy as np

#: Tolerance of the sum-to-one check of a preference.
SUM_TOLERANCE = 1e-3


def simplex_grid(num_tasks, points=11):
    """Every weight vector `r = k / (points - 1)` with integer `k_i >= 0`, `Σ k_i = points - 1`.

    For two tasks, `points` evenly spaced vectors from `(0, 1)` to `(1, 0)`; for three,
    the triangular grid of `points (points + 1) / 2` vectors.

    Args:
        num_tasks: the number of tasks `T >= 2`.
        points: points per edge of the simplex (`>= 2`).

    Returns:
        A float array `(n, T)`, rows in lexicographic order of `k`.

    Example:

    >>> simplex_grid(2, 3)
    array([[0. , 1. ], [0.5, 0.5], [1. , 0. ]])
    """
    num_tasks, points = _check_count("num_tasks", num_tasks, 2), _check_count("points", points, 2)
    steps = points - 1
    rows = [k + (steps - sum(k),) for k in itertools.product(range(steps + 1), repeat=num_tasks - 1) if sum(k) <= steps]
    return np.asarray(sorted(rows), dtype=np.float64) / steps


def dirichlet_weights(num_tasks, count, alpha=1.0, seed=0, include_vertices=True):
    """`count` weight vectors drawn from `Dirichlet(alpha, ..., alpha)`, reproducibly from `seed`.

    Args:
        num_tasks: the number of tasks `T >= 2`.
        count: how many vectors (`>= 1`).
        alpha: concentration (`> 0`); 1 is uniform on the simplex.
        seed: seed of the draws.
        include_vertices: the first `T` rows are the vertices (one task alone), when `count >= T`.

    Returns:
        A float array `(count, T)`.
    """
    num_tasks, count = _check_count("num_tasks", num_tasks, 2), _check_count("count", count, 1)
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0. Received: alpha={alpha!r}")
    draws = np.random.default_rng(seed).dirichlet([float(alpha)] * num_tasks, size=count)
    if include_vertices and count >= num_tasks:
        draws[:num_tasks] = np.eye(num_tasks)
    return draws


def default_weights(num_tasks, count=11, seed=0):
    """The sweep's default weight vectors: a grid for 2 or 3 tasks, Dirichlet draws (with the vertices) beyond.

    For 2 tasks the grid has `count` points; for 3 tasks the grid with the largest number of points
    not above `count` (at least the 3 vertices); for more tasks `count` draws.
    """
    num_tasks = _check_count("num_tasks", num_tasks, 2)
    count = _check_count("count", count, 1)
    if num_tasks == 2:
        return simplex_grid(2, max(count, 2))
    if num_tasks == 3:
        points = 2
        while (points + 1) * (points + 2) // 2 <= count:
            points += 1
        return simplex_grid(3, points)
    return dirichlet_weights(num_tasks, count, seed=seed)


def check_weight_vectors(weights, num_tasks, name="weights", tolerance=SUM_TOLERANCE):
    """Checks a list of weight vectors on the simplex; returns a float array `(n, T)`.

    Raises:
        ValueError: no vector, a vector of another length than `num_tasks`, or one that is not on the
            simplex (negative, NaN / inf, or not summing to 1 within `tolerance`), naming the vector.
    """
    if weights is None:
        raise ValueError(f"{name}: no weight vectors. Received: {name}=None")
    rows = list(weights)
    if rows and all(np.isscalar(v) for v in rows):  # one vector
        rows = [rows]
    if not rows:
        raise ValueError(f"{name}: no weight vectors; give at least one vector of {num_tasks} weights. Received: {name}={weights!r}")
    return np.stack([check_preference(row, num_tasks, name=f"{name}[{i}]", tolerance=tolerance) for i, row in enumerate(rows)])


def check_preference(preference, num_tasks, name="preference", tolerance=SUM_TOLERANCE, batched=False):
    """Checks a preference vector (or, with `batched`, a `(batch, T)` array of them) on the simplex.

    Args:
        preference: array-like `(T,)` (or `(batch, T)` with `batched=True`).
        num_tasks: the number of tasks `T`.
        name: the argument's name, used in the error messages.
        tolerance: allowed gap between the sum and 1.
        batched: accept `(batch, T)` too.

    Returns:
        A float64 array of the same shape.

    Raises:
        ValueError: wrong length, a negative, NaN or infinite entry, or a sum away from 1; the message
            names the argument and quotes the value.
    """
    try:
        values = np.asarray(preference, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers, one weight per task. Received: {name}={preference!r}") from None
    ranks = (1, 2) if batched else (1,)
    if values.ndim not in ranks or values.shape[-1] != num_tasks:
        expected = f"({num_tasks},)" + (f" or (batch, {num_tasks})" if batched else "")
        raise ValueError(
            f"{name} must have shape {expected}, one weight per task ({num_tasks} tasks). "
            f"Received: {name}={_show(preference)} with shape {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite (no NaN or inf). Received: {name}={_show(preference)}")
    if np.any(values < 0):
        raise ValueError(f"{name} must be non-negative (a point of the simplex). Received: {name}={_show(preference)}")
    sums = values.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > tolerance):
        raise ValueError(
            f"{name} must sum to 1 (within {tolerance:g}); normalise it by its sum. "
            f"Received: {name}={_show(preference)} (sum {np.round(sums, 6).tolist()})"
        )
    return values


def _show(value):
    text = repr(np.asarray(value).tolist()) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _check_count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)
