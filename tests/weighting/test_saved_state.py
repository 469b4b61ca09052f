"""A compiled weighting strategy survives `.keras` saving: its config, its state, and the next step."""

import os

import keras
import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras import weighting as W

STRATEGIES = {
    "uncertainty": lambda: W.UncertaintyWeighting(),
    "dwa": lambda: W.DynamicWeightAverage(temperature=3.0, period=1),
    "famo": lambda: W.FAMO(learning_rate=0.1),
    "gradnorm": lambda: W.GradNorm(alpha=0.5, learning_rate=0.1),
}


def data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 4)).astype("float32")
    labels = {"a": (x[:, 0] > 0).astype("int32"), "b": (3 * x[:, 1]).astype("float32")}
    return mk.data.shared_input_dataset(x, labels, batch_size=16, shuffle=False)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_state_and_next_step_survive_reload(name, tmp_path):
    tasks = [mk.Task("a", num_classes=2), mk.Task("b", kind="regression")]
    model = mk.MultiTaskModel(tasks, body=keras.Sequential([keras.layers.Dense(4, activation="relu")]), input_shape=(4,))
    model.compile(optimizer=keras.optimizers.SGD(0.05), weighting=STRATEGIES[name]())
    model.fit(data(0), epochs=2, verbose=0)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.weighting) is type(model.weighting)
    assert loaded.weighting.get_config() == model.weighting.get_config()
    for a, b in zip(model.weighting.variables, loaded.weighting.variables):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, err_msg=a.path)
    # the next steps are the same from the reloaded model
    model.fit(data(1), epochs=1, verbose=0)
    loaded.fit(data(1), epochs=1, verbose=0)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)
