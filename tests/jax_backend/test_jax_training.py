"""mtl-keras on the JAX backend: the same runs as on TensorFlow, number for number.

One process has one Keras backend, so `_cases.py` runs the cases under `KERAS_BACKEND=jax` and
`KERAS_BACKEND=tensorflow` in two subprocesses (side by side) and the tests compare their numbers:
the weights after a few SGD / Adam steps, the logs, evaluation, predictions, and `.keras` files
saved on one backend and loaded on the other.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = [
    pytest.mark.jax,
    pytest.mark.xdist_group("jax"),  # one worker runs the module, so its subprocess runs happen once
    pytest.mark.slow,  # two subprocesses per backend, about a minute together
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed (pip install -e '.[jax]')"),
]

SCRIPT = Path(__file__).with_name("_cases.py")
BACKENDS = ("jax", "tensorflow")
TRAINING = (
    "shared_stream",
    "multi_input_sampled",
    "arrays_sampled",
    "evaluate_arrays",
    "loss_level",
    "gradient_level",
    "zoo_models",
    "unavailable",
    "save",
    "export",
)


def _run(directory, cases, suffix=""):
    """Runs `cases` on both backends at once; returns `{backend: {case: result}}`."""
    processes = {
        backend: subprocess.Popen(
            [sys.executable, str(SCRIPT), str(directory), *cases],
            env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for backend in BACKENDS
    }
    for backend, process in processes.items():
        _, err = process.communicate(timeout=900)
        assert process.returncode == 0, f"{backend} run failed:\n{err[-4000:]}"
    return {backend: json.loads((directory / f"{backend}{suffix}.json").read_text()) for backend in BACKENDS}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("backends")
    trained = _run(directory, TRAINING)
    loaded = _run(directory, ["load"], suffix="_load")
    return trained, loaded


def _assert_same_training(jax_run, tf_run):
    assert jax_run["iterations"] == tf_run["iterations"] > 0
    assert jax_run["task_steps"] == tf_run["task_steps"]
    assert jax_run["weights"].keys() == tf_run["weights"].keys()
    for path, values in jax_run["weights"].items():
        np.testing.assert_allclose(values, tf_run["weights"][path], atol=2e-5, err_msg=path)
    assert jax_run["logs"].keys() == tf_run["logs"].keys()
    for key, values in jax_run["logs"].items():
        np.testing.assert_allclose(values, tf_run["logs"][key], rtol=1e-4, err_msg=key)
    for task, values in jax_run["predictions"].items():
        np.testing.assert_allclose(values, tf_run["predictions"][task], atol=2e-5, err_msg=task)


def test_shared_stream_with_masks_and_label_scaling_trains_as_on_tensorflow(runs):
    trained, _ = runs
    jax_run, tf_run = trained["jax"]["shared_stream"], trained["tensorflow"]["shared_stream"]
    _assert_same_training(jax_run, tf_run)
    assert {"loss", "digit_loss", "digit_accuracy", "odd_loss", "size_loss", "size_mae"} <= set(jax_run["logs"])
    assert jax_run["logs"]["loss"][-1] < jax_run["logs"]["loss"][0]  # it learns


def test_sampled_multi_input_stream_with_adam_trains_as_on_tensorflow(runs):
    # One task of three per step, Adam: a task left out keeps its weights and its optimizer copy's
    # state (slots and step count); any slip would move its head and break the equality.
    trained, _ = runs
    jax_run = trained["jax"]["multi_input_sampled"]
    _assert_same_training(jax_run, trained["tensorflow"]["multi_input_sampled"])
    assert sum(jax_run["task_steps"]) == jax_run["iterations"] == 12
    assert all(steps > 0 for steps in jax_run["task_steps"])


def test_tasks_drawn_in_the_step_from_arrays_train_as_on_tensorflow(runs):
    # Every task has examples in every batch; the step draws 2 of 3 with the sampler (jax.lax.cond).
    trained, _ = runs
    jax_run = trained["jax"]["arrays_sampled"]
    _assert_same_training(jax_run, trained["tensorflow"]["arrays_sampled"])
    assert sum(jax_run["task_steps"]) == 2 * jax_run["iterations"]


def test_evaluate_gives_the_tensorflow_logs(runs):
    trained, _ = runs
    jax_logs, tf_logs = trained["jax"]["evaluate_arrays"]["logs"], trained["tensorflow"]["evaluate_arrays"]["logs"]
    assert jax_logs.keys() == tf_logs.keys()
    for key in jax_logs:
        np.testing.assert_allclose(jax_logs[key], tf_logs[key], rtol=1e-5, err_msg=key)


@pytest.mark.parametrize("weighting", ["uncertainty", "gls"])
def test_loss_level_weighting_trains_as_on_tensorflow(runs, weighting):
    trained, _ = runs
    jax_run = trained["jax"]["loss_level"][weighting]
    _assert_same_training(jax_run, trained["tensorflow"]["loss_level"][weighting])
    assert {"digit_weight", "odd_weight", "size_weight"} <= set(jax_run["logs"])


@pytest.mark.parametrize("weighting", ["pcgrad", "mgda", "cagrad"])
def test_gradient_level_weighting_trains_as_on_tensorflow(runs, weighting):
    # Per-task gradients by jax.vjp pull-backs, combined by the strategy (CAGrad with 2 of 3 tasks sampled).
    trained, _ = runs
    jax_run = trained["jax"]["gradient_level"][weighting]
    _assert_same_training(jax_run, trained["tensorflow"]["gradient_level"][weighting])
    assert {"digit_weight", "odd_weight", "size_weight"} <= set(jax_run["logs"])


def test_zoo_models_predict_and_train_as_on_tensorflow(runs):
    # FiLM, MMoE, PLE, cross-stitch, DSelect-k, soft sharing (a penalty) and MTAN, from the same weights.
    trained, _ = runs
    jax_models, tf_models = trained["jax"]["zoo_models"], trained["tensorflow"]["zoo_models"]
    assert sorted(jax_models) == sorted(tf_models) and len(jax_models) == 7
    for name, result in jax_models.items():
        for when in ("before", "after"):
            for task, values in result[when].items():
                np.testing.assert_allclose(values, tf_models[name][when][task], atol=1e-5, err_msg=f"{name} {when} {task}")
        moved = max(np.abs(np.subtract(result["after"][t], result["before"][t])).max() for t in result["after"])
        assert moved > 1e-3, name  # two SGD steps changed the predictions


def test_features_not_on_jax_raise_naming_feature_and_backend(runs):
    trained, _ = runs
    assert all(message is None for message in trained["tensorflow"]["unavailable"].values())
    messages = list(trained["jax"]["unavailable"].values())
    assert len(messages) == 4 and all(messages)
    expected = (
        ("GradNorm", "gradient-level"),
        ("DynamicWeightAverage", "loss-level"),
        ("MGDAUB", "representation-level"),
        ("tf.distribute", "MirroredStrategy"),
    )
    for message, (feature, kind) in zip(messages, expected):
        assert feature in message and kind in message
        assert "jax backend" in message and "KERAS_BACKEND=tensorflow" in message


@pytest.mark.parametrize("saved_on, loaded_on", [("tensorflow", "jax"), ("jax", "tensorflow")])
def test_keras_file_saved_on_one_backend_loads_on_the_other(runs, saved_on, loaded_on):
    trained, loaded = runs
    saved, reloaded = trained[saved_on]["save"], loaded[loaded_on]["load"]
    for task, values in saved["predictions"].items():
        np.testing.assert_allclose(reloaded["predictions"][task], values, atol=2e-5, err_msg=task)
    assert reloaded["loaded_task_steps"] == saved["task_steps"]  # the per-task optimizer copies' state came along
    assert np.isfinite(reloaded["loss"])


def test_jax_trained_model_exports_a_saved_model_that_plain_tensorflow_serves(runs):
    trained, _ = runs
    for backend in BACKENDS:
        result = trained[backend]["export"]
        assert result["path"].endswith("1") and result["tasks"] == ["digit", "odd", "size"]
        # serve_<task> and serving_default, loaded with tf.saved_model.load, give model.predict's outputs
        assert set(result["differences"]) == {"digit", "odd", "size", "serving_default"}
        assert max(result["differences"].values()) < 1e-5, (backend, result["differences"])


def test_data_parallel_on_two_devices_trains_as_one_device(tmp_path):
    # keras.distribution.DataParallel over two CPU devices forced by XLA_FLAGS, every task and sampled
    # tasks with Adam (the per-task optimizer copies are part of the sharded state).
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "data_parallel"], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads((tmp_path / "jax.json").read_text())["data_parallel"]
    assert result["devices"] == 2
    for name in ("all_tasks", "sampled"):
        assert result[name]["moved"] > 1e-3, name
        assert result[name]["difference"] < 1e-5, (name, result[name])


def test_the_readme_demo_command_trains_on_jax(tmp_path):
    """`KERAS_BACKEND=jax mtl-keras demo` (the README's backend example) trains and prints every task's test results."""
    done = subprocess.run(
        [sys.executable, "-c", "import mtl_keras_cli; mtl_keras_cli.main(['demo', '--epochs', '1'])"],
        env={**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.split()}
    for task in ("left", "right", "left_parity", "sum_ge_10"):
        assert "accuracy=" in rows[task]
    assert float(rows["left"].split("accuracy=")[1].split()[0]) > 0.2  # ten classes: chance is 0.1
