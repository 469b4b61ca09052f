"""Task grouping: the exact search against brute force, the greedy heuristic, bad input."""

import itertools

import numpy as np
import pytest

from mtl_keras.diagnostics import grouping
from mtl_keras.diagnostics.grouping import group_tasks, total_score


def _brute_force(matrix, num_groups, score):
    """The best total over every choice of `num_groups` distinct non-empty groups (overlaps allowed)."""
    size = matrix.shape[0]
    candidates = [c for r in range(1, size + 1) for c in itertools.combinations(range(size), r)]
    return max(total_score(matrix, chosen, score) for chosen in itertools.combinations(candidates, num_groups))


@pytest.mark.parametrize("score", ["sum", "mean"])
@pytest.mark.parametrize("size,num_groups", [(3, 1), (3, 2), (4, 2), (4, 3), (5, 2), (5, 3)])
def test_exact_search_matches_brute_force(size, num_groups, score):
    rng = np.random.default_rng(size * 10 + num_groups)
    for _ in range(3):
        matrix = rng.normal(size=(size, size))
        result = group_tasks(matrix, num_groups, score=score)
        assert result.method == "exact" and len(result.groups) <= num_groups
        assert result.score == pytest.approx(_brute_force(matrix, num_groups, score))
        assert result.score == pytest.approx(total_score(matrix, result.groups, score))
        assert sorted(t for s in result.served for t in s) == list(range(size))  # each task served once
        assert all(set(s) <= set(g) for g, s in zip(result.groups, result.served))


def test_scores_are_summed_or_mean_affinities_onto_each_task():
    z = np.array([[0.0, 0.4, 0.1], [0.2, 0.0, -0.3], [0.6, -0.5, 0.0]])
    assert grouping.group_score(z, 0, (0, 1, 2)) == pytest.approx(0.2 + 0.6)
    assert grouping.group_score(z, 0, (0, 1, 2), "mean") == pytest.approx((0.2 + 0.6) / 2)
    assert grouping.group_score(z, 1, (1,)) == 0.0
    result = group_tasks(z, 1, ["a", "b", "c"], score="mean")
    assert result.groups == [("a", "b", "c")]
    assert result.task_scores == pytest.approx({"a": 0.4, "b": -0.05, "c": -0.1})


def test_sum_keeps_a_weak_member_that_the_mean_drops():
    # a and c help each other a lot, b only a little (positive): the sum keeps {a, b, c} and
    # the odd task d alone; the mean prefers {a, c} and puts b with d.
    z = np.array([[0, 0.1, 1.0, -0.01], [0.1, 0, 0.1, -0.01], [1.0, 0.1, 0, -0.01], [-0.01, 0.0, -0.01, 0]])
    assert sorted(group_tasks(z, 2, "abcd", overlap=False).served) == [("a", "b", "c"), ("d",)]
    assert sorted(group_tasks(z, 2, "abcd", overlap=False, score="mean").served) == [("a", "c"), ("b", "d")]


def test_helpers_serve_other_groups():
    # b helps both a and c, but a and c hurt each other: two groups {a, b}, {b, c}, b served by one.
    z = np.array([[0.0, 0.1, -1.0], [1.0, 0.0, 1.0], [-1.0, 0.1, 0.0]])
    result = group_tasks(z, 2, ["a", "b", "c"])
    assert sorted(result.groups) == [("a", "b"), ("b", "c")]
    assert result.score == pytest.approx(2.1)


def _blocks(sizes, seed, noise=0.05):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    z = np.where(labels[:, None] == labels[None, :], 0.5, -0.2) + noise * rng.normal(size=(len(labels),) * 2)
    return z, [tuple(np.flatnonzero(labels == g)) for g in range(len(sizes))]


def test_greedy_recovers_planted_blocks_beyond_the_exact_limit():
    z, planted = _blocks([4, 4, 3, 1], seed=0)
    result = group_tasks(z, 4)
    assert result.method == "greedy"  # 12 tasks > EXACT_MAX_TASKS
    assert sorted(result.served) == sorted(planted)
    small, planted_small = _blocks([3, 2, 1], seed=1)
    exact, greedy = group_tasks(small, 3), group_tasks(small, 3, method="greedy")
    assert sorted(exact.served) == sorted(greedy.served) == sorted(planted_small)
    assert greedy.score <= exact.score + 1e-12


@pytest.mark.parametrize("num_groups", [0, 4, -1, 1.5, True])
def test_bad_number_of_groups(num_groups):
    with pytest.raises(ValueError, match=f"num_groups={num_groups!r}"):
        group_tasks(np.zeros((3, 3)), num_groups)


def test_bad_matrix_and_names():
    with pytest.raises(ValueError, match=r"square T × T. Received shape \(2, 3\)"):
        group_tasks(np.zeros((2, 3)), 1)
    with pytest.raises(ValueError, match=r"non-finite entries off the diagonal at \[\(0, 1\)\]"):
        group_tasks(np.array([[0.0, np.nan], [0.0, 0.0]]), 1)
    with pytest.raises(ValueError, match="must name the 2 tasks"):
        group_tasks(np.zeros((2, 2)), 1, ["a"])
    with pytest.raises(ValueError, match="method='best'"):
        group_tasks(np.zeros((2, 2)), 1, method="best")
    with pytest.raises(ValueError, match="score='max'"):
        group_tasks(np.zeros((2, 2)), 1, score="max")


def _brute_force_partition(matrix, num_groups):
    size = matrix.shape[0]
    best = -np.inf
    for labels in itertools.product(range(num_groups), repeat=size):
        groups = [tuple(t for t in range(size) if labels[t] == g) for g in range(num_groups)]
        best = max(best, total_score(matrix, [g for g in groups if g]))
    return best


@pytest.mark.parametrize("size,num_groups", [(4, 2), (5, 2), (5, 3)])
def test_exact_partition_matches_brute_force(size, num_groups):
    rng = np.random.default_rng(size + num_groups)
    matrix = rng.normal(size=(size, size))
    result = group_tasks(matrix, num_groups, overlap=False)
    assert result.groups == result.served
    assert sorted(t for g in result.groups for t in g) == list(range(size))
    assert result.score == pytest.approx(_brute_force_partition(matrix, num_groups))
    assert result.score <= group_tasks(matrix, num_groups).score + 1e-12  # overlap can only help
