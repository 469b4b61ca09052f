"""Tiny pre-trained models shared by the transfer tests."""

import keras
import pytest
from transfer_helpers import features, source_labels, trunk

import mtl_keras as mk


@pytest.fixture
def pretrained():
    """A two-layer trunk trained for a few steps on three source tasks."""
    x, z = features(256, 1)
    labels = source_labels(z)
    model = mk.MultiTaskModel([mk.Task(k, num_classes=2) for k in labels], body=trunk(), input_shape=(12,))
    model.compile(keras.optimizers.Adam(3e-3))
    model.fit(mk.data.shared_input_dataset(x, labels, batch_size=64), epochs=2, verbose=0)
    return model


@pytest.fixture
def target_data():
    x, z = features(32, 2)
    return x, {"t": (z[:, 0] - z[:, 2] > 0).astype("int32")}
