"""mtl-keras: multi-task learning for Keras 3 on TensorFlow.

Tasks (`Task`), multi-task data streams (`mtl_keras.data`), the sampling `MultiTaskModel`,
sharing layers (`mtl_keras.layers`), task samplers (`mtl_keras.samplers`), weighting strategies
(`mtl_keras.weighting`) and a zoo of named models (`mtl_keras.zoo`).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mtl_keras import callbacks, data, distribute, layers, samplers, weighting  # noqa: E402
from mtl_keras.model import MultiTaskModel  # noqa: E402
from mtl_keras.task import Task  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Task", "MultiTaskModel", "callbacks", "data", "distribute", "layers", "samplers", "weighting", "__version__"]
