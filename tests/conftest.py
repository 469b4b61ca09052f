"""Shared pytest set-up: quiet TensorFlow, two logical CPUs (for MirroredStrategy tests), markers."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Property tests (tests/properties): few examples, no per-example deadline (the first call of a
# TensorFlow function traces it), and derandomized so that CI runs the same examples every time.
# `HYPOTHESIS_PROFILE=explore` draws more, random examples when hunting for counter-examples.
settings.register_profile(
    "ci", max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Two logical CPU devices so `tf.distribute.MirroredStrategy` tests run on one CPU machine. This must
# happen before TensorFlow initialises its devices, i.e. before any test touches a tensor.
_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:  # devices already initialised (e.g. by a plugin); distribution tests will skip
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a slower test (multi-process, many steps); still run in CI")
    config.addinivalue_line("markers", "jax: runs mtl-keras on the JAX backend (in subprocesses); skipped without jax")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from a cleared Keras session with a fixed seed."""
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture(scope="session")
def mirrored_strategy():
    """One two-replica MirroredStrategy for the whole session.

    Several MirroredStrategy objects in one process can issue collectives with clashing instance
    keys (TensorFlow numbers them per strategy), which shows up as a shape mismatch between
    replicas; tests share this one instead.
    """
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        pytest.skip("needs two logical CPU devices")
    return tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
