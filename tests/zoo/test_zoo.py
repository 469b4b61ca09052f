"""The zoo: every registered model builds, trains, predicts by task and reloads; registry errors."""

import os

import keras
import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras import zoo

VECTOR_SHAPE = (6,)
IMAGE_SHAPE = (8, 8, 1)


def _tasks():
    return [
        mk.Task("digit", kind="classification", num_classes=3),
        mk.Task("flag", kind="binary"),
        mk.Task("size", kind="regression"),
    ]


def _data(input_kind, n=32, seed=0):
    rng = np.random.default_rng(seed)
    shape = VECTOR_SHAPE if input_kind == "vector" else IMAGE_SHAPE
    x = rng.normal(size=(n,) + shape).astype("float32")
    flat = x.reshape(n, -1)
    score = flat[:, : flat.shape[1] // 2].mean(axis=1) * 3
    labels = {
        "digit": np.digitize(score, [-0.5, 0.5]).astype("int32"),
        "flag": (flat[:, -1] > 0).astype("float32"),
        "size": (flat.mean(axis=1) * 2).astype("float32"),
    }
    return x, labels


def _reference_gradients(model, x, labels):
    """The loss `Σ_task mean L_task + Σ penalties` and its gradients, by a tape around a plain call."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        raw = model(x, training=True, raw=True)
        loss = sum(keras.ops.mean(task.build_loss()(_column(task, labels[task.name]), raw[task.name])) for task in model.tasks)
        penalties = [layer.penalty() for layer in model.penalty_layers] + list(model.losses)
        loss = loss + sum(penalties) if penalties else loss
    return float(loss), tape.gradient(loss, model.trainable_variables)


def _column(task, labels):
    return labels if task.kind == "classification" else labels.reshape(len(labels), 1)


def _trainable_values(model, values):
    by_id = {id(v): value for v, value in zip(model.weights, values)}
    return [by_id[id(v)] for v in model.trainable_variables]


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_model_trains_predicts_and_reloads(name, tmp_path):
    kind = zoo.MODELS.metadata(name)["input_kind"]
    x, labels = _data(kind)
    model = zoo.create_model(name, tasks=_tasks(), input_shape=x.shape[1:])
    assert isinstance(model, mk.MultiTaskModel)
    # Eager steps: for these tiny models tracing costs more than the steps (graph mode: see below).
    model.compile(optimizer=keras.optimizers.Adam(0.01), run_eagerly=True)
    if zoo.MODELS.metadata(name)["family"] == "preference":
        # The objective varies with the preference drawn at each step (tested against its closed form
        # in tests/pareto/test_preference_model.py): here, training must lower the loss at the uniform preference.
        data = mk.data.shared_input_dataset(x, labels, batch_size=len(x), seed=0)
        before = model.evaluate(x, labels, batch_size=len(x), return_dict=True, verbose=0)["loss"]
        model.fit(data, epochs=3, verbose=0)
        after = model.evaluate(x, labels, batch_size=len(x), return_dict=True, verbose=0)["loss"]
        assert after < before, (name, before, after)
    else:
        # Reference: one SGD step is `w - lr * dL/dw` with `L` the sum of the task losses (plus the
        # layers' penalties) on the whole batch, computed here with a tape independently of the trainer.
        model(x[:1])  # build
        start = [v.numpy() for v in model.weights]
        reference_loss, gradients = _reference_gradients(model, x, labels)
        model.set_weights(start)  # undo the tape pass's moving-statistics updates
        learning_rate = 0.1
        model.compile(optimizer=keras.optimizers.SGD(learning_rate), run_eagerly=True)
        data = mk.data.shared_input_dataset(x, labels, batch_size=len(x), shuffle=False)  # one fixed batch
        history = model.fit(data, epochs=1, verbose=0).history["loss"]
        np.testing.assert_allclose(history[0], reference_loss, rtol=1e-4, err_msg=name)
        for variable, gradient, before in zip(model.trainable_variables, gradients, _trainable_values(model, start)):
            expected = before - learning_rate * (0.0 if gradient is None else keras.ops.convert_to_numpy(gradient))
            np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-4, atol=1e-5, err_msg=f"{name}: {variable.path}")

    predictions = model.predict(x, verbose=0, batch_size=len(x))
    assert set(predictions) == {"digit", "flag", "size"}
    assert predictions["digit"].shape == (len(x), 3)
    assert predictions["flag"].shape == (len(x), 1)
    assert predictions["size"].shape == (len(x), 1)

    path = os.path.join(tmp_path, f"{name}.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)  # safe_mode, no custom_objects
    again = reloaded(x, training=False)
    for task in predictions:
        np.testing.assert_allclose(keras.ops.convert_to_numpy(again[task]), predictions[task], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["test_cross_stitch_mlp", "test_film_conv"])
def test_graph_mode_training(name):
    """The compiled (graph) training step follows the eager one exactly, step after step."""
    kind = zoo.MODELS.metadata(name)["input_kind"]
    x, labels = _data(kind)
    weights = []
    for run_eagerly in (True, False):
        keras.utils.set_random_seed(0)
        model = zoo.create_model(name, tasks=_tasks(), input_shape=x.shape[1:])
        model.compile(optimizer=keras.optimizers.Adam(0.01), run_eagerly=run_eagerly)
        data = mk.data.shared_input_dataset(x, labels, batch_size=len(x), shuffle=False)
        model.fit(data, epochs=4, verbose=0)
        weights.append([v.numpy() for v in model.weights])
    for eager, graph in zip(*weights):
        np.testing.assert_allclose(graph, eager, rtol=1e-4, atol=1e-5)


def test_multi_input_data_trains():
    tasks = _tasks()
    x, labels = _data("vector")
    model = zoo.create_model("test_mmoe_mlp", tasks=tasks, input_shape=VECTOR_SHAPE)
    model.compile(optimizer=keras.optimizers.Adam(0.01), run_eagerly=True)
    data = mk.data.multitask_dataset({t.name: (x, labels[t.name]) for t in tasks}, batch_size=16, seed=0)
    history = model.fit(data, epochs=2, steps_per_epoch=2, verbose=0).history
    assert {"digit_loss", "flag_loss", "size_loss"} <= set(history)


def test_list_models_wildcards():
    names = zoo.list_models()
    assert len(names) == len(set(names)) and names == sorted(names)
    families = ("independent", "shared_concat", "hard_sharing", "additive", "multiplicative", "film",
                "soft_sharing", "cross_stitch", "mmoe", "ple")
    for family in families:
        assert f"{family}_mlp" in names and f"test_{family}_mlp" in names and f"{family}_mlp_small" in names
        assert f"{family}_conv" in names and f"{family}_resnet" in names
    for family in ("dselect_k",):
        assert {f"{family}_mlp", f"{family}_mlp_small", f"{family}_conv", f"{family}_resnet", f"test_{family}_mlp"} <= set(names)
    assert zoo.list_models("*mtan*") == ["mtan_conv", "mtan_resnet", "test_mtan_conv", "test_mtan_resnet"]  # conv only
    assert zoo.list_models("film*") == ["film_conv", "film_mlp", "film_mlp_small", "film_resnet"]
    assert zoo.list_models("test_*") == [n for n in names if n.startswith("test_")]
    assert zoo.list_models("no_such_*") == []


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="Unknown zoo model: 'flim_mlp'.*film_mlp"):
        zoo.create_model("flim_mlp", tasks=_tasks())


def test_input_kind_is_checked():
    with pytest.raises(ValueError, match="create_model\\('test_film_conv'\\).*image inputs.*input_shape=\\(32,\\)"):
        zoo.create_model("test_film_conv", tasks=_tasks(), input_shape=(32,))
    with pytest.raises(ValueError, match="test_film_mlp.*vector inputs"):
        zoo.create_model("test_film_mlp", tasks=_tasks(), input_shape=(8, 8, 1))
    with pytest.raises(ValueError, match="at least one Task"):
        zoo.create_model("test_film_mlp", tasks=[], input_shape=(8,))


def test_unknown_override_names_model_and_argument():
    with pytest.raises(ValueError, match="'test_film_mlp'.*'num_experts'"):
        zoo.create_model("test_film_mlp", tasks=_tasks(), num_experts=3)
    with pytest.raises(ValueError, match="'test_mmoe_conv'.*'units'.*filters"):
        zoo.create_model("test_mmoe_conv", tasks=_tasks(), units=(3,))


def test_overrides_change_the_model():
    small = zoo.create_model("test_mmoe_mlp", tasks=_tasks(), input_shape=VECTOR_SHAPE)
    large = zoo.create_model("test_mmoe_mlp", tasks=_tasks(), input_shape=VECTOR_SHAPE, units=(16, 8), num_experts=3)
    assert large.count_params() > small.count_params()
    assert large.body.num_experts == 3
    named = zoo.create_model("test_film_mlp", tasks=_tasks(), input_shape=VECTOR_SHAPE, name="mine", head_units=(4,))
    assert named.name == "mine" and named.heads.hidden_units == [4]


def test_describe_model_and_table(tmp_path):
    lines = []
    info = zoo.describe_model("test_film_mlp", print_fn=lines.append)
    assert info["family"] == "film" and info["input_kind"] == "vector" and info["paper"].startswith("Perez")
    assert info["params"] > 0 and "units" in info["arguments"] and "descriptor" in info["arguments"]
    assert "test_film_mlp" in lines[0]
    table = zoo.models_table("test_film_*")
    assert table.count("\n") == 2 + len(zoo.list_models("test_film_*"))
    assert "| `test_film_resnet` | film | image |" in table


def test_models_file_lists_every_model():
    path = os.path.join(os.path.dirname(zoo.__file__), "MODELS.md")
    with open(path, encoding="utf-8") as f:
        listed = [line.split("`")[1] for line in f if line.startswith("| `")]
    assert listed == zoo.list_models(), "MODELS.md is stale: run python -m mtl_keras.zoo.table"


def test_register_model_decorator():
    @zoo.register_model("_custom_zoo_test_mlp", description="A custom model", family="hard_sharing", input_kind="vector")
    def custom(tasks, input_shape=None, width=4):
        body = keras.Sequential([keras.layers.Dense(width, activation="relu")])
        return mk.MultiTaskModel(tasks, body=body, input_shape=input_shape)

    try:
        model = zoo.create_model("_custom_zoo_test_mlp", tasks=_tasks(), input_shape=VECTOR_SHAPE, width=5)
        assert model.body.layers[0].units == 5
        with pytest.raises(ValueError, match="'_custom_zoo_test_mlp'.*'depth'"):
            zoo.create_model("_custom_zoo_test_mlp", tasks=_tasks(), depth=2)
    finally:
        zoo.MODELS.unregister("_custom_zoo_test_mlp")
    assert "_custom_zoo_test_mlp" not in zoo.list_models()


@pytest.mark.parametrize("name", ["test_hard_sharing_conv", "test_mtan_conv", "test_mmoe_resnet"])
def test_image_models_can_flatten_instead_of_pooling(name):
    """`pooling="flatten"` keeps where features are (left vs right digit); the default averages them away."""
    x, _ = _data("image", n=4)
    pooled = zoo.create_model(name, tasks=_tasks(), input_shape=x.shape[1:])
    flat = zoo.create_model(name, tasks=_tasks(), input_shape=x.shape[1:], pooling="flatten")
    assert flat.count_params() > pooled.count_params()
    assert flat(x)["digit"].shape == (4, 3)
    with pytest.raises(ValueError, match="pooling='max'"):
        zoo.create_model(name, tasks=_tasks(), input_shape=x.shape[1:], pooling="max")
    with pytest.raises(ValueError, match="'pooling'"):
        zoo.create_model("test_hard_sharing_mlp", tasks=_tasks(), pooling="flatten")


def test_new_families_have_their_papers_and_arguments():
    mtan = zoo.describe_model("mtan_conv")
    assert mtan["family"] == "mtan" and mtan["paper"].startswith("Liu, Johns, Davison")
    assert "attention_units" in mtan["arguments"] and "pooling" in mtan["arguments"]
    dselect = zoo.describe_model("dselect_k_mlp")
    assert dselect["paper"].startswith("Hazimeh") and {"k", "gamma", "gating", "entropy_weight"} <= set(dselect["arguments"])
    model = zoo.create_model("test_dselect_k_mlp", tasks=_tasks(), input_shape=VECTOR_SHAPE, k=1, gating="static")
    assert model.body.k == 1 and model.body.gating == "static"
