"""Tiny data and trunks for the transfer tests."""

import keras
import numpy as np

W = np.random.default_rng(0).normal(size=(12, 4))


def features(n, seed):
    x = np.random.default_rng(seed).normal(size=(n, 12)).astype("float32")
    return x, x @ W


def source_labels(z):
    return {f"s{i}": (z[:, i] > 0).astype("int32") for i in range(3)}


def trunk():
    return keras.Sequential(
        [keras.layers.Dense(16, activation="relu", name="d1"), keras.layers.Dense(16, activation="relu", name="d2")],
        name="trunk",
    )
