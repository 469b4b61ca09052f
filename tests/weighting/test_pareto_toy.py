"""The new methods reach the Pareto front of a two-objective toy problem (see `pareto_toy.py`)."""

import numpy as np
import pytest
from pareto_toy import descend, distance_to_front, losses_and_gradients

from mtl_keras import weighting as W

NEW_METHODS = ["fairgrad", "stch", "db_mtl", "excess_mtl", "sdmgrad", "config", "gls", "moco"]


@pytest.mark.parametrize("name", NEW_METHODS + ["nash_mtl"])
def test_reaches_the_pareto_front(name):
    path = descend(W.get(name))
    start, end = path[0], path[-1]
    assert distance_to_front(start) > 1.5
    assert max(distance_to_front(x) for x in path[-20:]) < 0.01, (name, end)
    assert np.all(losses_and_gradients(end)[0] < losses_and_gradients(start)[0])  # both tasks improved


def test_the_published_nash_solution_ends_elsewhere_than_equal_weights():
    """With its former ridge, Nash-MTL ended where equal weighting ends on this problem."""
    equal = descend(W.get("static"))[-1]
    nash = descend(W.NashMTL())[-1]
    assert distance_to_front(nash) < 0.01 and distance_to_front(equal) < 0.01
    assert abs(nash[0] - equal[0]) > 0.3, (nash, equal)
