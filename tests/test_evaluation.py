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


def test_tasks_without_baselines_are_skipped_wherever_they_come():
    results = {"new": {"accuracy": 0.1}, "a": {"accuracy": 0.9, "mae": 1.0}, "b": {"f1": 0.4}}
    baselines = {"a": {"accuracy": 0.8, "mae": 2.0}, "b": {"f1": 0.5}}
    dm, per_task = evaluation.delta_m(results, baselines)
    # task a: mean of +12.5 (accuracy) and +50 (mae halved); task b: -20; Δm is the mean over the 3 pairs
    assert per_task == pytest.approx({"a": 31.25, "b": -20.0})
    assert dm == pytest.approx((12.5 + 50.0 - 20.0) / 3)


def test_nan_values_and_zero_baselines_are_left_out():
    dm, per_task = evaluation.delta_m(
        {"a": {"accuracy": float("nan"), "mae": 3.0}, "b": {"mae": 1.0}}, {"a": {"accuracy": 0.5, "mae": 2.0}, "b": {"mae": 0.0}}
    )
    assert per_task == pytest.approx({"a": -50.0}) and dm == pytest.approx(-50.0)
    assert math.isnan(evaluation.relative_change(float("nan"), 1.0, "accuracy"))
    assert math.isnan(evaluation.relative_change(1.0, float("nan"), "accuracy"))
    assert evaluation.relative_change(0.5, -2.0, "r2") == pytest.approx(125.0)  # relative to |baseline|
    with pytest.raises(ValueError) as info:
        evaluation.delta_m({"a": {"loss": 1.0}}, {"a": {"loss": 2.0}})  # losses are not compared
    assert str(info.value) == "delta_m: no task-metric pair is present in both results and baselines."


def test_metric_direction_is_read_from_the_name_suffix():
    for name in ("accuracy", "AUC", "val_left_precision", "recall", "task_f1", "r2"):
        assert evaluation.higher_is_better(name), name
    for name in ("loss", "mae", "val_left_mse", "accuracy_gap", "f1x", "left_r2_error"):
        assert not evaluation.higher_is_better(name), name


@pytest.mark.parametrize("metric", [
    "acc", "a_acc", "val_a_acc",  # Task(metrics=["acc"]) logs `<task>_acc`
    "f1_score", "fbeta_score", "r2_score", "mean_io_u", "binary_io_u", "cosine_similarity",
    "precision_at_recall", "recall_at_precision", "sensitivity_at_specificity", "specificity_at_sensitivity",
])
def test_higher_is_better_metrics_of_keras_and_the_library(metric):
    """These used to count as lower-is-better, flipping the sign of their Δm term."""
    assert evaluation.higher_is_better(metric)
    improved, _ = evaluation.delta_m({"a": {metric: 0.9}}, {"a": {metric: 0.8}})
    assert improved == pytest.approx(12.5)


@pytest.mark.parametrize("metric", ["mae", "mse", "loss", "val_a_loss", "rmse", "log_cosh_error", "mean_absolute_percentage_error"])
def test_lower_is_better_metrics_stay_lower(metric):
    assert not evaluation.higher_is_better(metric)


def test_the_task_accuracy_metric_named_acc_is_higher_is_better():
    import mtl_keras as mk

    (metric,) = mk.Task("a", num_classes=2, metrics=["acc"]).build_metrics()
    assert metric.name == "a_acc" and evaluation.higher_is_better(metric.name)
