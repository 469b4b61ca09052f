# ruff: noqa
"""Bad-input probe (see harness.py): prints one line per case: ACCEPTED (and what came back) or the error, its type and where it was raised."""
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import case
import numpy as np, keras
import mtl_keras as mk
rng = np.random.default_rng(0)
X = rng.normal(size=(16, 3)).astype("float32")
T = [mk.Task("r", kind="regression", label_scaling="standard")]
def run(y):
    m = mk.MultiTaskModel(T, body=keras.layers.Dense(4), input_shape=(3,)); m.compile("sgd")
    h = m.fit(X, {"r": y}, batch_size=8, epochs=2, verbose=0).history
    p = m.predict(X[:2], verbose=0)["r"]
    return {k: v[-1] for k, v in h.items()}, p.ravel().tolist()
case("label scaling constant labels", lambda: run(np.full(16, 3.0, "float32")))
case("label scaling huge labels", lambda: run((rng.normal(size=16) * 1e30).astype("float32")))
case("TerminateOnNaNTask raise_error str", lambda: mk.callbacks.TerminateOnNaNTask(raise_error="no").raise_error)
case("AnnealedSampler sizes zero", lambda: mk.MultiTaskModel([mk.Task("a", kind="regression"), mk.Task("b", kind="regression")], body=keras.layers.Dense(2), input_shape=(3,), sampler=mk.samplers.AnnealedSampler([0, 5], total_steps=10), tasks_per_step=1))
case("ProportionalSampler sizes bool", lambda: mk.MultiTaskModel([mk.Task("a", kind="regression"), mk.Task("b", kind="regression")], body=keras.layers.Dense(2), input_shape=(3,), sampler=mk.samplers.ProportionalSampler([True, 5]), tasks_per_step=1))
case("ProportionalSampler sizes str", lambda: mk.samplers.ProportionalSampler("12"))
