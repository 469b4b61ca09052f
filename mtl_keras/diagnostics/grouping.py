"""Choosing task groups from an affinity matrix: TAG's network-selection step.

Given the affinity matrix `Z` (`Z[i, j]`: effect of a step on task `i` on task `j`'s loss) and
a number `k` of networks to train, choose `k` groups of tasks (a group may hold any tasks; a task
may appear in several groups). Each task is *served* by the chosen group where its affinity is
highest, its score in a group `G` being the summed affinity onto it from the group's other members,

    s(t, G) = Σ_{j ∈ G, j ≠ t} Z[j, t]      (0 for a task alone),

and the groups maximise the total `Σ_t max_{G ∋ t} s(t, G)`. With `score="mean"` the sum becomes
a mean over the other members (TAG's normalisation): a weakly related member then lowers its
group's score, and pairs of best partners are preferred to larger groups.

Exact search (`T ≤ 10`, and beyond on request): the chosen groups split the tasks into the sets
`P_1 … P_k` they serve, and a set `P` is best served by `v(P) = max_{G ⊇ P} Σ_{t∈P} s(t, G)`. So
the optimum is the best partition of the tasks into at most `k` sets under `v`: `v` for every
subset costs `O(3^T)` (each group, each of its subsets), the partition a dynamic programme over
subsets, `O(k · 3^T)` — under a second for `T = 10`, the same optimum as trying every choice of `k`
groups among the `2^T − 1`.

Without overlap (`overlap=False`) the groups partition the tasks and `v(P)` is `P`'s own score.

Heuristic (`T > 10`): greedy agglomeration — start from singletons, repeatedly merge the two
groups whose union raises the total most (or lowers it least) until `k` groups remain; then a
pass that moves single tasks between groups while the total rises. The groups form a partition.
"""

import itertools
import math
from typing import NamedTuple

import numpy as np

#: Largest number of tasks searched exactly by default.
EXACT_MAX_TASKS = 10


class Grouping(NamedTuple):
    """Suggested task groups.

    Attributes:
        groups: the chosen groups, each a tuple of task names (or indices), one network each.
        served: for each group, the tasks it serves (those whose best group it is); the other
            members are helpers, trained with it but served by another network.
        score: the total affinity `Σ_t s(t, G_t)`.
        task_scores: `{task: s(t, G_t)}`.
        method: `"exact"` or `"greedy"`.
    """

    groups: list
    served: list
    score: float
    task_scores: dict
    method: str


def check_affinity(matrix, task_names=None):
    """The matrix as a square float array with finite entries off the diagonal, and the task names."""
    matrix = np.asarray(matrix, dtype="float64")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 1:
        raise ValueError(f"The affinity matrix must be square T × T. Received shape {matrix.shape}")
    size = matrix.shape[0]
    off = ~np.eye(size, dtype=bool)
    if not np.all(np.isfinite(matrix[off])):
        bad = [(int(i), int(j)) for i, j in zip(*np.nonzero(off & ~np.isfinite(matrix)))]
        raise ValueError(f"The affinity matrix has non-finite entries off the diagonal at {bad[:5]}.")
    if task_names is None:
        task_names = list(range(size))
    task_names = list(task_names)
    if len(task_names) != size:
        raise ValueError(f"`task_names` must name the {size} tasks of the matrix. Received {len(task_names)} names: {task_names}")
    return matrix, task_names


SCORES = ("sum", "mean")


def group_score(matrix, task, group, score="sum"):
    """`s(t, G)`: the summed (or mean) affinity onto `task` from the other members of `group` (0 alone)."""
    others = [j for j in group if j != task]
    if not others:
        return 0.0
    values = [matrix[j, task] for j in others]
    return float(np.sum(values) if score == "sum" else np.mean(values))


def group_tasks(matrix, num_groups, task_names=None, method="auto", overlap=True, score="sum"):
    """Chooses `num_groups` groups of tasks maximising total affinity (TAG's network selection).

    Args:
        matrix: the `T × T` affinity matrix, `matrix[i, j] = Z_{i→j}` (e.g. `TaskAffinity.matrix`).
        num_groups: the number of networks to train (the compute budget), `1 ≤ num_groups ≤ T`.
        task_names: names of the tasks in the matrix's order (indices by default).
        method: `"exact"`, `"greedy"`, or `"auto"` (exact for `T ≤ 10`, greedy beyond).
        overlap: allow a task in several groups, served by one (TAG). With `False` the groups
            partition the tasks: every member of a group is served by it (the greedy search
            always returns a partition).
        score: `"sum"` or `"mean"` of the affinities onto a task from its group's other members.

    Returns:
        A `Grouping` of at most `num_groups` groups: fewer when another network would not raise
        the total (e.g. every task gains most in one group of all).

    Example:

    >>> z = np.array([[0, .3, -.2], [.3, 0, -.1], [-.2, -.1, 0]])
    >>> group_tasks(z, 2, ["a", "b", "c"]).groups
    [('a', 'b'), ('c',)]
    """
    matrix, task_names = check_affinity(matrix, task_names)
    size = matrix.shape[0]
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)) or not 1 <= num_groups <= size:
        raise ValueError(f"`num_groups` must be an integer between 1 and the number of tasks ({size}). Received: num_groups={num_groups!r}")
    if method not in ("auto", "exact", "greedy"):
        raise ValueError(f"`method` must be 'auto', 'exact' or 'greedy'. Received: method={method!r}")
    if score not in SCORES:
        raise ValueError(f"`score` must be 'sum' or 'mean'. Received: score={score!r}")
    if method == "auto":
        method = "exact" if size <= EXACT_MAX_TASKS else "greedy"
    pairs = _exact(matrix, int(num_groups), overlap, score) if method == "exact" else _greedy(matrix, int(num_groups), score)
    pairs = sorted(pairs, key=lambda pair: (-len(pair[1]), min(pair[1])))
    task_scores, groups, served = {}, [], []
    for group, serves in pairs:
        groups.append(tuple(task_names[t] for t in sorted(group)))
        served.append(tuple(task_names[t] for t in sorted(serves)))
        for t in serves:
            task_scores[task_names[t]] = group_score(matrix, t, group, score)
    return Grouping(groups, served, float(sum(task_scores.values())), task_scores, method)


def total_score(matrix, groups, score="sum"):
    """`Σ_t max_{G ∋ t} s(t, G)` of a choice of groups (index tuples); `-inf` if a task is not covered."""
    size = np.asarray(matrix).shape[0]
    best = [-math.inf] * size
    for group in groups:
        for t in group:
            best[t] = max(best[t], group_score(matrix, t, group, score))
    return float(sum(best))


def _bits(mask):
    return [t for t in range(mask.bit_length()) if mask >> t & 1]


def _exact(matrix, num_groups, overlap=True, score="sum"):
    size = matrix.shape[0]
    full = (1 << size) - 1
    # v[P]: the best value of serving the tasks P by one group G ⊇ P (G = P without overlap), and that group.
    value = np.full(1 << size, -np.inf)
    helper = np.zeros(1 << size, dtype=np.int64)
    for group in range(1, full + 1):
        members = _bits(group)
        scores = {t: group_score(matrix, t, members, score) for t in members}
        if not overlap:
            value[group], helper[group] = sum(scores.values()), group
            continue
        sub = group
        while sub:
            total = sum(scores[t] for t in _bits(sub))
            if total > value[sub]:
                value[sub], helper[sub] = total, group
            sub = (sub - 1) & group
    # best[c][S]: the best split of S into at most c served sets (the lowest task of S in the first).
    best = [np.full(1 << size, -np.inf) for _ in range(num_groups + 1)]
    choice = [np.zeros(1 << size, dtype=np.int64) for _ in range(num_groups + 1)]
    best[0][0] = 0.0
    for count in range(1, num_groups + 1):
        best[count][0] = 0.0
        for subset in range(1, full + 1):
            low = subset & -subset
            rest = subset ^ low
            sub = rest
            while True:
                part = sub | low
                candidate = value[part] + best[count - 1][subset ^ part]
                if candidate > best[count][subset]:
                    best[count][subset], choice[count][subset] = candidate, part
                if sub == 0:
                    break
                sub = (sub - 1) & rest
    pairs, subset, count = [], full, num_groups
    while subset:
        part = int(choice[count][subset])
        pairs.append((_bits(int(helper[part])), _bits(part)))
        subset ^= part
        count -= 1
    return pairs


def _greedy(matrix, num_groups, score="sum"):
    groups = [[t] for t in range(matrix.shape[0])]

    def value(group):
        return sum(group_score(matrix, t, group, score) for t in group)

    while len(groups) > num_groups:
        gains = [
            (value(groups[a] + groups[b]) - value(groups[a]) - value(groups[b]), a, b)
            for a, b in itertools.combinations(range(len(groups)), 2)
        ]
        _, a, b = max(gains)
        groups = [g for k, g in enumerate(groups) if k not in (a, b)] + [groups[a] + groups[b]]
    improved = True
    while improved:  # move single tasks between groups (never emptying one) while the total rises
        improved = False
        for source, target in itertools.permutations(range(len(groups)), 2):
            for t in list(groups[source]):
                if len(groups[source]) == 1:
                    break
                moved_source = [u for u in groups[source] if u != t]
                gain = value(moved_source) + value(groups[target] + [t]) - value(groups[source]) - value(groups[target])
                if gain > 1e-12:
                    groups[source], groups[target] = moved_source, groups[target] + [t]
                    improved = True
    return [(g, g) for g in groups]
