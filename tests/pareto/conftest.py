"""A tiny two-task problem with conflicting tasks through a narrow trunk, and a preference model trained on it once."""

import keras
import numpy as np
import pytest

import mtl_keras as mk


def conflicting_problem(n, seed):
    """Two regressions on different input coordinates; a 1-unit trunk output cannot serve both at once."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, {"a": x[:, :1].copy(), "b": x[:, 1:2].copy()}


def regression_tasks():
    return [mk.Task("a", kind="regression"), mk.Task("b", kind="regression")]


@pytest.fixture(scope="module")
def trained_preference_model():
    from mtl_keras.pareto import PreferenceBody, PreferenceModel

    keras.utils.set_random_seed(0)
    x, y = conflicting_problem(1024, 0)
    model = PreferenceModel(regression_tasks(), body=PreferenceBody(2, units=(16, 1)), input_shape=(4,), name="pref")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, y, epochs=10, batch_size=64, verbose=0)
    return model
