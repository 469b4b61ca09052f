# ruff: noqa
"""Bad-input probe (see harness.py): prints one line per case: ACCEPTED (and what came back) or the error, its type and where it was raised."""
import os, sys, tempfile; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import case
import numpy as np, keras
import mtl_keras as mk
rng = np.random.default_rng(0)
X = rng.normal(size=(8, 3)).astype("float32"); YC = (X[:, 0] > 0).astype("int32"); YR = X[:, 1].copy()
TASKS = [mk.Task("cls", num_classes=2), mk.Task("reg", kind="regression")]
def M(tasks=TASKS, opt="sgd", **kw):
    m = mk.MultiTaskModel(tasks, body=keras.Sequential([keras.layers.Dense(4)]), input_shape=(3,), **kw); m.compile(optimizer=opt); return m
Y = {"cls": YC, "reg": YR}
def fit(m, *a, **k):
    k.setdefault("verbose", 0); k.setdefault("epochs", 1)
    h = m.fit(*a, **k).history; return {k: [round(x, 3) for x in v] for k, v in h.items()}
case("sw array negative", lambda: fit(M(), X, Y, sample_weight=-np.ones(8), batch_size=4))
case("sw array nan", lambda: fit(M(), X, Y, sample_weight=np.r_[np.nan, np.ones(7)], batch_size=4))
case("sw array wrong len", lambda: fit(M(), X, Y, sample_weight=np.ones(3), batch_size=4))
case("sw dict unknown task", lambda: fit(M(), X, Y, sample_weight={"cls": np.ones(8), "zzz": np.ones(8)}, batch_size=4))
case("sw dict wrong len", lambda: fit(M(), X, Y, sample_weight={"cls": np.ones(3)}, batch_size=4))
case("batch_size 0 steps", lambda: len(fit(M(), X, Y, batch_size=0)["loss"]))
case("keras plain batch_size 0", lambda: (lambda k: (k.compile("sgd", "mse"), k.fit(X, YR, batch_size=0, verbose=0).history)[1])(keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])))
case("batch_size -1", lambda: fit(M(), X, Y, batch_size=-1))
case("batch_size 2.5", lambda: fit(M(), X, Y, batch_size=2.5))
case("validation_split keys", lambda: sorted(fit(M(), X, Y, validation_split=0.25, batch_size=4)))
case("validation_split 1.5", lambda: sorted(fit(M(), X, Y, validation_split=1.5, batch_size=4)))
case("validation_data missing task", lambda: sorted(fit(M(), X, Y, validation_data=(X, {"cls": YC}), batch_size=4).items()))
case("validation_data class 5", lambda: fit(M(), X, Y, validation_data=(X, {"cls": YC + 5, "reg": YR}), batch_size=4))
case("evaluate class 5", lambda: M().evaluate(X, {"cls": YC + 5, "reg": YR}, verbose=0))
case("evaluate NaN reg label", lambda: M().evaluate(X, {"cls": YC, "reg": np.r_[np.nan, YR[1:]]}, verbose=0))
case("SGD lr negative", lambda: fit(M(opt=keras.optimizers.SGD(-0.1)), X, Y, batch_size=4, epochs=3))
case("adam lr nan", lambda: fit(M(opt=keras.optimizers.Adam(float("nan"))), X, Y, batch_size=4))
case("sampler by name proportional", lambda: M(sampler="proportional", tasks_per_step=1))
case("shared model, per-task dict x", lambda: fit(M(), {"cls": X, "reg": X}, Y, batch_size=4))
case("shared model, per-task dict x unequal", lambda: fit(M(), {"cls": X, "reg": X[:4]}, {"cls": YC, "reg": YR[:4]}, batch_size=4))
case("fit steps_per_epoch 0 stream", lambda: fit(M(), mk.data.shared_input_dataset(X, Y, batch_size=4), steps_per_epoch=0))
case("fit initial_epoch > epochs", lambda: fit(M(), X, Y, batch_size=4, epochs=1, initial_epoch=5))
case("predict batch_size 0", lambda: M().predict(X, batch_size=0, verbose=0)["reg"].shape)
case("input_shape (0,) fit", lambda: fit(mk.MultiTaskModel(TASKS, body=keras.layers.Dense(4), input_shape=(0,)) , np.ones((8,0),"float32"), Y))
case("tasks_per_step 1 + static weights zero for one", lambda: M(tasks=[mk.Task("cls", num_classes=2, weight=0), mk.Task("reg", kind="regression")]).weighting)
case("save to .h5", lambda: M().save(os.path.join(tempfile.mkdtemp(), "m.h5")))
case("save to no ext", lambda: M().save(os.path.join(tempfile.mkdtemp(), "m")))
case("load_model missing", lambda: mk.saving.load_model(os.path.join(tempfile.mkdtemp(), "nope.keras")))
