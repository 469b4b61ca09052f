"""The one place that picks the backend-specific parts of the training core from `keras.backend.backend()`.

`MultiTaskModel` mixes in the trainer of the running backend (its `train_step`, `test_step` and
`predict_step`) and applies its optimizer through that backend's `SampledUpdates`. Nothing of the
other backends is imported: on JAX no TensorFlow training code loads (TensorFlow still reads the
data: Keras takes `tf.data` on every backend).
"""

import keras

#: The backends a `MultiTaskModel` trains on.
SUPPORTED = ("tensorflow", "jax")


def name():
    """The running Keras backend's name (`"tensorflow"`, `"jax"`, ...)."""
    return keras.backend.backend()


def _check():
    if name() not in SUPPORTED:
        raise NotImplementedError(
            f"MultiTaskModel trains on the {' and '.join(SUPPORTED)} backends, not on the {name()} backend. "
            "Set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax before importing Keras."
        )


def trainer_class():
    """The trainer mixin of the running backend (`TensorFlowTrainer` or `JaxTrainer`)."""
    _check()
    if name() == "jax":
        from mtl_keras.training.jax.trainer import JaxTrainer

        return JaxTrainer
    from mtl_keras.training.tensorflow.trainer import TensorFlowTrainer

    return TensorFlowTrainer


def updates_class():
    """The `SampledUpdates` of the running backend (per-task optimizer copies for sampled steps)."""
    _check()
    if name() == "jax":
        from mtl_keras.training.jax.updates import SampledUpdates

        return SampledUpdates
    from mtl_keras.training.tensorflow.updates import SampledUpdates

    return SampledUpdates


def unavailable(feature, kind=None):
    """The error for a feature that the running backend does not have yet.

    Args:
        feature: what is not available, e.g. `"PCGrad"`.
        kind: what it is, e.g. `"gradient-level weighting"` (shown in brackets).
    """
    what = feature if kind is None else f"{feature} ({kind})"
    return NotImplementedError(
        f"{what} is not available on the {name()} backend yet; use the TensorFlow backend (KERAS_BACKEND=tensorflow)."
    )


def check_compile():
    """Raises for a TensorFlow-only setting on another backend: a `tf.distribute` strategy in scope."""
    if name() == "tensorflow":
        return
    import tensorflow as tf

    if tf.distribute.has_strategy():
        raise NotImplementedError(
            f"tf.distribute strategies ({type(tf.distribute.get_strategy()).__name__}) are not available on the "
            f"{name()} backend; use keras.distribution (e.g. keras.distribution.DataParallel) there, or the "
            "TensorFlow backend (KERAS_BACKEND=tensorflow)."
        )
