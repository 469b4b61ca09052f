"""Non-dominated points and the exact hypervolume of a set of loss vectors (all objectives minimised).

The *hypervolume* of points `P` with respect to a reference point `ref` is the volume (Lebesgue
measure) of the region they dominate and that dominates `ref`:
`HV(P) = vol( ∪_{p ∈ P} [p_1, ref_1] × ... × [p_T, ref_T] )`. Points that do not dominate `ref`
strictly in every coordinate add nothing. A larger hypervolume is a better front (closer to the
ideal point, wider). Nothing here imports TensorFlow.
"""

import numpy as np

#: Margin of the default reference point: `ref = worst + REFERENCE_MARGIN * (worst - best)` per objective.
REFERENCE_MARGIN = 0.1


def non_dominated(points):
    """Boolean mask of the non-dominated rows of `points` `(n, T)` (minimisation).

    A row `p` is dominated if another row `q` has `q <= p` everywhere and `q < p` somewhere.
    Duplicate rows are all kept. Rows holding NaN are marked dominated.

    Example:

    >>> non_dominated([[1, 2], [2, 1], [2, 2]])
    array([ True,  True, False])
    """
    values = _as_points(points)
    finite = np.all(np.isfinite(values), axis=1)
    mask = finite.copy()
    for i in np.flatnonzero(finite):
        others = values[finite]
        dominated = np.all(others <= values[i], axis=1) & np.any(others < values[i], axis=1)
        mask[i] = not dominated.any()
    return mask


def reference_point(*point_sets, margin=REFERENCE_MARGIN):
    """The default reference point of one or several sets of points (e.g. two fronts compared).

    Per objective: the worst (largest) finite value over all the sets, plus `margin` times the
    spread (worst minus best) — so every point counts, extreme ones a little. Compare hypervolumes
    only when computed with the same reference point.
    """
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.number)) or not np.isfinite(margin) or margin < 0:
        raise ValueError(
            f"margin must be a finite number >= 0 (a negative margin puts the worst points outside the box, "
            f"where they count for nothing). Received: margin={margin!r}"
        )
    stacked = np.concatenate([_as_points(p) for p in point_sets], axis=0)
    stacked = stacked[np.all(np.isfinite(stacked), axis=1)]
    if not len(stacked):
        raise ValueError("reference_point needs at least one finite point.")
    worst, best = stacked.max(axis=0), stacked.min(axis=0)
    spread = np.where(worst > best, worst - best, np.maximum(np.abs(worst), 1.0))
    return worst + margin * spread


def hypervolume(points, reference):
    """The exact hypervolume dominated by `points` `(n, T)` up to `reference` `(T,)` (minimisation).

    Computed by slicing (sort on the last objective and sum slabs, each the `T-1`-dimensional
    hypervolume of the points below it); exact, `O(n^{T-1} log n)` — fine for the fronts of a sweep.

    Args:
        points: array-like `(n, T)` of objective vectors (losses).
        reference: array-like `(T,)`: the reference point, worse than the points in every objective
            (see `reference_point`).

    Returns:
        A float: 0 when no point dominates the reference.

    Example:

    >>> hypervolume([[1, 2], [2, 1]], reference=[3, 3])  # 2 + 2 - 1
    3.0
    """
    values = _as_points(points)
    reference = np.asarray(reference, dtype=np.float64).reshape(-1)
    if reference.shape[0] != values.shape[1]:
        raise ValueError(
            f"reference must have one value per objective ({values.shape[1]}). Received: reference={reference.tolist()}"
        )
    if not np.all(np.isfinite(reference)):
        raise ValueError(f"reference must be finite. Received: reference={reference.tolist()}")
    keep = np.all(np.isfinite(values), axis=1) & np.all(values < reference, axis=1)
    values = values[keep]
    if not len(values):
        return 0.0
    return float(_slice_volume(values[non_dominated(values)], reference))


def _slice_volume(values, reference):
    if values.shape[1] == 1:
        return reference[0] - values[:, 0].min()
    order = np.argsort(values[:, -1], kind="stable")
    values = values[order]
    total = 0.0
    for i in range(len(values)):
        top = values[i + 1, -1] if i + 1 < len(values) else reference[-1]
        height = top - values[i, -1]
        if height > 0:
            below = values[: i + 1, :-1]
            total += height * _slice_volume(below[non_dominated(below)], reference[:-1])
    return total


def _as_points(points):
    values = np.asarray(points, dtype=np.float64)
    if values.ndim == 1 and values.size:
        values = values[None, :]
    if values.ndim != 2:
        raise ValueError(f"points must be a 2-D array (points, objectives). Received shape {values.shape}")
    return values
