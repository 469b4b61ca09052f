"""Bad preferences, weight vectors and strategies: clear ValueErrors naming the value."""

import keras
import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras import cli
from mtl_keras.pareto import PreferenceBody, PreferenceModel, check_preference, sweep

from .conftest import conflicting_problem, regression_tasks

BAD_PREFERENCES = [
    ([0.2, 0.3, 0.5], "shape"),
    ([-0.5, 1.5], "non-negative"),
    ([np.nan, 1.0], "finite"),
    ([0.5, 0.6], "sum to 1"),
]


@pytest.mark.parametrize("value, message", BAD_PREFERENCES)
def test_check_preference_rejects(value, message):
    with pytest.raises(ValueError, match=message) as error:
        check_preference(value, 2)
    assert "preference" in str(error.value)


@pytest.mark.parametrize("value, message", BAD_PREFERENCES)
def test_model_rejects_bad_preferences(value, message):
    model = PreferenceModel(regression_tasks(), body=PreferenceBody(2, units=(4,)), input_shape=(4,))
    x = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match=message):
        model.predict(x, preference=value, verbose=0)
    with pytest.raises(ValueError, match="preference"):
        model(x, preference=value)
    with pytest.raises(ValueError, match="preference"):
        model.predict(x, preference=[value, value] if len(value) == 2 else [value], verbose=0)


def test_model_rejects_other_strategies_and_bad_alpha():
    model = PreferenceModel(regression_tasks(), body=PreferenceBody(2, units=(4,)), input_shape=(4,))
    with pytest.raises(ValueError, match="weighting="):
        model.compile(optimizer="adam", weighting="uncertainty")
    with pytest.raises(ValueError, match="alpha=0"):
        PreferenceModel(regression_tasks(), alpha=0)
    with pytest.raises(ValueError, match="rows"):
        model.predict(np.zeros((3, 4), np.float32), preference=[[0.5, 0.5]] * 2)


def _build(seed):
    return mk.MultiTaskModel(regression_tasks(), body=keras.Sequential([keras.layers.Dense(1)]), input_shape=(4,))


def test_sweep_rejects_bad_arguments():
    data = conflicting_problem(16, 0)
    tasks = regression_tasks()
    with pytest.raises(ValueError, match=r"no weight vectors.*weights=\[\]"):
        sweep(tasks, _build, data, data, weights=[], progress=False)
    with pytest.raises(ValueError, match=r"weights\[1\].*shape \(2,\).*\[0\.2, 0\.3, 0\.5\]"):
        sweep(tasks, _build, data, data, weights=[[0.5, 0.5], [0.2, 0.3, 0.5]], progress=False)
    with pytest.raises(ValueError, match=r"weights\[0\].*non-negative"):
        sweep(tasks, _build, data, data, weights=[[-1.0, 2.0]], progress=False)
    with pytest.raises(ValueError, match="'no_such_strategy'"):
        sweep(tasks, _build, data, data, strategies=["no_such_strategy"], progress=False)


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    assert cli.main(["pareto", str(tmp_path), "--weights", "0.5,0.6"]) == 2
    assert "--weights" in capsys.readouterr().err
    assert cli.main(["pareto", str(tmp_path), "--weights", "0.5,0.5;1,0,0"]) == 2
    assert "same length" in capsys.readouterr().err
    assert cli.main(["pareto", str(tmp_path), "--benchmark", "mmoe_synthetic", "--num-train", "32",
                     "--weights", "0.2,0.3,0.5", "--quiet"]) == 2
    assert "3 weights for 2 tasks" in capsys.readouterr().err
    assert cli.main(["pareto", str(tmp_path), "--benchmark", "mmoe_synthetic", "--num-train", "32",
                     "--strategies", "nope", "--quiet"]) == 2
    assert "'nope'" in capsys.readouterr().err


def test_model_rejects_a_body_made_for_another_number_of_tasks_and_a_vector_alpha():
    with pytest.raises(ValueError, match=r"body was made for 3 tasks but the model has 2"):
        PreferenceModel(regression_tasks(), body=PreferenceBody(3, units=(4,)), input_shape=(4,))
    with pytest.raises(ValueError, match=r"alpha must be a finite number > 0.*alpha=\[1\.0, 2\.0\]"):
        PreferenceModel(regression_tasks(), alpha=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"cosine_weight=True"):
        PreferenceModel(regression_tasks(), cosine_weight=True)


@pytest.mark.parametrize("margin", [-0.1, float("nan"), "big"])
def test_reference_point_rejects_a_bad_margin(margin):
    with pytest.raises(ValueError, match=r"margin must be a finite number >= 0"):
        mk.pareto.reference_point([[1.0, 2.0], [2.0, 1.0]], margin=margin)
