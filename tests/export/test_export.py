"""Tests of `mtl_keras.export`: SavedModel export with a signature per task.

The main test exports a set of tiny models (hard sharing, multi-input, FiLM-conditioned, soft
sharing, MMoE, label scaling + normalisation, dict features, mixed output widths, and the zoo's
`test_*` models), reloads all of them in ONE subprocess where `mtl_keras` is not importable,
calls every signature and compares with in-process `predict`.
"""

import argparse
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
from mtl_keras.export import cli as export_cli
from mtl_keras.layers import TaskAwareLayer

PYTHON = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAVED_MODEL_CLI = os.path.join(os.path.dirname(PYTHON), "saved_model_cli")
N = 6


# ---------------------------------------------------------------------------- tiny test models
@keras.saving.register_keras_serializable(package="mtl_keras_tests")
class FiLMBody(TaskAwareLayer):
    """Dense -> FiLM(task) -> ReLU: threads `task_index` (int, id tensor or None) into FiLM."""

    def __init__(self, num_tasks, units=8, **kwargs):
        super().__init__(num_tasks, **kwargs)
        self.units = units
        self.dense = keras.layers.Dense(units)
        self.film = mk.layers.FiLM(num_tasks)

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.film.build(tuple(input_shape[:-1]) + (self.units,))
        self.built = True

    def call(self, inputs, task_index=None):
        out = self.film(self.dense(inputs), task_index=task_index)
        return [keras.ops.relu(h) for h in out] if isinstance(out, list) else keras.ops.relu(out)

    def compute_output_shape(self, input_shape, task_index=None):
        shape = tuple(input_shape[:-1]) + (self.units,)
        return shape if task_index is not None else [shape] * self.num_tasks

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="mtl_keras_tests")
class DictConcat(keras.layers.Layer):
    """Concatenates a dict of features `{"img": .., "meta": ..}` then a Dense layer."""

    def __init__(self, units=8, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units, activation="tanh")

    def build(self, input_shape):
        self.dense.build((None, sum(s[-1] for s in input_shape.values())))

    def call(self, inputs):
        return self.dense(keras.ops.concatenate([inputs[k] for k in sorted(inputs)], axis=-1))


def same_width_tasks():
    return [mk.Task("a", num_classes=3), mk.Task("b", kind="regression", units=3, label_scaling="standard")]


def mixed_tasks():
    return [
        mk.Task("digit", num_classes=4),
        mk.Task("flag", kind="binary"),
        mk.Task("size", kind="regression", label_scaling="standard"),
    ]


def randomize(model, seed=0):
    """Moves every float weight off its initial value (FiLM starts as the identity) and sets label stats."""
    rng = np.random.default_rng(seed)
    for v in model.trainable_weights:
        if "float" in str(v.dtype):
            v.assign(np.asarray(v.numpy()) + rng.normal(0, 0.3, size=v.shape).astype("float32"))
    scaler = model.label_scaler
    if scaler is not None:  # labels with a mean around 10 and a spread of 2 to 5, per unit
        scaler.adapt({
            name: rng.normal(10.0, 1.0, size=(64, units)) * rng.uniform(2.0, 5.0, size=units)
            for name, units in scaler.units.items()
        })
    return model


def custom_models():
    """`{name: (model, inputs)}` of hand-built tiny models covering each kind of body and input."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, 5)).astype("float32")
    models = {}
    models["hard_sharing"] = (
        mk.MultiTaskModel(
            same_width_tasks(), body=keras.Sequential([keras.layers.Dense(8, activation="relu")]), input_shape=(5,)
        ),
        x,
    )
    models["per_task_inputs"] = (
        mk.MultiTaskModel(
            same_width_tasks(),
            body=keras.Sequential([keras.layers.Dense(8, activation="relu")]),
            input_shape={"a": (5,), "b": (5,)},
        ),
        {"a": x, "b": rng.normal(size=(N, 5)).astype("float32")},
    )
    models["film"] = (mk.MultiTaskModel(same_width_tasks(), body=FiLMBody(2), input_shape=(5,)), x)
    models["film_per_task_inputs"] = (
        mk.MultiTaskModel(same_width_tasks(), body=FiLMBody(2), input_shape={"a": (5,), "b": (5,)}),
        {"a": x, "b": rng.normal(size=(N, 5)).astype("float32")},
    )
    models["concat_conditioned"] = (
        mk.MultiTaskModel(
            same_width_tasks(), body=mk.layers.ConcatConditioning(2, units=8, activation="relu"), input_shape=(5,)
        ),
        x,
    )
    models["soft_sharing"] = (
        mk.MultiTaskModel(
            same_width_tasks(),
            body=mk.layers.SoftSharing(keras.layers.Dense(8, activation="relu"), num_tasks=2),
            input_shape=(5,),
        ),
        x,
    )
    models["mmoe"] = (
        mk.MultiTaskModel(
            same_width_tasks(), body=mk.layers.MMoE(2, num_experts=2, expert_units=(8,)), input_shape=(5,)
        ),
        x,
    )
    norm = keras.layers.Normalization(mean=np.full(5, 3.0), variance=np.full(5, 4.0))
    models["normalised_mixed_widths"] = (
        mk.MultiTaskModel(
            mixed_tasks(), body=keras.Sequential([norm, keras.layers.Dense(8, activation="relu")]), input_shape=(5,)
        ),
        (x * 2.0 + 3.0).astype("float32"),
    )
    models["dict_features"] = (
        mk.MultiTaskModel(same_width_tasks(), body=DictConcat(), input_shape={"img": (4,), "meta": (2,)}),
        {"img": rng.normal(size=(N, 4)).astype("float32"), "meta": rng.normal(size=(N, 2)).astype("float32")},
    )
    return {name: (randomize(model, i), inputs) for i, (name, (model, inputs)) in enumerate(models.items())}


def zoo_models():
    try:
        from mtl_keras import zoo
    except ImportError:  # the zoo is optional here
        return {}
    rng = np.random.default_rng(2)
    shapes = {"vector": (6,), "image": (8, 8, 1)}
    models = {}
    for i, name in enumerate(zoo.list_models()):  # every zoo model, full-size ones included
        if zoo.MODELS.metadata(name)["family"] == "preference":
            continue  # served with a preference input: tests/pareto/test_export.py
        shape = shapes[zoo.describe_model(name)["input_kind"]]
        model = zoo.create_model(name, tasks=same_width_tasks(), input_shape=shape)
        models[f"zoo_{name}"] = (randomize(model, 100 + i), rng.normal(size=(N,) + shape).astype("float32"))
    return models


def reference_outputs(model, inputs):
    """`{signature: {output: array}}` expected from in-process `predict`."""
    predicted = {k: np.asarray(v) for k, v in model.predict(inputs, verbose=0).items()}
    expected = {"serving_default": predicted}
    for name in model.task_names:
        expected[f"serve_{name}"] = {name: predicted[name]}
    if len({v.shape for v in predicted.values()}) == 1:
        ids = np.arange(N) % len(model.tasks)
        stacked = np.stack([predicted[n] for n in model.task_names], axis=1)
        expected["serve_by_task_id"] = {"outputs": stacked[np.arange(N), ids]}
    return expected


def signature_inputs(model, inputs):
    """`{signature: {input name: array}}` to feed each signature."""
    per_task = isinstance(inputs, dict) and set(inputs) <= set(model.task_names)
    shared = inputs if isinstance(inputs, dict) else {"inputs": inputs}
    feeds = {"serving_default": dict(inputs) if per_task else shared}
    for name in model.task_names:
        feeds[f"serve_{name}"] = {"inputs": inputs[name]} if per_task else shared
    ids = (np.arange(N) % len(model.tasks)).astype("int32")
    if per_task:
        # serve_by_task_id takes one input: row j is fed to task ids[j]
        x = np.stack([inputs[model.task_names[t]][j] for j, t in enumerate(ids)])
        feeds["serve_by_task_id"] = {"inputs": x, "task_id": ids}
    else:
        feeds["serve_by_task_id"] = {**shared, "task_id": ids}
    return feeds


CHILD = textwrap.dedent(
    """
    import json, os, sys
    repo = os.path.realpath(sys.argv[2])
    # Scrub the editable install and the repository from the import system.
    def ours(hook):
        names = (getattr(hook, "__module__", ""), getattr(type(hook), "__module__", ""), getattr(hook, "__name__", ""))
        return any("mtl_keras" in str(n) for n in names)
    sys.meta_path[:] = [f for f in sys.meta_path if not ours(f)]
    sys.path_hooks[:] = [h for h in sys.path_hooks if not ours(h)]
    prefix = os.path.realpath(sys.prefix)  # the venv may live inside the repository (.venv): keep it

    def in_repo(path):
        path = os.path.realpath(path)
        return path.startswith(repo) and not path.startswith(prefix)

    sys.path[:] = [p for p in sys.path if p and not in_repo(p)]
    sys.path_importer_cache.clear()
    try:
        import mtl_keras  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("mtl_keras is importable in the child: " + mtl_keras.__file__)
    import numpy as np
    import tensorflow as tf
    manifest = json.load(open(sys.argv[1]))
    for case in manifest:
        served = tf.saved_model.load(case["path"])
        for signature, feeds in case["feeds"].items():
            fn = served.signatures[signature]
            kwargs = {k: tf.constant(np.load(f)) for k, f in feeds.items()}
            for key, value in fn(**kwargs).items():
                np.save(os.path.join(case["out"], f"{signature}.{key}.npy"), value.numpy())
    print("CHILD-OK", "mtl_keras" in sys.modules, len(manifest))
    """
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Exports every test model, reloads them all in one clean subprocess; returns per-model results."""
    root = tmp_path_factory.mktemp("exports")
    keras.utils.set_random_seed(0)
    cases = {**custom_models(), **zoo_models()}
    manifest, results = [], {}
    for name, (model, inputs) in cases.items():
        path = export.export_saved_model(model, root / "models" / name, version=1)
        feeds = signature_inputs(model, inputs)
        out = root / "out" / name
        os.makedirs(out)
        files = {}
        for signature, feed in feeds.items():
            files[signature] = {}
            for key, value in feed.items():
                f = str(out / f"in.{signature}.{key}.npy")
                np.save(f, value)
                files[signature][key] = f
        metadata = export.read_metadata(path)
        files = {s: f for s, f in files.items() if s in metadata["signatures"]}
        manifest.append({"name": name, "path": path, "feeds": files, "out": str(out)})
        results[name] = {
            "path": path,
            "out": out,
            "expected": reference_outputs(model, inputs),
            "metadata": metadata,
            "model": model,
        }
    manifest_file = root / "manifest.json"
    manifest_file.write_text(json.dumps(manifest))
    script = root / "child.py"
    script.write_text(CHILD)
    proc = subprocess.run(
        [PYTHON, "-I", str(script), str(manifest_file), REPO],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=str(root),
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ""},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"CHILD-OK False {len(manifest)}" in proc.stdout, proc.stdout
    return results


CUSTOM = [
    "hard_sharing",
    "per_task_inputs",
    "film",
    "film_per_task_inputs",
    "concat_conditioned",
    "soft_sharing",
    "mmoe",
    "normalised_mixed_widths",
    "dict_features",
]


def _zoo_names():
    try:
        from mtl_keras import zoo

        return [f"zoo_{n}" for n in zoo.list_models() if zoo.MODELS.metadata(n)["family"] != "preference"]
    except ImportError:
        return []


@pytest.mark.slow
@pytest.mark.parametrize("name", CUSTOM + _zoo_names())
def test_reloaded_without_package_matches_predict(exported, name):
    result = exported[name]
    signatures = result["metadata"]["signatures"]
    assert set(result["expected"]) == set(signatures), "serve_by_task_id present exactly when output shapes agree"
    for signature, outputs in result["expected"].items():
        assert set(signatures[signature]["outputs"]) == set(outputs)
        for key, want in outputs.items():
            got = np.load(result["out"] / f"{signature}.{key}.npy")
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"{name} {signature} {key}")


def test_signature_names_inputs_and_layout(exported):
    film = exported["film"]
    assert film["path"].endswith(os.path.join("film", "1"))
    assert os.path.isfile(os.path.join(film["path"], "saved_model.pb"))
    sigs = film["metadata"]["signatures"]
    assert list(sigs) == ["serving_default", "serve_a", "serve_b", "serve_by_task_id"]
    assert sigs["serving_default"]["inputs"] == {"inputs": {"dtype": "float32", "shape": [None, 5]}}
    assert sigs["serving_default"]["outputs"] == {
        "a": {"dtype": "float32", "shape": [None, 3]},
        "b": {"dtype": "float32", "shape": [None, 3]},
    }
    assert sigs["serve_b"]["outputs"] == {"b": {"dtype": "float32", "shape": [None, 3]}}
    assert sigs["serve_by_task_id"]["inputs"]["task_id"] == {"dtype": "int32", "shape": [None]}
    assert film["metadata"]["by_task_id_mode"] == "conditioned"
    assert exported["mmoe"]["metadata"]["by_task_id_mode"] == "select"
    assert exported["hard_sharing"]["metadata"]["by_task_id_mode"] == "select"
    per_task = exported["per_task_inputs"]["metadata"]
    assert set(per_task["signatures"]["serving_default"]["inputs"]) == {"a", "b"}
    assert set(per_task["signatures"]["serve_a"]["inputs"]) == {"inputs"}
    assert set(exported["dict_features"]["metadata"]["signatures"]["serve_a"]["inputs"]) == {"img", "meta"}
    mixed = exported["normalised_mixed_widths"]["metadata"]
    assert "serve_by_task_id" not in mixed["signatures"] and "differ in shape" in mixed["by_task_id_note"]
    assert [t["name"] for t in mixed["tasks"]] == ["digit", "flag", "size"]


def test_bad_inputs_give_clear_errors(exported):
    served = tf.saved_model.load(exported["film"]["path"])
    x = tf.ones((2, 5))
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"Shape of tensor inputs \[2,4\] is not compatible with expected shape \[\?,5\]",
    ):
        served.signatures["serve_a"](inputs=tf.ones((2, 4)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected shape \[\?,5\]"):
        served.signatures["serving_default"](inputs=tf.ones((2, 5, 1)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a float tensor but is a int32"):
        served.signatures["serve_a"](inputs=tf.ones((2, 5), tf.int32))
    by_id = served.signatures["serve_by_task_id"]
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"task_id must be in \[0, 2\) \(0=a, 1=b\); got an id >= 2"
    ):
        by_id(inputs=x, task_id=tf.constant([0, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="got a negative id"):
        by_id(inputs=x, task_id=tf.constant([-1, 0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="one id per example"):
        by_id(inputs=x, task_id=tf.constant([0, 1, 1]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a int32 tensor but is a int64"):
        by_id(inputs=x, task_id=tf.constant([0, 1], tf.int64))


def test_versions_overwrite_and_unbuilt(tmp_path):
    model = mk.MultiTaskModel(same_width_tasks(), body=keras.Sequential([keras.layers.Dense(4)]), input_shape=(3,))
    base = tmp_path / "served"
    first = export.export_saved_model(model, base, by_task_id=False)
    assert first == os.path.join(str(base), "1")
    assert export.next_version(base) == 2
    with pytest.raises(export.VersionExistsError, match="Version 1 already exists.*overwrite=True.*next free: 2"):
        export.export_saved_model(model, base, version=1)
    with pytest.raises(ValueError, match="already exists"):  # also a ValueError, for the CLI
        export.export_saved_model(model, base, version="1")
    assert "serve_by_task_id" not in export.read_metadata(first)["signatures"]
    again = export.export_saved_model(model, base, version=1, overwrite=True)
    assert again == first and "serve_by_task_id" in export.read_metadata(first)["signatures"], "version replaced"
    assert sorted(os.listdir(base)) == ["1"], "no staging directory left behind"
    with pytest.raises(ValueError, match="non-negative integer"):
        export.export_saved_model(model, base, version=-1)
    with pytest.raises(ValueError, match="non-negative integer"):
        export.export_saved_model(model, base, version="v2")
    unbuilt = mk.MultiTaskModel(same_width_tasks(), body=keras.Sequential([keras.layers.Dense(4)]))
    with pytest.raises(ValueError, match="is not built"):
        export.export_saved_model(unbuilt, tmp_path / "unbuilt")
    assert not os.path.exists(tmp_path / "unbuilt")
    with pytest.raises(ValueError, match="exports a mtl_keras.MultiTaskModel"):
        export.export_saved_model(keras.Sequential([keras.layers.Dense(1)]), tmp_path / "plain")
    mixed = mk.MultiTaskModel(mixed_tasks(), input_shape=(3,))
    with pytest.raises(ValueError, match="Cannot add the serve_by_task_id signature.*differ in shape"):
        export.export_saved_model(mixed, tmp_path / "mixed", by_task_id=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        export.export_saved_model(model, tmp_path / "file")


def test_input_signature_override(tmp_path):
    model = mk.MultiTaskModel(same_width_tasks(), body=keras.Sequential([keras.layers.Dense(4)]), input_shape=(3,))
    path = export.export_saved_model(
        model, tmp_path, version=7, input_signature=tf.TensorSpec((None, 3), tf.float32, name="ignored")
    )
    sig = export.read_metadata(path)["signatures"]["serve_a"]["inputs"]
    assert sig == {"inputs": {"dtype": "float32", "shape": [None, 3]}}


def test_cli_export_and_saved_model_cli(tmp_path, capsys):
    model = randomize(mk.MultiTaskModel(same_width_tasks(), body=FiLMBody(2), input_shape=(5,)))
    model_file = tmp_path / "model.keras"
    model.save(model_file)
    parser = argparse.ArgumentParser(prog="mtl-keras")
    export_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["export", str(model_file), str(tmp_path / "served"), "--version", "3"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "serve_by_task_id" in printed and os.path.join("served", "3") in printed
    with pytest.raises(ValueError, match="already exists"):
        args.func(args)
    args = parser.parse_args(["export", str(model_file), str(tmp_path / "served"), "--version", "3", "--overwrite"])
    assert args.func(args) == 0
    with pytest.raises(SystemExit) as exited:  # checked while parsing, before TensorFlow work
        parser.parse_args(["export", str(tmp_path / "missing.keras"), str(tmp_path / "served")])
    assert exited.value.code == 2 and "No model file at" in capsys.readouterr().err
    with pytest.raises(ValueError, match="No model file"):
        export.load_model(tmp_path / "missing.keras")
    export_dir = str(tmp_path / "served" / "3")

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    show = subprocess.run(
        [SAVED_MODEL_CLI, "show", "--all", "--dir", export_dir], capture_output=True, text=True, env=env, timeout=300
    )
    assert show.returncode == 0, show.stderr[-2000:]
    for expected in (
        "signature_def['serving_default']",
        "signature_def['serve_a']",
        "signature_def['serve_by_task_id']",
        "inputs['task_id']",
        "outputs['b']",
    ):
        assert expected in show.stdout

    x = np.random.default_rng(3).normal(size=(4, 5)).astype("float32")
    ids = np.array([1, 0, 1, 1], np.int32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "ids.npy", ids)
    outdir = tmp_path / "cli_out"
    run = subprocess.run(
        [
            SAVED_MODEL_CLI, "run", "--dir", export_dir, "--tag_set", "serve", "--signature_def", "serve_by_task_id",
            "--inputs", f"inputs={tmp_path / 'x.npy'};task_id={tmp_path / 'ids.npy'}", "--outdir", str(outdir),
        ],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    got = np.load(outdir / "outputs.npy")
    predicted = model.predict(x, verbose=0)
    want = np.where(ids[:, None] == 0, predicted["a"], predicted["b"])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
