"""mtl-keras: multi-task learning for Keras 3 on TensorFlow.

Tasks (`Task`), multi-task data streams (`mtl_keras.data`), the sampling `MultiTaskModel`,
sharing layers (`mtl_keras.layers`), task samplers (`mtl_keras.samplers`), weighting strategies
(`mtl_keras.weighting`) and a zoo of named models (`mtl_keras.zoo`).

`import mtl_keras` loads the core (Keras, the model, the layers, the samplers and the weighting
strategies, so that `.keras` files of the library's models reload with `keras.models.load_model`
and no `custom_objects`). The heavier families are attributes loaded on first use:
`mtl_keras.export`, `mtl_keras.zoo`, `mtl_keras.tuning` (KerasTuner), `mtl_keras.transfer`,
`mtl_keras.evaluation`, `mtl_keras.saving`, `mtl_keras.testing`, `mtl_keras.benchmarks`,
`mtl_keras.diagnostics`.

With the environment variable `MTL_KERAS_DEFER_IMPORTS=1` (the `mtl-keras` command sets it while
it parses its arguments) even the core waits for its first use, and nothing imports TensorFlow
until then; call `mtl_keras.load()` to register the library's classes with Keras.
"""

import importlib as _importlib
import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mtl_keras._lazy import lazy_attributes as _lazy_attributes  # noqa: E402

__version__ = "0.1.0"

#: Environment variable that defers the core's import to its first use (set by the `mtl-keras` command).
DEFER_IMPORTS_VARIABLE = "MTL_KERAS_DEFER_IMPORTS"

_CORE_MODULES = ("callbacks", "data", "distribute", "layers", "samplers", "weighting")
_LAZY_MODULES = ("export", "zoo", "tuning", "transfer", "evaluation", "saving", "testing", "benchmarks", "pareto", "diagnostics")
#: Modules outside the core whose Keras classes must be registered for `.keras` files to reload.
_SERIALIZABLE_MODULES = ("pareto.model",)
_ATTRIBUTES = {"Task": ".task", "MultiTaskModel": ".model"}

__getattr__, __dir__ = _lazy_attributes(__name__, _ATTRIBUTES, _CORE_MODULES + _LAZY_MODULES)


def load():
    """Imports the core of the library, registering its classes for `.keras` (de)serialization.

    `import mtl_keras` does this already unless `MTL_KERAS_DEFER_IMPORTS=1`. Imports TensorFlow.
    """
    for name in _CORE_MODULES + _SERIALIZABLE_MODULES:
        _importlib.import_module(f"{__name__}.{name}")
    for name in _ATTRIBUTES:
        __getattr__(name)


if _os.environ.get(DEFER_IMPORTS_VARIABLE) != "1":
    load()

# `from mtl_keras import *` takes the core only (not KerasTuner, TFDS); dir(mtl_keras) lists everything.
__all__ = ["Task", "MultiTaskModel", "load", *_CORE_MODULES, "__version__"]
