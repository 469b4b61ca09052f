"""Lazy attributes of a package (PEP 562): a name is imported the first time it is used.

A package that would otherwise import TensorFlow, KerasTuner or TFDS at import time lists its
public names with the module that defines each; `import package` then costs nothing, and
`package.name` (or `from package import name`) imports the defining module once.
"""

import importlib


def lazy_attributes(package, attributes, submodules=()):
    """`(__getattr__, __dir__)` for a package's module namespace.

    Args:
        package: the package's `__name__`.
        attributes: dict `{public name: module}`; the name is looked up in that module
            (a relative module such as `".saved_model"` is resolved against `package`).
        submodules: names of sub-modules (or sub-packages) that are attributes of the package.

    Returns:
        Two functions to assign to the package's `__getattr__` and `__dir__`.

    Example:

    >>> __getattr__, __dir__ = lazy_attributes(__name__, {"export_saved_model": ".saved_model"}, ("cli",))
    """
    attributes = dict(attributes)
    submodules = tuple(submodules)

    def __getattr__(name):
        if name in attributes:
            module = importlib.import_module(attributes[name], package)
            value = getattr(module, name)
        elif name in submodules:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        namespace = importlib.import_module(package).__dict__
        namespace[name] = value  # later look-ups skip __getattr__
        return value

    def __dir__():
        namespace = importlib.import_module(package).__dict__
        return sorted(set(namespace) | set(attributes) | set(submodules))

    return __getattr__, __dir__
