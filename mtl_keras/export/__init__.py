"""Export a `MultiTaskModel` to a SavedModel for TensorFlow Serving, with a signature per task.

`export_saved_model(model, base_dir, version=None, overwrite=False)` writes
`<base_dir>/<version>/` (the layout TensorFlow Serving watches). The export holds only
TensorFlow graphs and variables: it loads with `tf.saved_model.load` where `mtl_keras` (and
Keras) are not installed, and `saved_model_cli show --all` / `saved_model_cli run` work on it.
Outputs are those of `model.predict`: softmax probabilities (classification), sigmoid
probabilities (binary), original units (regression, label scaling's inverse included); any
preprocessing layer inside the model (e.g. `Normalization`) is in the graph.

Signatures (stable; `T` tasks, task `i` named `<task>`, batch axis always free):

| signature          | inputs                                             | outputs                           | present                  |
|--------------------|----------------------------------------------------|-----------------------------------|--------------------------|
| `serving_default`  | `inputs` (shared input) or one `<task>` per task   | `<task>` for every task           | always                   |
|                    | (multi-input model)                                |                                   |                          |
| `serve_<task>`     | `inputs`                                           | `<task>`                          | always, one per task     |
| `serve_by_task_id` | `inputs`, `task_id` (int32, shape `(batch,)`)      | `outputs`: row `j` is task        | all tasks' outputs have  |
|                    |                                                    | `task_id[j]`'s output for row `j` | the same shape (and, for |
|                    |                                                    |                                   | a multi-input model, the |
|                    |                                                    |                                   | same input spec)         |

- `inputs` has dtype `float32` (unless `input_signature=` says otherwise) and shape
  `(batch,) + the model's input shape`. A model whose shared input is a dict of features takes
  one input per feature, named by its key, instead of `inputs` (a list: `inputs_0`, `inputs_1`, ...).
- Outputs are `float32`, shaped `(batch, units)` (`units` = classes for classification).
- `serve_<task>` computes task `<task>` only; for a task-conditioned body (concat / FiLM / additive /
  multiplicative / shared-with-task-id) the task is fixed by the signature, no task id is needed.
- `serve_by_task_id` routes each example to its task: for a body that takes per-example task ids
  (the conditioning layers) one pass of the body conditioned on `task_id`; otherwise every task
  is computed and each example's row is picked by its id. Task ids follow the model's task order
  (`model.task_names`), listed in `assets.extra/mtl_keras_export.json`.
- Errors at serving time: a wrong dtype or shape is rejected by the signature; a `task_id` out of
  `[0, T)` or of a length other than the batch fails an in-graph check naming the signature, the
  valid range and the tasks (`InvalidArgumentError`); a NaN or inf in a floating input fails with
  `<signature>: input '<name>' holds NaN or inf` (unless exported with `check_finite=False`).

Example:

>>> from mtl_keras.export import export_saved_model
>>> path = export_saved_model(model, "/models/attributes", version=1)
>>> served = tf.saved_model.load(path)
>>> served.signatures["serve_age"](inputs=tf.constant(x, tf.float32))["age"]
>>> served.signatures["serve_by_task_id"](inputs=x, task_id=tf.constant([0, 1], tf.int32))["outputs"]

The `mtl-keras export MODEL.keras BASE_DIR [--version N] [--overwrite]` command is
`mtl_keras.export.cli`.
"""

from mtl_keras._lazy import lazy_attributes

# Loaded on first use, so that `mtl-keras export --help` (and `import mtl_keras`) do not import TensorFlow.
_SAVED_MODEL = ("METADATA_FILE", "VersionExistsError", "export_saved_model", "load_model", "next_version", "read_metadata")
_SIGNATURES = (
    "BY_TASK_ID",
    "BY_TASK_ID_OUTPUT",
    "DEFAULT",
    "INPUT_NAME",
    "TASK_ID_NAME",
    "build_signatures",
    "input_specs",
    "task_signature_name",
)
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {**dict.fromkeys(_SAVED_MODEL, ".saved_model"), **dict.fromkeys(_SIGNATURES, ".signatures")},
    ("cli", "saved_model", "signatures"),
)

__all__ = sorted(_SAVED_MODEL + _SIGNATURES)
