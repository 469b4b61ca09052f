"""Test helpers shared by the layers and models of mtl-keras."""

from mtl_keras.testing.layer_test import run_layer_test

__all__ = ["run_layer_test"]
