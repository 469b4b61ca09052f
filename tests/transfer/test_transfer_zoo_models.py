import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras import transfer

zoo = pytest.importorskip("mtl_keras.zoo")
SMALL = [name for name in zoo.list_models() if name.endswith("_mlp_small")]


@pytest.mark.parametrize("name", SMALL)
def test_fine_tune_every_small_zoo_model(name):
    tasks = [mk.Task("a", num_classes=3), mk.Task("b", kind="binary")]
    model = zoo.create_model(name, tasks=tasks, input_shape=(6,))
    x = np.random.default_rng(0).normal(size=(16, 6)).astype("float32")
    model.compile("adam")
    model.fit(mk.data.shared_input_dataset(x, {"a": np.arange(16) % 3, "b": np.arange(16) % 2}, batch_size=8), epochs=1, verbose=0)
    data = mk.data.shared_input_dataset(x, {"c": np.arange(16) % 2}, batch_size=8)
    tuned = transfer.fine_tune(
        model, mk.Task("c", num_classes=2), data, epochs=2, decay=2.6, unfreeze="top_down", source_task="b",
        keep_old_heads=True, verbose=0,
    )
    out = tuned.predict(x, verbose=0)
    assert out["c"].shape == (16, 2) and set(out) == {"a", "b", "c"}
    old = model.predict(x, verbose=0)
    assert np.isfinite(out["c"]).all() and old["a"].shape == out["a"].shape
