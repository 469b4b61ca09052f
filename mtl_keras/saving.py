"""Checked loading of saved models and weights: a clear error for a missing, empty, truncated or foreign file.

`keras.models.load_model` says "File not found" for a `.keras` file that exists but is empty,
truncated or not a zip archive, and `load_weights` from another model fails deep inside HDF5 or
with a shape error that names no variable. Here:

- `check_model_file(path)` checks a `.keras` file without loading it (no TensorFlow needed): it
  exists, is a file, is not empty, is a complete zip archive (not truncated, every entry passes its
  CRC check) holding Keras's `config.json` (valid JSON) and `model.weights.h5` (an HDF5 file);
- `load_model(path, **kwargs)` runs that check, registers the library's classes and calls
  `keras.models.load_model(path, **kwargs)`;
- `check_weights_match(model, path)` compares the variables stored in a `.weights.h5` or `.keras`
  file with a model's and names the first one that differs (its path in the model, the expected
  and the found shape).

Every error names the file and what is wrong with it. `ModelFileError` (a `ValueError`) is raised
for a file that exists but cannot be loaded; `ModelFileNotFoundError` (a `FileNotFoundError` and a
`ValueError`) for a missing one.

Example:

>>> from mtl_keras import saving
>>> model = saving.load_model("model.keras")
>>> saving.check_weights_match(other_model, "model.keras")   # ValueError naming the first mismatch
"""

import json
import os
import shutil
import tempfile
import zipfile
import zlib

#: The entries of a `.keras` zip archive that `keras.models.load_model` reads.
KERAS_ENTRIES = ("config.json", "model.weights.h5")
#: The first bytes of every HDF5 file.
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: The first bytes of a zip archive (a local file header).
ZIP_SIGNATURE = b"PK\x03\x04"
_LEGACY_H5 = (".h5", ".hdf5")


class ModelFileError(ValueError):
    """A saved model or weights file exists but cannot be loaded: empty, truncated, corrupt or of another kind."""


class ModelFileNotFoundError(FileNotFoundError, ValueError):
    """No file at the path of a saved model or weights file."""


def _describe_size(size):
    return f"{size:,} bytes"


def _check_exists(path, what):
    if not os.path.lexists(path):
        folder = os.path.dirname(os.path.abspath(path))
        where = "" if os.path.isdir(folder) else f" (the folder '{folder}' does not exist either)"
        raise ModelFileNotFoundError(f"No {what} at '{path}'{where}.")
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise ModelFileError(
                f"'{path}' is a SavedModel directory (an export for serving), not a {what}. Load it with "
                "tf.saved_model.load(path) or keras.layers.TFSMLayer(path, call_endpoint='serving_default')."
            )
        raise ModelFileError(f"'{path}' is a directory, not a {what}.")
    if not os.path.isfile(path):
        raise ModelFileError(f"'{path}' is not a regular file (a {what} is expected).")
    if not os.access(path, os.R_OK):
        raise ModelFileError(f"'{path}' is not readable (check its permissions).")
    size = os.path.getsize(path)
    if size == 0:
        raise ModelFileError(f"'{path}' is empty (0 bytes): the save did not complete. Save the model again.")
    return size


def _first_bytes(path, count=8):
    with open(path, "rb") as f:
        return f.read(count)


def _check_hdf5(path, what, size):
    head = _first_bytes(path)
    if head != HDF5_SIGNATURE:
        raise ModelFileError(
            f"'{path}' ({_describe_size(size)}) is not an HDF5 file, so not a {what} (it starts with {head!r}; an "
            f"HDF5 file starts with {HDF5_SIGNATURE!r})."
        )


def check_model_file(path):
    """Checks that `path` is a complete saved Keras model, without loading it; returns the path.

    A `.keras` file must be a complete zip archive (not truncated; every entry passes its CRC
    check) holding `config.json` (valid JSON) and `model.weights.h5` (an HDF5 file). A legacy
    `.h5` / `.hdf5` model must start with the HDF5 signature. Needs neither TensorFlow nor Keras,
    so a command line can check its arguments before importing them.

    Args:
        path: the file (a string or path-like).

    Returns:
        The path, as a string.

    Raises:
        ModelFileNotFoundError: no file at `path`.
        ModelFileError: the file exists but is a directory, empty, truncated, corrupt, weights
            only, or not a Keras model; the message names the path and the problem.

    Example:

    >>> check_model_file("empty.keras")
    ModelFileError: 'empty.keras' is empty (0 bytes): the save did not complete. Save the model again.
    """
    path = os.fspath(path)
    size = _check_exists(path, "model file")
    lower = path.lower()
    if lower.endswith(".weights.h5"):
        raise ModelFileError(
            f"'{path}' holds weights only (a .weights.h5 file), not a model. Build the model in code and call "
            "model.load_weights(path), or load a .keras file saved with model.save(...)."
        )
    if lower.endswith(_LEGACY_H5):
        _check_hdf5(path, "legacy Keras .h5 model", size)
        return path
    if not lower.endswith(".keras"):
        extension = os.path.splitext(path)[1] or "no extension"
        raise ModelFileError(
            f"'{path}' has {extension!r} as its extension; keras.models.load_model reads .keras files "
            "(model.save('model.keras')) and legacy .h5 files."
        )
    _check_keras_archive(path, size)
    return path


def _check_keras_archive(path, size):
    head = _first_bytes(path, 4)
    if not zipfile.is_zipfile(path):
        if head == ZIP_SIGNATURE:
            raise ModelFileError(
                f"'{path}' is truncated ({_describe_size(size)}; the end of its zip archive is missing): the save or "
                "the copy did not complete. Save or copy the model again."
            )
        if _first_bytes(path) == HDF5_SIGNATURE:
            raise ModelFileError(
                f"'{path}' is an HDF5 file, not a .keras zip archive: rename it to .h5 if it is a legacy Keras model, "
                "or load it with model.load_weights(...) if it holds weights only."
            )
        raise ModelFileError(
            f"'{path}' ({_describe_size(size)}) is not a zip archive, so not a .keras file (it starts with {head!r}; "
            "a .keras file is a zip holding config.json and model.weights.h5)."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            missing = [entry for entry in KERAS_ENTRIES if entry not in names]
            if missing:
                raise ModelFileError(
                    f"'{path}' is a zip archive but not a Keras model: it lacks {', '.join(missing)} "
                    f"(it holds {', '.join(names[:6]) or 'nothing'}{', ...' if len(names) > 6 else ''})."
                )
            bad = archive.testzip()
            if bad is not None:
                raise ModelFileError(f"'{path}' is corrupt: its entry '{bad}' fails the zip CRC check.")
            try:
                config = json.loads(archive.read("config.json").decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                raise ModelFileError(f"'{path}' is corrupt: its config.json is not valid JSON ({error}).") from None
            if not isinstance(config, dict) or "class_name" not in config:
                raise ModelFileError(f"'{path}' is not a Keras model: its config.json has no 'class_name'.")
            with archive.open("model.weights.h5") as weights:
                if weights.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
                    raise ModelFileError(f"'{path}' is corrupt: its model.weights.h5 is not an HDF5 file.")
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
        raise ModelFileError(f"'{path}' is a damaged zip archive ({error}): save or copy the model again.") from None


def _registered_names(path):
    """The `mtl_keras>...` class names a `.keras` file's config refers to."""
    if not path.lower().endswith(".keras"):
        return set()
    with zipfile.ZipFile(path) as archive:
        text = archive.read("config.json").decode("utf-8")
    found, start = set(), 0
    while (start := text.find('"mtl_keras>', start)) >= 0:
        end = text.find('"', start + 1)
        found.add(text[start + 1 : end])
        start = end
    return found


def load_model(path, **kwargs):
    """`keras.models.load_model(path, **kwargs)` after checking the file and registering the library's classes.

    The file is checked first (`check_model_file`), so an empty, truncated or foreign file raises
    an error that says so, instead of Keras's "File not found". The library's classes (model,
    layers, weighting strategies, samplers, and the transfer-learning layers when the file uses
    them) are registered, so no `custom_objects` are needed.

    Args:
        path: a `.keras` file (or a legacy `.h5` model).
        **kwargs: arguments of `keras.models.load_model` (`compile`, `safe_mode`, `custom_objects`).

    Returns:
        The model.

    Raises:
        ModelFileNotFoundError, ModelFileError: see `check_model_file`; also a `ModelFileError`
            naming the file when Keras cannot rebuild the model from it.

    Example:

    >>> model = load_model("model.keras", compile=False)
    """
    path = check_model_file(path)
    import keras

    import mtl_keras

    mtl_keras.load()
    known = keras.saving.get_custom_objects()
    if any(name not in known for name in _registered_names(path)):
        import mtl_keras.transfer  # noqa: F401 - registers TaskRemap, StackedHeads, ...
    try:
        return keras.models.load_model(path, **kwargs)
    except (TypeError, ValueError, KeyError) as error:
        raise ModelFileError(f"Cannot rebuild the model saved in '{path}': {error}") from error


# ---------------------------------------------------------------------------- weights
def _stored_variables(h5_file):
    """`{path: shape}` of every variable stored in a Keras weights file, in file order."""
    import h5py

    found = {}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            found[name] = tuple(int(d) for d in item.shape)

    h5_file.visititems(visit)
    return found


def _owner_names(h5_file, path):
    """The layer names along a stored variable's path (from each group's `vars` attribute `name`)."""
    parts = path.split("/")[:-2]  # drop "vars/<index>"
    names = []
    for depth in range(len(parts) + 1):
        group = "/".join(parts[:depth] + ["vars"])
        if group in h5_file:
            name = h5_file[group].attrs.get("name")
            if name is not None:
                names.append(name.decode() if isinstance(name, bytes) else str(name))
    return names


def _variable_name(model, owners, index, shape):
    """The model's variable path for a stored variable, when it can be matched by owner, index and shape."""
    prefix = "/".join(owners) + "/"
    own = [v for v in model.weights if v.path.startswith(prefix) and "/" not in v.path[len(prefix) :]]
    if index < len(own) and tuple(own[index].shape) == tuple(shape):
        return own[index].path
    return None


def _describe_variable(model, h5_file, path, shape):
    owners = _owner_names(h5_file, path)
    index = path.rsplit("/", 1)[-1]
    name = _variable_name(model, owners, int(index), shape) if index.isdigit() and owners else None
    return f"'{path}'" + (f" (variable '{name}')" if name else "")


def _open_weights(path, workdir):
    """An open `h5py.File` of the weights in a `.weights.h5` or `.keras` file (extracted to `workdir`)."""
    import h5py

    path = os.fspath(path)
    size = _check_exists(path, "weights file")
    if path.lower().endswith(".keras"):
        check_model_file(path)
        with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as source:
            extracted = os.path.join(workdir, "stored.weights.h5")
            with open(extracted, "wb") as target:
                shutil.copyfileobj(source, target)
        return h5py.File(extracted, "r")
    _check_hdf5(path, "Keras weights file", size)
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise ModelFileError(f"'{path}' is a damaged HDF5 file ({error}): save the weights again.") from None


def check_weights_match(model, path):
    """Checks that the weights stored in `path` fit `model` variable by variable; raises naming the first misfit.

    The model's own weights layout is written to a temporary file (`model.save_weights`) and
    compared with the file's: the same variables, at the same paths, with the same shapes. Use it
    before `model.load_weights(path)` for a clear error when the file was saved from another model.

    Args:
        model: a built Keras model (e.g. a `mtl_keras.MultiTaskModel`).
        path: a `.weights.h5` file (`model.save_weights`) or a `.keras` file (`model.save`). Other
            files (legacy `.h5` weights, sharded `.weights.json`) are not checked.

    Raises:
        ValueError: the first mismatching variable, named by its path in the file (and the model's
            variable path when it can be matched), with the expected and the found shape; or a
            variable one side has and the other lacks. `ModelFileError` /
            `ModelFileNotFoundError` when the file itself is missing or damaged.

    Example:

    >>> check_weights_match(model, "other.weights.h5")
    ValueError: 'other.weights.h5' does not fit model 'film_mlp': variable 'heads/towers/sequential/layers/dense/vars/0'
    (variable 'film_mlp/heads/head0/output/kernel'): the model expects shape (8, 3), the file holds shape (8, 10).
    """
    import h5py

    lower = os.fspath(path).lower()
    if not (lower.endswith(".keras") or lower.endswith(".weights.h5")):
        return  # legacy .h5 or sharded .weights.json: another layout, left to Keras
    if not getattr(model, "built", False):
        raise ValueError(
            f"Model '{getattr(model, 'name', model)}' is not built, so its weights are unknown: build it "
            "(input_shape=..., model.build(shape) or one call) before checking weights. Received: model.built=False"
        )
    path = os.fspath(path)
    workdir = tempfile.mkdtemp(prefix="mtl_keras_weights_")
    try:
        expected_file = os.path.join(workdir, "expected.weights.h5")
        model.save_weights(expected_file)
        with h5py.File(expected_file, "r") as expected_h5, _open_weights(path, workdir) as stored_h5:
            expected = _stored_variables(expected_h5)
            stored = _stored_variables(stored_h5)
            where = f"'{path}' does not fit model '{model.name}'"
            for name, shape in expected.items():
                if name not in stored:
                    described = _describe_variable(model, expected_h5, name, shape)
                    raise ValueError(
                        f"{where}: the model has variable {described} of shape {shape}, the file has no variable "
                        f"there (it holds {len(stored)} variables, the model {len(expected)}). Was it saved from "
                        "another model?"
                    )
                if stored[name] != shape:
                    described = _describe_variable(model, expected_h5, name, shape)
                    raise ValueError(
                        f"{where}: variable {described}: the model expects shape {shape}, the file holds shape "
                        f"{stored[name]}."
                    )
            extra = [name for name in stored if name not in expected]
            if extra:
                raise ValueError(
                    f"{where}: the file holds variable '{extra[0]}' of shape {stored[extra[0]]}, which the model "
                    f"does not have ({len(extra)} such variables; the file holds {len(stored)}, the model "
                    f"{len(expected)}). Was it saved from another model?"
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
