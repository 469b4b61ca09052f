"""Zoo models saved as `.keras` reload in a fresh process after `import mtl_keras` alone.

The tiny `test_*` variants of the zoo models built on `TaskStack` or `ResidualBlock` (now in
`mtl_keras.layers`), and one full-size model per such family, are saved with random weights; ONE subprocess then runs
`import mtl_keras; keras.models.load_model(path)` for every file (without importing the zoo) and
predicts on the same inputs. The predictions must match the saving process's.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras import zoo

#: The families whose bodies are a `TaskStack` on every backbone; image MMoE / PLE stack the experts on a
#: backbone with a `TaskStack` too, and every ResNet uses `ResidualBlock`.
STACKED_FAMILIES = ("film", "additive", "multiplicative", "cross_stitch")
FULL_SIZE = ["film_mlp", "additive_conv", "multiplicative_resnet", "cross_stitch_mlp"]
VECTOR_SHAPE, IMAGE_SHAPE = (6,), (8, 8, 2)

CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import mtl_keras
    import keras
    assert "mtl_keras.zoo" not in sys.modules, "the zoo must not be needed to load its models"
    results = {}
    for case in json.load(open(sys.argv[1])):
        model = keras.models.load_model(case["path"])
        x = np.load(case["inputs"])
        got = model(x, training=False)
        np.savez(case["outputs"], **{k: np.asarray(v) for k, v in got.items()})
        results[case["name"]] = type(model).__name__
    assert "mtl_keras.zoo" not in sys.modules
    print("CHILD-OK", json.dumps(results))
    """
)


def tasks():
    return [mk.Task("a", num_classes=3), mk.Task("b", kind="binary"), mk.Task("c", kind="regression")]


def randomize(model, seed):
    """Random weights everywhere (FiLM and cross-stitch start as identities, which would hide a wrong reload)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        if "variance" in variable.path:
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0.0, 0.4, shape)
        variable.assign(value.astype(variable.dtype))
    return model


def model_names():
    tiny = [f"test_{family}_{backbone}" for family in STACKED_FAMILIES for backbone in ("mlp", "conv", "resnet")]
    tiny += ["test_mmoe_conv", "test_ple_resnet", "test_hard_sharing_resnet"]
    return tiny + FULL_SIZE


@pytest.mark.slow
def test_zoo_models_reload_after_import_mtl_keras_alone(tmp_path):
    cases, expected = [], {}
    rng = np.random.default_rng(0)
    for i, name in enumerate(model_names()):
        image = zoo.MODELS.metadata(name)["input_kind"] == "image"
        shape = IMAGE_SHAPE if image else VECTOR_SHAPE
        model = randomize(zoo.create_model(name, tasks(), input_shape=shape), seed=i)
        x = rng.normal(size=(4,) + shape).astype("float32")
        path = tmp_path / f"{name}.keras"
        model.save(path)
        np.save(tmp_path / f"{name}.x.npy", x)
        expected[name] = {k: np.asarray(v) for k, v in model(x, training=False).items()}
        cases.append(
            {"name": name, "path": str(path), "inputs": str(tmp_path / f"{name}.x.npy"), "outputs": str(tmp_path / f"{name}.out.npz")}
        )
        keras.backend.clear_session()
    manifest = tmp_path / "cases.json"
    manifest.write_text(json.dumps(cases))
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.run(
        [sys.executable, str(script), str(manifest)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    loaded = json.loads(proc.stdout.split("CHILD-OK", 1)[1])
    assert set(loaded) == set(expected) and set(loaded.values()) == {"MultiTaskModel"}
    for name, want in expected.items():
        got = np.load(tmp_path / f"{name}.out.npz")
        assert set(got.files) == set(want), name
        for task, values in want.items():
            np.testing.assert_allclose(got[task], values, rtol=1e-5, atol=1e-5, err_msg=f"{name} task {task}")
        spread = max(float(np.ptp(values)) for values in want.values())
        assert spread > 1e-3, f"{name}: outputs do not depend on the input, the comparison would prove nothing"


def test_zoo_blocks_are_layers_of_the_library():
    from mtl_keras.zoo import blocks

    assert blocks.TaskStack is mk.layers.TaskStack and blocks.ResidualBlock is mk.layers.ResidualBlock
    assert zoo.TaskStack is mk.layers.TaskStack
    assert keras.saving.get_registered_name(mk.layers.TaskStack) == "mtl_keras>TaskStack"
    assert keras.saving.get_registered_name(mk.layers.ResidualBlock) == "mtl_keras>ResidualBlock"
