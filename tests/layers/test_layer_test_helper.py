"""The shared `run_layer_test` helper catches broken layers."""

import keras
import pytest

from mtl_keras.testing import run_layer_test


@keras.saving.register_keras_serializable(package="mtl_keras_tests")
class _Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="mtl_keras_tests")
class _ForgetsConfig(_Scale):
    def get_config(self):
        return keras.layers.Layer.get_config(self)


@keras.saving.register_keras_serializable(package="mtl_keras_tests")
class _WrongShape(_Scale):
    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (1,)


@keras.saving.register_keras_serializable(package="mtl_keras_tests")
class _Frozen(_Scale):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", trainable=False)


def test_a_correct_layer_passes():
    layer = run_layer_test(
        _Scale, {"factor": 3.0}, input_shape=(2, 4), expected_output_shape=(2, 4), expected_num_trainable_weights=1, check_registered=True
    )
    assert layer.built


class _Unregistered(_Scale):
    pass


def test_an_argument_missing_from_the_config_fails_the_reload():
    # the config round trip cannot see it (both sides lack `factor`), the reloaded model can
    with pytest.raises(AssertionError, match="Outputs changed after .keras reload"):
        run_layer_test(_ForgetsConfig, {"factor": 3.0}, input_shape=(2, 4))


def test_an_unregistered_class_fails():
    with pytest.raises(AssertionError, match="not registered"):
        run_layer_test(_Unregistered, {}, input_shape=(2, 4))


def test_a_wrong_compute_output_shape_fails():
    with pytest.raises(AssertionError, match="shape"):
        run_layer_test(_WrongShape, {}, input_shape=(2, 4))


def test_wrong_weight_counts_and_untrainable_layers_fail():
    with pytest.raises(AssertionError, match="Expected 2 trainable weights"):
        run_layer_test(_Scale, {}, input_shape=(2, 4), expected_num_trainable_weights=2)
    run_layer_test(_Frozen, {}, input_shape=(2, 4), expected_num_trainable_weights=0, expected_num_non_trainable_weights=1)
