"""SavedModel export with a `preference` input: round trip, in-graph rejection, loading without mtl_keras."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras.pareto import export_preference_model

from .conftest import conflicting_problem

SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


@pytest.fixture(scope="module")
def exported(trained_preference_model, tmp_path_factory):
    return export_preference_model(trained_preference_model, tmp_path_factory.mktemp("served"), version=1)


def test_export_round_trip(trained_preference_model, exported):
    serve = tf.saved_model.load(exported).signatures["serving_default"]
    x, _ = conflicting_problem(4, 5)
    preference = np.array([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9], [1.0, 0.0]], np.float32)
    got = serve(inputs=tf.constant(x), preference=tf.constant(preference))
    want = trained_preference_model.predict(x, preference=preference)
    for name in ("a", "b"):
        np.testing.assert_allclose(got[name].numpy(), want[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "preference, message",
    [
        ([[0.5, 0.6]] * 4, "sum to 1"),
        ([[-0.5, 1.5]] * 4, "non-negative"),
        ([[np.nan, 1.0]] * 4, "NaN or inf"),
        ([[0.5, 0.5]] * 3, "one row per example"),
    ],
)
def test_in_graph_rejection(exported, preference, message):
    serve = tf.saved_model.load(exported).signatures["serving_default"]
    x, _ = conflicting_problem(4, 5)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"preference: .*{message}"):
        serve(inputs=tf.constant(x), preference=tf.constant(preference, tf.float32))


@pytest.mark.slow
def test_loads_without_mtl_keras_and_saved_model_cli_runs(trained_preference_model, exported, tmp_path):
    x, _ = conflicting_problem(3, 6)
    preference = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "r.npy", preference)
    want = trained_preference_model.predict(x, preference=preference)
    script = textwrap.dedent(
        f"""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] == "mtl_keras":
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import numpy as np, tensorflow as tf
        serve = tf.saved_model.load({str(exported)!r}).signatures["serving_default"]
        out = serve(inputs=tf.constant(np.load({str(tmp_path / 'x.npy')!r})), preference=tf.constant(np.load({str(tmp_path / 'r.npy')!r})))
        np.save({str(tmp_path / 'clean_b.npy')!r}, out["b"].numpy())
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    clean = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert clean.returncode == 0, clean.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "clean_b.npy"), want["b"], rtol=1e-5, atol=1e-6)
    run = subprocess.run(
        [SAVED_MODEL_CLI, "run", "--dir", exported, "--tag_set", "serve", "--signature_def", "serving_default",
         "--inputs", f"inputs={tmp_path / 'x.npy'};preference={tmp_path / 'r.npy'}", "--outdir", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "out" / "a.npy"), want["a"], rtol=1e-5, atol=1e-6)


def test_the_generic_exporter_keeps_the_preference_input(trained_preference_model, tmp_path):
    """`mk.export.export_saved_model` on a preference model must not freeze it at one trade-off."""
    from mtl_keras.export import export_saved_model

    path = export_saved_model(trained_preference_model, tmp_path / "generic", version=3)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    x, _ = conflicting_problem(2, 6)
    preference = np.array([[0.9, 0.1], [0.1, 0.9]], np.float32)
    got = serve(inputs=tf.constant(x), preference=tf.constant(preference))
    want = trained_preference_model.predict(x, preference=preference)
    np.testing.assert_allclose(got["a"].numpy(), want["a"], rtol=1e-5, atol=1e-6)
