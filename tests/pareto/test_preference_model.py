"""The preference-conditioned model: learning that follows r, predict at a preference, saving, zoo models."""

import keras
import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras import zoo
from mtl_keras.pareto import PreferenceBody, PreferenceFiLM, PreferenceModel, PreferenceObjective

from .conftest import conflicting_problem, regression_tasks


def test_moving_r_toward_a_task_lowers_its_test_loss(trained_preference_model):
    model = trained_preference_model
    x, y = conflicting_problem(512, 1)
    losses = {}
    for r in ((0.9, 0.1), (0.5, 0.5), (0.1, 0.9)):
        logs = model.evaluate(x, y, preference=list(r), return_dict=True, verbose=0)
        losses[r] = (logs["a_loss"], logs["b_loss"])
    (a_hi, b_lo), (a_mid, b_mid), (a_lo, b_hi) = losses[(0.9, 0.1)], losses[(0.5, 0.5)], losses[(0.1, 0.9)]
    assert a_hi < a_mid < a_lo, losses  # more weight on "a": lower "a" loss
    assert b_hi < b_mid < b_lo, losses
    assert a_lo - a_hi > 0.3 and b_lo - b_hi > 0.3, losses  # a real trade-off, not noise


def test_predict_at_preferences_and_default(trained_preference_model):
    model = trained_preference_model
    x, _ = conflicting_problem(6, 2)
    one = model.predict(x, preference=[0.9, 0.1], verbose=0)["a"]
    rows = model.predict(x, preference=[[0.9, 0.1]] * 3 + [[0.1, 0.9]] * 3)["a"]
    np.testing.assert_allclose(rows[:3], one[:3], rtol=1e-5, atol=1e-6)
    assert not np.allclose(rows[3:], one[3:], atol=1e-3)
    uniform = model.predict(x, verbose=0)["a"]
    np.testing.assert_allclose(uniform, model.predict(x, preference=[0.5, 0.5], verbose=0)["a"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(model(x, preference=[0.9, 0.1])["a"]), one, rtol=1e-5, atol=1e-6)


def test_training_draws_dirichlet_preferences_reproducibly():
    model = PreferenceModel(regression_tasks(), body=PreferenceBody(2, units=(4,)), alpha=0.5, seed=3, input_shape=(4,))
    draws = np.stack([model.draw_preference(step).numpy() for step in range(200)])
    assert np.allclose(draws.sum(1), 1, atol=1e-5) and (draws >= 0).all()
    np.testing.assert_array_equal(draws[7], model.draw_preference(7).numpy())
    # Dirichlet(0.5, 0.5): the first weight is Beta(0.5, 0.5), variance 1/8
    assert draws[:, 0].mean() == pytest.approx(0.5, abs=0.08) and draws[:, 0].var() == pytest.approx(0.125, abs=0.03)


def test_objective_is_weighted_sum_minus_cosine():
    objective = PreferenceObjective(cosine_weight=0.5)
    objective.configure(regression_tasks())
    object.__setattr__(objective, "step_preference", np.array([0.25, 0.75], np.float32))
    losses = np.array([2.0, 1.0], np.float32)
    total, weights = objective.combine_losses(losses, np.ones(2, np.float32), 0)
    r = np.array([0.25, 0.75])
    expected = r @ losses - 0.5 * (r @ losses) / (np.linalg.norm(r) * np.linalg.norm(losses))
    assert float(total) == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(weights, r)


def test_save_and_load_round_trip(trained_preference_model, tmp_path):
    model = trained_preference_model
    path = tmp_path / "pref.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, PreferenceModel) and loaded.cosine_weight == model.cosine_weight
    x, _ = conflicting_problem(5, 3)
    for r in ([0.8, 0.2], [0.3, 0.7]):
        np.testing.assert_allclose(
            loaded.predict(x, preference=r, verbose=0)["b"], model.predict(x, preference=r, verbose=0)["b"], rtol=1e-6
        )
    assert isinstance(loaded.weighting, PreferenceObjective)


def test_zoo_models_by_name():
    assert {"cosmos_mlp", "cosmos_conv"} <= set(zoo.list_models("*cosmos*"))
    tasks = [mk.Task("digit", num_classes=3), mk.Task("size", kind="regression")]
    conv = zoo.create_model("test_cosmos_conv", tasks=tasks, input_shape=(8, 8, 1))
    mlp = zoo.create_model("test_cosmos_mlp", tasks=tasks, input_shape=(5,), alpha=2.0)
    assert isinstance(conv, PreferenceModel) and mlp.alpha == 2.0
    films = [layer for layer in conv.body.films if isinstance(layer, PreferenceFiLM)]
    assert len(films) == 2  # one per conv block and per dense block
    out = conv.predict(np.zeros((2, 8, 8, 1), np.float32), preference=[0.3, 0.7], verbose=0)
    assert out["digit"].shape == (2, 3) and np.allclose(out["digit"].sum(1), 1, atol=1e-5)


def test_preference_film_starts_as_identity_and_follows_r():
    film = PreferenceFiLM(num_tasks=2)
    h = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    r = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], np.float32)
    np.testing.assert_allclose(film(h, preference=r), h, rtol=1e-6)
    film.gamma["kernel"].assign(np.ones((2, 5), np.float32))  # γ(r) = 1 + Σ r = 2 for every row
    np.testing.assert_allclose(film(h, preference=r), 2 * h, rtol=1e-6)
    assert film.task_variables(0) == []
