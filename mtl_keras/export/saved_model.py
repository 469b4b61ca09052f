"""`export_saved_model`: a `MultiTaskModel` as a versioned SavedModel for TensorFlow Serving."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import keras
import tensorflow as tf

from mtl_keras import _compat
from mtl_keras.export import signatures as signatures_module

#: File (under `<version>/assets.extra/`) describing the export: tasks and signatures.
METADATA_FILE = "mtl_keras_export.json"
#: Version of the layout of the export (signature names, input names, metadata).
FORMAT_VERSION = 1


class VersionExistsError(FileExistsError, ValueError):
    """The version directory of an export already exists (pass `overwrite=True` to replace it)."""


def load_model(path):
    """Loads a `MultiTaskModel` from a `.keras` file, checking the file first (`mtl_keras.saving.load_model`).

    Args:
        path: path of a `.keras` file saved by `model.save(...)`.

    Raises:
        ValueError: the file is missing, empty, truncated or damaged (`mtl_keras.saving.ModelFileError`,
            naming the path and the problem), or holds another kind of model.
    """
    from mtl_keras.model import MultiTaskModel
    from mtl_keras.saving import load_model as load_checked

    path = os.fspath(path)
    model = load_checked(path, compile=False)
    if not isinstance(model, MultiTaskModel):
        raise ValueError(f"'{path}' holds a {type(model).__name__}, not a mtl_keras.MultiTaskModel.")
    return model


def next_version(base_dir):
    """The next free version number under `base_dir`: 1 + the largest integer sub-directory, or 1."""
    base_dir = os.fspath(base_dir)
    if not os.path.isdir(base_dir):
        return 1
    versions = [int(d) for d in os.listdir(base_dir) if d.isdigit() and os.path.isdir(os.path.join(base_dir, d))]
    return max(versions, default=0) + 1


def _check_version(version):
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version.strip())
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(
            "version must be a non-negative integer (TensorFlow Serving reads <base>/<version>/ with an integer "
            f"directory name). Received: version={version!r}"
        )
    return version


def _eager_constants(model):
    """Re-creates constants that layers built inside a traced graph hold, so that they can be saved.

    `MultiTaskModel.build` traces the model symbolically in a scratch graph, so a layer that keeps
    constant tensors made at build time (a `keras.layers.Normalization` given `mean=` and
    `variance=`) holds tensors of that graph, which a SavedModel cannot capture. Such a
    `Normalization` is rebuilt eagerly (same values, no weights); another layer holding graph
    tensors raises a clear error.
    """
    for layer in _compat.flatten_layers(model, include_self=False):
        leaked = sorted(k for k, v in vars(layer).items() if isinstance(v, tf.Tensor) and tf.is_symbolic_tensor(v))
        if not leaked:
            continue
        if isinstance(layer, keras.layers.Normalization) and getattr(layer, "input_mean", None) is not None:
            with tf.init_scope():
                layer.build(layer._build_input_shape)
            continue
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) holds graph tensors in {leaked}, made when it was built "
            "inside a traced function; they cannot be saved. Build that layer eagerly (layer.build(shape)) before "
            "building the model, or keep those values in weights."
        )


def _has_resources(model):
    """Whether a layer of the model holds a TensorFlow resource other than variables (a lookup table)."""
    from tensorflow.saved_model.experimental import TrackableResource

    for layer in _compat.flatten_layers(model, include_self=True):
        for value in vars(layer).values():
            if isinstance(value, TrackableResource) or type(value).__name__.endswith(("Table", "TableV2")):
                return True
    return False


def _spec_dict(spec):
    return {"dtype": spec.dtype.name, "shape": [None if d is None else int(d) for d in spec.shape.as_list()]}


def _describe_function(concrete):
    inputs = {spec.name: _spec_dict(spec) for spec in tf.nest.flatten(concrete.structured_input_signature)}
    outputs = {name: _spec_dict(tensor) for name, tensor in concrete.structured_outputs.items()}
    return {"inputs": inputs, "outputs": outputs}


def export_saved_model(
    model,
    base_dir,
    version=None,
    overwrite=False,
    input_signature=None,
    by_task_id="auto",
    verify=True,
    check_finite=True,
):
    """Exports a `MultiTaskModel` to `<base_dir>/<version>/` as a SavedModel for serving.

    The SavedModel has a `serving_default` signature returning every task's output, one
    `serve_<task>` signature per task and, when the tasks' outputs have the same shape, a
    `serve_by_task_id` signature taking `inputs` and an int32 `task_id` per example (see the table
    in `mtl_keras.export`). Outputs are in the tasks' natural units, as `model.predict` returns them:
    softmax / sigmoid probabilities, regression values in the labels' original units (label
    scaling's inverse and any preprocessing layer of the model are in the graph). The export
    needs only TensorFlow to load (`tf.saved_model.load`, `saved_model_cli`, TensorFlow Serving).

    On the JAX backend the model is exported through a TensorFlow process (it is saved to a
    temporary `.keras` file, which loads on TensorFlow with the same predictions): the SavedModel
    is the one the TensorFlow backend writes.

    The version directory is written to a temporary sibling first and renamed into place, so a
    server watching `base_dir` never sees a half-written version. `assets.extra/mtl_keras_export.json`
    describes the tasks and signatures.

    Args:
        model: a built `mtl_keras.MultiTaskModel`, or the path of a `.keras` file holding one.
        base_dir: the model's base directory (created if needed); versions are its sub-directories.
        version: integer version. Defaults to the next free one (1 + the largest existing, or 1).
        overwrite: replace an existing version directory. Defaults to `False` (raise).
        input_signature: optional override of the input shapes / dtypes the model was built for:
            a shape, `tf.TensorSpec` or `keras.InputSpec` (a dict by task for a multi-input model).
            The batch axis is always free. Input names are always the standard ones.
        by_task_id: `"auto"` (default): add `serve_by_task_id` when possible; `True`: require it;
            `False`: leave it out.
        verify: before serving per-example task ids through one pass of a conditioned body, check
            on a small random batch that it matches the per-task outputs. Defaults to `True`.
        check_finite: every signature fails (an `InvalidArgumentError` naming the signature and the
            input) when a floating input holds NaN or inf, instead of returning finite-looking
            outputs. Defaults to `True`.

    Returns:
        The path of the version directory (a string). A `mtl_keras.pareto.PreferenceModel` is
        exported by `mtl_keras.pareto.export_preference_model` (one signature with a `preference`
        input), so the trade-off is chosen per request.

    Raises:
        ValueError: the model is not a built `MultiTaskModel`, bad arguments, or
            `VersionExistsError` (a `FileExistsError` and `ValueError`) for an existing version.

    Example:

    >>> path = export_saved_model(model, "/models/my_model", version=1)
    >>> served = tf.saved_model.load(path)
    >>> served.signatures["serve_digit"](inputs=tf.constant(x, tf.float32))["digit"]
    """
    from mtl_keras.model import MultiTaskModel

    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    if not isinstance(model, MultiTaskModel):
        raise ValueError(f"export_saved_model exports a mtl_keras.MultiTaskModel. Received: {type(model).__name__}")
    if getattr(model, "takes_preference", False):
        # A preference-conditioned model is served with its trade-off as an input, never at a fixed one.
        from mtl_keras.pareto.export import export_preference_model

        return export_preference_model(model, base_dir, version=version, overwrite=overwrite, input_signature=input_signature)
    if not model.built:
        raise ValueError(
            f"Model '{model.name}' is not built, so its input shape and weights are unknown. Build it first: "
            "MultiTaskModel(..., input_shape=...), model.build(shape), or fit it."
        )
    base_dir = os.fspath(base_dir)
    if os.path.exists(base_dir) and not os.path.isdir(base_dir):
        raise ValueError(f"The export base directory '{base_dir}' exists and is not a directory.")
    version = next_version(base_dir) if version is None else _check_version(version)
    target = os.path.join(base_dir, str(version))
    if os.path.exists(target) and not overwrite:
        raise VersionExistsError(
            f"Version {version} already exists at '{target}'. Pass overwrite=True (--overwrite) to replace it, "
            f"or another version (next free: {next_version(base_dir)})."
        )

    if keras.backend.backend() != "tensorflow":
        options = {"input_signature": input_signature, "by_task_id": by_task_id, "verify": verify, "check_finite": check_finite}
        return _export_in_tensorflow(model, base_dir, version, overwrite, options)

    _eager_constants(model)
    plan = signatures_module.build_signatures(
        model, input_signature=input_signature, by_task_id=by_task_id, verify=verify, check_finite=check_finite
    )
    archive = keras.export.ExportArchive()
    if _has_resources(model):  # lookup tables etc.; variables are tracked from the endpoints
        archive.track(model)
    described = {}
    for name, function in plan.functions.items():
        archive.add_endpoint(name, function)  # already traced with its named input signature
        described[name] = _describe_function(function.get_concrete_function())

    metadata = {
        "format_version": FORMAT_VERSION,
        "model_name": model.name,
        "version": version,
        "per_task_inputs": plan.per_task_inputs,
        "tasks": [
            {"index": i, "name": t.name, "kind": t.kind, "output_units": t.output_units}
            for i, t in enumerate(model.tasks)
        ],
        "signatures": described,
        "by_task_id_mode": plan.by_task_id_mode,
        "by_task_id_note": plan.by_task_id_reason or None,
        "check_finite": bool(check_finite),
    }

    os.makedirs(base_dir, exist_ok=True)
    staging = os.path.join(base_dir, f".{version}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        archive.write_out(staging, verbose=False)
        extra = os.path.join(staging, "assets.extra")
        os.makedirs(extra, exist_ok=True)
        with open(os.path.join(extra, METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=2)
        if os.path.exists(target):  # overwrite=True: move the old version aside, then swap
            old = os.path.join(base_dir, f".{version}.old-{uuid.uuid4().hex[:8]}")
            os.rename(target, old)
            os.rename(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, target)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return target


_EXPORT_CODE = """
import json, sys
from mtl_keras.export.saved_model import export_saved_model
request = json.load(open(sys.argv[1], encoding="utf-8"))
print(export_saved_model(request.pop("model"), request.pop("base_dir"), **request))
"""


def _export_in_tensorflow(model, base_dir, version, overwrite, options):
    """Exports a model of another backend (JAX) through a TensorFlow process: the same SavedModel as on TensorFlow.

    The signatures of an export (per task, by task id, the in-graph checks) are TensorFlow graphs
    around the model. A model trained on JAX is saved to a `.keras` file (which loads on the
    TensorFlow backend with the same predictions) and exported by a Python process running the
    TensorFlow backend (one process holds one Keras backend).
    """
    signature = options["input_signature"]
    if signature is not None:
        try:
            json.dumps(signature)
        except TypeError:
            raise ValueError(
                f"On the {keras.backend.backend()} backend, input_signature must be a shape (or a dict of shapes by "
                f"task), not TensorFlow specs. Received: input_signature={signature!r}"
            ) from None
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "model.keras")
        model.save(path)
        request = os.path.join(scratch, "request.json")
        with open(request, "w", encoding="utf-8") as f:
            json.dump({"model": path, "base_dir": os.fspath(base_dir), "version": version, "overwrite": overwrite, **options}, f)
        env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
        done = subprocess.run([sys.executable, "-c", _EXPORT_CODE, request], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise ValueError(
            f"Exporting model '{model.name}' from the {keras.backend.backend()} backend (through a TensorFlow process) "
            f"failed: {lines[-1] if lines else 'no error message'}"
        )
    return done.stdout.strip().splitlines()[-1]


def read_metadata(export_dir):
    """The description written by `export_saved_model` (tasks, signatures) of a version directory."""
    path = os.path.join(os.fspath(export_dir), "assets.extra", METADATA_FILE)
    if not os.path.isfile(path):
        raise ValueError(
            f"No {METADATA_FILE} under '{export_dir}': not an mtl_keras export (or not a version directory)."
        )
    with open(path, encoding="utf-8") as f:
        return json.load(f)
