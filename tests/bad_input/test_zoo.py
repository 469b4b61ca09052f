"""Zoo models take the sampler, `tasks_per_step` and seed of `MultiTaskModel`; bad zoo arguments are named.

Every registered model is checked with its tiny `test_*` variant (the full-size variants share the
factory); bad values are refused with the argument and the value in the message.
"""

import keras
import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras import zoo


def tasks():
    return [mk.Task("a", num_classes=3), mk.Task("b", kind="binary"), mk.Task("c", kind="regression")]


def _shape(name):
    return (4, 4, 1) if zoo.MODELS.metadata(name)["input_kind"] == "image" else (6,)


@pytest.mark.parametrize("name", zoo.list_models("test_*"))
def test_every_model_takes_sampler_tasks_per_step_and_seed(name):
    sampler = mk.samplers.ProportionalSampler({"a": 100, "b": 10, "c": 50}, alpha=0.5)
    model = zoo.create_model(name, tasks(), tasks_per_step=1, seed=7, sampler=sampler)
    assert isinstance(model, mk.MultiTaskModel)
    assert (model.tasks_per_step, model.seed, model.sampler) == (1, 7, sampler)
    assert {"sampler", "tasks_per_step", "seed"} <= set(zoo.accepted_arguments(name))
    config = model.get_config()
    assert (config["tasks_per_step"], config["seed"]) == (1, 7)


def test_defaults_are_unchanged():
    model = zoo.create_model("test_film_mlp", tasks())
    assert (model.tasks_per_step, model.seed, type(model.sampler).__name__) == (3, 0, "UniformSampler")


def test_one_task_per_step_trains_one_head_and_reloads(tmp_path):
    """`tasks_per_step=1`: each step trains the sampled task only (its head moves, the others stay)."""
    model = zoo.create_model("test_hard_sharing_mlp", tasks(), input_shape=(6,), tasks_per_step=1, seed=3)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6)).astype("float32")
    data = {"a": (x, rng.integers(0, 3, 16)), "b": (x, rng.integers(0, 2, 16).astype("float32")), "c": (x, rng.normal(size=16))}
    heads_before = [[w.numpy().copy() for w in model.task_variables(t)] for t in ("a", "b", "c")]
    model.fit(mk.data.multitask_dataset(data, batch_size=8, seed=0), epochs=1, steps_per_epoch=1, verbose=0)
    moved = [
        any(not np.array_equal(before, w.numpy()) for before, w in zip(head, model.task_variables(t)))
        for head, t in zip(heads_before, ("a", "b", "c"))
    ]
    assert sum(moved) == 1, f"one sampled task per step; heads moved: {moved}"
    path = tmp_path / "one_task.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert (reloaded.tasks_per_step, reloaded.seed) == (1, 3)


# (overrides, the argument the message names, the value it quotes)
BAD_OVERRIDES = {
    "tasks_per_step_zero": ({"tasks_per_step": 0}, "tasks_per_step", "tasks_per_step=0"),
    "tasks_per_step_too_many": ({"tasks_per_step": 4}, "tasks_per_step", "tasks_per_step=4"),
    "tasks_per_step_fraction": ({"tasks_per_step": 1.5}, "tasks_per_step", "tasks_per_step=1.5"),
    "unknown_sampler": ({"sampler": "roundrobin"}, "sampler", "'roundrobin'"),
    "sampler_sizes_of_other_tasks": (
        {"sampler": mk.samplers.ProportionalSampler({"x": 1, "y": 2})},
        "ProportionalSampler",
        "'a'",
    ),
    "unknown_argument": ({"num_heads": 2}, "num_heads", "'num_heads'"),
    "units_zero": ({"units": (0,)}, "units", "units=(0,)"),
    "units_empty": ({"units": ()}, "units", "units=()"),
    "units_fractional": ({"units": (4.5,)}, "units", "units=(4.5,)"),  # was silently truncated to 4
    "units_an_int": ({"units": 8}, "units", "units=8"),
    "units_nan": ({"units": (float("nan"),)}, "units", "units=(nan,)"),
}


@pytest.mark.parametrize("case", sorted(BAD_OVERRIDES))
def test_bad_override_names_argument_and_value(case):
    overrides, argument, value = BAD_OVERRIDES[case]
    with pytest.raises(ValueError) as raised:
        zoo.create_model("test_film_mlp", tasks(), **overrides)
    message = str(raised.value)
    assert "test_film_mlp" in message and argument in message and value in message, message


BAD_CALLS = {
    "unknown_model": (lambda: zoo.create_model("flim_mlp", tasks()), "zoo model", "'flim_mlp'"),
    "no_tasks": (lambda: zoo.create_model("test_film_mlp", []), "tasks", "tasks=[]"),
    "vector_model_image_shape": (
        lambda: zoo.create_model("test_film_mlp", tasks(), input_shape=(8, 8, 1)), "input_shape", "input_shape=(8, 8, 1)"
    ),
    "image_model_vector_shape": (
        lambda: zoo.create_model("test_film_conv", tasks(), input_shape=(8,)), "input_shape", "input_shape=(8,)"
    ),
    "negative_input_size": (
        lambda: zoo.create_model("test_film_mlp", tasks(), input_shape=(-4,)), "input_shape", "input_shape=(-4,)"
    ),
    "input_shape_not_a_tuple": (
        lambda: zoo.create_model("test_film_mlp", tasks(), input_shape=7), "input_shape", "input_shape=7"
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_create_model_call_names_argument_and_value(case):
    call, argument, value = BAD_CALLS[case]
    with pytest.raises(ValueError) as raised:
        call()
    message = str(raised.value)
    assert argument in message and value in message, message


# ---------------------------------------------------------------------------- the zoo's layers
BAD_LAYERS = {
    "residual_filters_zero": (lambda: mk.layers.ResidualBlock(0), "filters", "filters=0"),
    "residual_filters_fraction": (lambda: mk.layers.ResidualBlock(2.5), "filters", "filters=2.5"),
    "residual_strides_zero": (lambda: mk.layers.ResidualBlock(4, strides=0), "strides", "strides=0"),
    "residual_strides_text": (lambda: mk.layers.ResidualBlock(4, strides="2"), "strides", "strides='2'"),
    "stack_mode": (lambda: mk.layers.TaskStack([keras.layers.Dense(2)], 2, mode="rows"), "mode", "mode='rows'"),
    "stack_no_layers": (lambda: mk.layers.TaskStack([], 2), "layers", "layers=[]"),
    "stack_not_a_layer": (lambda: mk.layers.TaskStack(["dense"], 2), "layers", "'dense'"),
    "stack_tasks_mismatch": (
        lambda: mk.layers.TaskStack([mk.layers.FiLM(3)], 2), "made for 3 tasks", "the stack for 2"
    ),
    "stack_num_tasks_zero": (lambda: mk.layers.TaskStack([keras.layers.Dense(2)], 0), "num_tasks", "num_tasks=0"),
}


@pytest.mark.parametrize("case", sorted(BAD_LAYERS))
def test_bad_zoo_layer_argument_names_it(case):
    make, argument, value = BAD_LAYERS[case]
    with pytest.raises(ValueError) as raised:
        make()
    message = str(raised.value)
    assert argument in message and value in message, message


def test_task_stack_index_out_of_range_names_it():
    stack = mk.layers.TaskStack([keras.layers.Dense(2), mk.layers.FiLM(2)], 2, name="stack")
    with pytest.raises(ValueError, match=r"stack: task_index must be in \[0, 2\). Received: task_index=2"):
        stack(np.ones((1, 3), "float32"), task_index=2)
    columns = mk.layers.TaskStack([mk.layers.CrossStitch(2, layer=keras.layers.Dense(2))], 2, mode="columns", name="cols")
    with pytest.raises(ValueError, match=r"cols: a 'columns' TaskStack takes a Python int task_index. Received: task_index="):
        columns(np.ones((2, 3), "float32"), task_index=np.array([0, 1]))
