"""`export_preference_model`: a `PreferenceModel` as a SavedModel whose signature takes the trade-off per request.

The export has one signature, `serving_default`, with inputs

| input        | dtype   | shape                     |
|--------------|---------|---------------------------|
| `inputs`     | float32 | `(batch,) + input shape`  |
| `preference` | float32 | `(batch, T)`, task order  |

and one output per task (named by the task, as `model.predict` gives it). Each row of `preference`
is checked in the graph: finite, non-negative, summing to 1 within `tolerance`, one row per example;
a bad row fails with an `InvalidArgumentError` whose message starts with `preference:`. The export
needs only TensorFlow (`tf.saved_model.load`, `saved_model_cli run`, TensorFlow Serving).

Example:

>>> path = export_preference_model(model, "/models/front", version=1)
>>> served = tf.saved_model.load(path)
>>> served.signatures["serving_default"](inputs=x, preference=tf.constant([[0.7, 0.3]] * len(x)))
"""

import json
import os
import shutil

import keras
import tensorflow as tf

from mtl_keras.export import saved_model as saved_model_module
from mtl_keras.export import signatures as signatures_module
from mtl_keras.pareto.simplex import SUM_TOLERANCE

#: Name of the preference input of the signature.
PREFERENCE_NAME = "preference"


def checked_preference(preference, inputs, num_tasks, tolerance=SUM_TOLERANCE):
    """`preference` `(batch, T)` after in-graph checks (finite, `>= 0`, rows summing to 1, one per example)."""
    preference = tf.ensure_shape(preference, [None, num_tasks])
    preference = tf.debugging.check_numerics(preference, "preference: holds NaN or inf; every weight must be finite")
    batch = tf.shape(tf.nest.flatten(inputs)[0])[0]
    sums = tf.reduce_sum(preference, axis=-1)
    checks = [
        tf.debugging.assert_equal(
            tf.shape(preference)[0], batch, message="preference: needs one row per example (same batch size as inputs)"
        ),
        tf.debugging.assert_non_negative(preference, message="preference: weights must be non-negative"),
        tf.debugging.assert_less_equal(
            tf.abs(sums - 1.0), tf.constant(tolerance, tf.float32),
            message=f"preference: each row must sum to 1 (tolerance {tolerance:g}); row sums are",
            summarize=8,
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(preference)


def export_preference_model(model, base_dir, version=None, overwrite=False, input_signature=None, tolerance=SUM_TOLERANCE):
    """Exports a `PreferenceModel` to `<base_dir>/<version>/` with a `preference` input.

    Args:
        model: a built `mtl_keras.pareto.PreferenceModel` (or the path of a `.keras` file holding one).
        base_dir: the base directory (TensorFlow Serving layout); created if needed.
        version: integer version; defaults to the next free one.
        overwrite: replace an existing version. Defaults to `False` (raise).
        input_signature: optional input shape / `tf.TensorSpec` overriding the model's build shape.
        tolerance: allowed gap between a preference row's sum and 1.

    Returns:
        The path of the version directory.
    """
    from mtl_keras.pareto.model import PreferenceModel

    if isinstance(model, (str, os.PathLike)):
        model = saved_model_module.load_model(model)
    if not isinstance(model, PreferenceModel):
        raise ValueError(f"export_preference_model exports a mtl_keras.pareto.PreferenceModel. Received: {type(model).__name__}")
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built: build it (input_shape=...) or fit it before exporting.")
    base_dir = os.fspath(base_dir)
    version = saved_model_module.next_version(base_dir) if version is None else saved_model_module._check_version(version)
    target = os.path.join(base_dir, str(version))
    if os.path.exists(target) and not overwrite:
        raise saved_model_module.VersionExistsError(
            f"Version {version} already exists at '{target}'. Pass overwrite=True to replace it."
        )
    spec, per_task = signatures_module.input_specs(model, input_signature)
    if per_task:
        raise ValueError("A PreferenceModel takes one shared input; multi-input models cannot be exported with a preference.")
    num_tasks = len(model.tasks)
    preference_spec = tf.TensorSpec((None, num_tasks), tf.float32, name=PREFERENCE_NAME)

    @tf.function(input_signature=[spec, preference_spec])
    def serving_default(inputs, preference):
        inputs = signatures_module.check_inputs(inputs, spec, "serving_default")
        preference = checked_preference(preference, inputs, num_tasks, tolerance)
        outputs = model(inputs, preference=preference, training=False)
        return {name: tf.cast(outputs[name], tf.float32) for name in model.task_names}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serving_default)
    if os.path.exists(target):
        shutil.rmtree(target)
    os.makedirs(base_dir, exist_ok=True)
    archive.write_out(target, verbose=False)
    extra = os.path.join(target, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    with open(os.path.join(extra, saved_model_module.METADATA_FILE), "w", encoding="utf-8") as f:
        json.dump(
            {
                "format_version": 1,
                "kind": "preference",
                "model_name": model.name,
                "version": version,
                "tasks": [{"index": i, "name": t.name, "kind": t.kind} for i, t in enumerate(model.tasks)],
                "signatures": {"serving_default": {"inputs": ["inputs", PREFERENCE_NAME], "outputs": model.task_names}},
                "preference_input": {"name": PREFERENCE_NAME, "shape": [None, num_tasks], "order": model.task_names},
                "tolerance": tolerance,
            },
            f,
            indent=2,
        )
    return target
