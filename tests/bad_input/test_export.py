"""Bad input to an exported SavedModel (NaN / inf values) and to `export_saved_model` itself.

A served model given NaN or inf must fail, naming the signature and the input, instead of returning
finite-looking probabilities; checked in-process, in a fresh process that does not import
`mtl_keras`, and with `saved_model_cli run`.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk
from mtl_keras import export

SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


def _tasks():
    return [mk.Task("a", num_classes=3), mk.Task("b", kind="regression", units=3, label_scaling="standard")]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Exports a shared-input model (with serve_by_task_id) and a multi-input model; returns their paths."""
    root = tmp_path_factory.mktemp("nan_exports")
    keras.utils.set_random_seed(1)
    shared = mk.MultiTaskModel(_tasks(), body=keras.Sequential([keras.layers.Dense(4, activation="tanh")]), input_shape=(5,))
    per_task = mk.MultiTaskModel(
        _tasks(), body=keras.Sequential([keras.layers.Dense(4, activation="tanh")]), input_shape={"a": (5,), "b": (5,)}
    )
    return {
        "shared": export.export_saved_model(shared, root / "shared", version=1),
        "per_task": export.export_saved_model(per_task, root / "per_task", version=1),
        "unchecked": export.export_saved_model(shared, root / "unchecked", version=1, check_finite=False),
        "model": shared,
    }


def _bad(value, where=(0, 0), shape=(2, 5)):
    x = np.zeros(shape, np.float32)
    x[where] = value
    return tf.constant(x)


# (signature, keyword inputs, the input the message names, what TensorFlow reports)
NON_FINITE = {
    "default_nan": ("serving_default", lambda: {"inputs": _bad(np.nan)}, "inputs", "Tensor had NaN values"),
    "default_inf": ("serving_default", lambda: {"inputs": _bad(np.inf, (1, 4))}, "inputs", "Tensor had Inf values"),
    "default_minus_inf": ("serving_default", lambda: {"inputs": _bad(-np.inf)}, "inputs", "Tensor had Inf values"),
    "task_a_nan": ("serve_a", lambda: {"inputs": _bad(np.nan)}, "inputs", "Tensor had NaN values"),
    "task_b_inf": ("serve_b", lambda: {"inputs": _bad(np.inf)}, "inputs", "Tensor had Inf values"),
    "by_task_id_nan": (
        "serve_by_task_id",
        lambda: {"inputs": _bad(np.nan, (1, 2)), "task_id": tf.constant([0, 1], tf.int32)},
        "inputs",
        "Tensor had NaN values",
    ),
    "all_nan": ("serving_default", lambda: {"inputs": tf.fill((3, 5), np.nan)}, "inputs", "Tensor had NaN values"),
}


@pytest.mark.parametrize("case", sorted(NON_FINITE))
def test_non_finite_input_fails_naming_signature_and_input(case, served):
    signature, inputs, name, reported = NON_FINITE[case]
    function = tf.saved_model.load(served["shared"]).signatures[signature]
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        function(**inputs())
    message = raised.value.message
    assert f"{signature}: input '{name}' holds NaN or inf" in message and reported in message, message


@pytest.mark.parametrize("task", ["a", "b"])
def test_multi_input_model_names_the_task_input(task, served):
    function = tf.saved_model.load(served["per_task"]).signatures["serving_default"]
    feeds = {"a": _bad(0.0), "b": _bad(0.0)}
    feeds[task] = _bad(np.nan, (1, 3))
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"serving_default: input '{task}' holds NaN or inf"):
        function(**feeds)


def test_finite_inputs_still_serve_predict_outputs(served):
    loaded = tf.saved_model.load(served["shared"])
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    got = loaded.signatures["serving_default"](inputs=tf.constant(x))
    want = served["model"].predict(x, verbose=0)
    for task in ("a", "b"):
        np.testing.assert_allclose(got[task].numpy(), want[task], rtol=1e-5, atol=1e-5)
    assert export.read_metadata(served["shared"])["check_finite"] is True


def test_check_finite_false_opts_out(served):
    loaded = tf.saved_model.load(served["unchecked"])
    out = loaded.signatures["serve_a"](inputs=tf.fill((2, 5), np.nan))["a"].numpy()
    assert np.isnan(out).all(), "without the check NaN flows through (the old behaviour, on request only)"
    assert export.read_metadata(served["unchecked"])["check_finite"] is False


CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    loaded = tf.saved_model.load(sys.argv[1])
    messages = {}
    for signature in ("serving_default", "serve_a", "serve_b", "serve_by_task_id"):
        feeds = {"inputs": tf.constant(np.full((2, 5), np.nan, np.float32))}
        if signature == "serve_by_task_id":
            feeds["task_id"] = tf.constant([1, 0], tf.int32)
        try:
            out = loaded.signatures[signature](**feeds)
            messages[signature] = "NO ERROR: " + str({k: v.numpy().tolist() for k, v in out.items()})
        except tf.errors.InvalidArgumentError as error:
            messages[signature] = error.message
    print("CHILD", "mtl_keras" in sys.modules, json.dumps(messages))
    """
)


@pytest.mark.slow
def test_reloaded_without_the_package_refuses_all_nan_input(served, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.run(
        [sys.executable, "-I", str(script), served["shared"]],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(tmp_path),
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ""},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported, messages = proc.stdout.split("CHILD ", 1)[1].split(" ", 1)
    assert imported == "False"
    for signature, message in json.loads(messages).items():
        assert f"{signature}: input 'inputs' holds NaN or inf" in message and "Tensor had NaN values" in message, message


@pytest.mark.slow
def test_saved_model_cli_run_refuses_nan_input(served, tmp_path):
    np.save(tmp_path / "x.npy", np.full((2, 5), np.nan, np.float32))
    proc = subprocess.run(
        [
            SAVED_MODEL_CLI, "run", "--dir", served["shared"], "--tag_set", "serve", "--signature_def", "serve_a",
            "--inputs", f"inputs={tmp_path / 'x.npy'}", "--outdir", str(tmp_path / "out"),
        ],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    assert proc.returncode != 0 and not (tmp_path / "out" / "a.npy").exists()
    assert "serve_a: input 'inputs' holds NaN or inf" in proc.stderr and "Tensor had NaN values" in proc.stderr


# ---------------------------------------------------------------------------- bad export arguments
def _small_model():
    return mk.MultiTaskModel(_tasks(), body=keras.Sequential([keras.layers.Dense(4)]), input_shape=(5,))


EXPORT_ARGUMENTS = {
    "version_negative": ({"version": -1}, ValueError, "Received: version=-1"),
    "version_text": ({"version": "v2"}, ValueError, "Received: version='v2'"),
    "version_bool": ({"version": True}, ValueError, "Received: version=True"),
    "version_fraction": ({"version": 1.5}, ValueError, "Received: version=1.5"),
    "by_task_id_unknown": ({"by_task_id": "maybe"}, ValueError, "Received: by_task_id='maybe'"),
    "input_signature_garbage": ({"input_signature": "abc"}, ValueError, "Cannot make an input spec for 'inputs' from 'abc'"),
}


@pytest.mark.parametrize("case", sorted(EXPORT_ARGUMENTS))
def test_bad_export_argument_names_it(case, tmp_path):
    kwargs, error, message = EXPORT_ARGUMENTS[case]
    with pytest.raises(error) as raised:
        export.export_saved_model(_small_model(), tmp_path / "served", **kwargs)
    assert message in str(raised.value)
    assert not any(name.isdigit() for name in os.listdir(tmp_path / "served")) if (tmp_path / "served").exists() else True


def test_export_of_other_objects_names_them(tmp_path):
    with pytest.raises(ValueError, match="exports a mtl_keras.MultiTaskModel. Received: Sequential"):
        export.export_saved_model(keras.Sequential([keras.layers.Dense(1)]), tmp_path / "a")
    unbuilt = mk.MultiTaskModel(_tasks(), body=keras.Sequential([keras.layers.Dense(4)]), name="unbuilt_model")
    with pytest.raises(ValueError, match="Model 'unbuilt_model' is not built"):
        export.export_saved_model(unbuilt, tmp_path / "b")
    (tmp_path / "plain.keras").write_bytes(b"")
    with pytest.raises(ValueError, match=r"'.*plain.keras' is empty \(0 bytes\)"):
        export.export_saved_model(tmp_path / "plain.keras", tmp_path / "c")
