"""Hypervolume against closed forms, non-dominated marking, simplex grids and draws (no training)."""

import itertools

import numpy as np
import pytest

from mtl_keras.pareto import front, simplex


def inclusion_exclusion(points, reference):
    """Volume of the union of the boxes [p, ref] by inclusion–exclusion (exact, for few points)."""
    points, reference = np.asarray(points, float), np.asarray(reference, float)
    total = 0.0
    for size in range(1, len(points) + 1):
        for subset in itertools.combinations(range(len(points)), size):
            corner = points[list(subset)].max(axis=0)
            total += (-1) ** (size + 1) * np.prod(np.clip(reference - corner, 0, None))
    return total


def test_hypervolume_single_point_and_staircase():
    assert front.hypervolume([[1.0, 2.0, 0.5]], [3.0, 3.0, 1.0]) == pytest.approx(2 * 1 * 0.5)
    # 2-D staircase: (1,3), (2,2), (3,1) with reference (4,4): 3*1 + 2*1 + 1*1 = 6
    assert front.hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4]) == pytest.approx(6.0)
    # dominated and out-of-reference points add nothing
    assert front.hypervolume([[1, 3], [2, 2], [3, 1], [3, 3], [5, 0]], [4, 4]) == pytest.approx(6.0)
    assert front.hypervolume([[5, 5]], [4, 4]) == 0.0


@pytest.mark.parametrize("dims", [2, 3, 4])
def test_hypervolume_matches_inclusion_exclusion(dims):
    rng = np.random.default_rng(dims)
    for _ in range(5):
        points = rng.uniform(0, 1, size=(6, dims))
        reference = np.full(dims, 1.1)
        assert front.hypervolume(points, reference) == pytest.approx(inclusion_exclusion(points, reference), rel=1e-10)


def test_non_dominated_marking():
    points = [[1, 3], [2, 2], [3, 1], [2, 3], [3, 3], [1, 3], [np.nan, 0]]
    assert front.non_dominated(points).tolist() == [True, True, True, False, False, True, False]
    three = [[1, 1, 1], [0, 2, 2], [2, 2, 0], [1, 1, 2]]
    assert front.non_dominated(three).tolist() == [True, True, True, False]


def test_reference_point_covers_all_sets():
    a, b = np.array([[1.0, 4.0], [2.0, 1.0]]), np.array([[3.0, 2.0]])
    reference = front.reference_point(a, b)
    np.testing.assert_allclose(reference, [3.0 + 0.1 * 2.0, 4.0 + 0.1 * 3.0])


def test_simplex_grid_and_draws():
    grid = simplex.simplex_grid(2, 11)
    assert grid.shape == (11, 2) and np.allclose(grid.sum(1), 1) and np.allclose(grid[:, 0], np.linspace(0, 1, 11))
    grid3 = simplex.simplex_grid(3, 4)
    assert grid3.shape == (10, 3) and np.allclose(grid3.sum(1), 1) and len({tuple(r) for r in grid3}) == 10
    draws = simplex.dirichlet_weights(5, 8, seed=1)
    assert draws.shape == (8, 5) and np.allclose(draws.sum(1), 1) and (draws >= 0).all()
    np.testing.assert_array_equal(draws[:5], np.eye(5))
    assert simplex.default_weights(3, 11).shape == (10, 3)
    assert simplex.default_weights(4, 7).shape == (7, 4)
