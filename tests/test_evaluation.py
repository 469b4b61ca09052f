import math

import pytest

from mtl_keras import evaluation


def test_delta_m_closed_form():
    dm, per_task = evaluation.delta_m(
        {"a": {"accuracy": 0.9, "loss": 0.1}, "b": {"mae": 2.0}, "c": {"accuracy": 0.5}},
        {"a": {"accuracy": 0.8, "loss": 0.2}, "b": {"mae": 2.5}},
    )
    assert per_task == pytest.approx({"a": 12.5, "b": 20.0})
    assert dm == pytest.approx(16.25)


def test_negative_transfer_is_negative():
    _, per_task = evaluation.delta_m({"a": {"val_a_accuracy": 0.7}}, {"a": {"val_a_accuracy": 0.8}})
    assert per_task["a"] == pytest.approx(-12.5)


def test_directions_and_errors():
    assert evaluation.higher_is_better("left_accuracy") and not evaluation.higher_is_better("left_mae")
    assert math.isnan(evaluation.relative_change(1.0, 0.0, "mae"))
    with pytest.raises(ValueError, match="no task-metric pair"):
        evaluation.delta_m({"a": {"mae": 1.0}}, {"b": {"mae": 1.0}})
