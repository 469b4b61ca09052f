"""Shared helpers of the bad-input tests."""

import pytest


@pytest.fixture(scope="session")
def keras_file(tmp_path_factory):
    """A small valid `.keras` file of a `MultiTaskModel` (two tasks `a`, `b`; input width 5)."""
    import keras

    import mtl_keras as mk

    tasks = [mk.Task("a", num_classes=3), mk.Task("b", kind="regression")]
    model = mk.MultiTaskModel(tasks, body=keras.Sequential([keras.layers.Dense(4)]), input_shape=(5,))
    path = tmp_path_factory.mktemp("keras_file") / "model.keras"
    model.save(path)
    return path
