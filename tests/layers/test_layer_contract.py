"""Every sharing layer through the shared `run_layer_test` helper."""

import keras
import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras import layers
from mtl_keras.testing import run_layer_test

IDS = np.array([0, 2, 1, 2])  # one task per example, batch of 4


def dense(units=3):
    return keras.layers.Dense(units)


def film_stack():
    return [keras.layers.Dense(6), layers.FiLM(2, kernel_initializer="glorot_uniform"), keras.layers.ReLU()]


def conv(filters):
    return keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")


CASES = {
    # name: (class, init kwargs, input shape, call kwargs, expected output shape, trainable, non-trainable)
    "heads_all": (layers.TaskHeads, {"output_units": [3, 1], "hidden_units": [4]}, (4, 5), {}, [(4, 3), (4, 1)], 8, 0),
    "heads_one": (layers.TaskHeads, {"output_units": [3, 1]}, (4, 5), {"task_index": 1}, (4, 1), 4, 0),
    "embedding_one_hot": (layers.TaskEmbedding, {"num_tasks": 3}, None, {}, (4, 3), 0, 0),
    "embedding_learned": (layers.TaskEmbedding, {"num_tasks": 3, "mode": "learned", "output_dim": 2}, None, {}, (4, 2), 3, 0),
    "concat_int": (layers.ConcatConditioning, {"num_tasks": 3, "units": 6}, (4, 5), {"task_index": 1}, (4, 6), 2, 0),
    "concat_ids_map": (layers.ConcatConditioning, {"num_tasks": 3, "units": 6}, (4, 3, 3, 2), {"task_index": IDS}, (4, 3, 3, 6), 2, 0),
    "concat_learned_all": (
        layers.ConcatConditioning,
        {"num_tasks": 3, "units": 2, "descriptor": "learned", "descriptor_dim": 4},
        (4, 5),
        {},
        [(4, 2)] * 3,
        5,
        0,
    ),
    "additive_ids": (layers.AdditiveConditioning, {"num_tasks": 3}, (4, 5), {"task_index": IDS}, (4, 5), 3, 0),
    "additive_learned_map": (
        layers.AdditiveConditioning,
        {"num_tasks": 3, "descriptor": "learned", "descriptor_dim": 2, "kernel_initializer": "glorot_uniform"},
        (4, 3, 3, 2),
        {"task_index": IDS},
        (4, 3, 3, 2),
        5,
        0,
    ),
    "multiplicative_all": (layers.MultiplicativeConditioning, {"num_tasks": 3}, (4, 5), {}, [(4, 5)] * 3, 3, 0),
    "multiplicative_gate_map": (
        layers.MultiplicativeConditioning,
        {"num_tasks": 3, "activation": "sigmoid"},
        (4, 3, 3, 2),
        {"task_index": 2},
        (4, 3, 3, 2),
        3,
        0,
    ),
    "film_ids_map": (layers.FiLM, {"num_tasks": 3}, (4, 3, 3, 2), {"task_index": IDS}, (4, 3, 3, 2), 6, 0),
    "film_learned": (
        layers.FiLM,
        {"num_tasks": 3, "descriptor": "learned", "descriptor_dim": 2, "kernel_initializer": "glorot_uniform"},
        (4, 5),
        {"task_index": 0},
        (4, 5),
        7,
        0,
    ),
    "shared_with_task_id": (layers.SharedWithTaskId, {"layer": dense(), "num_tasks": 3}, (4, 5), {"task_index": IDS}, (4, 3), 2, 0),
    "shared_with_task_id_seq": (
        layers.SharedWithTaskId,
        {"layer": keras.Sequential([keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)]), "num_tasks": 2},
        (4, 5),
        {},
        [(4, 2)] * 2,
        4,
        0,
    ),
    "task_specific": (layers.TaskSpecific, {"layer": dense(), "num_tasks": 3}, (4, 5), {}, [(4, 3)] * 3, 6, 0),
    "task_specific_bn": (
        layers.TaskSpecific,
        {"layer": keras.Sequential([keras.layers.Dense(3), keras.layers.BatchNormalization()]), "num_tasks": 2},
        (4, 5),
        {"task_index": 1},
        (4, 3),
        8,
        4,
    ),
    "soft_sharing": (layers.SoftSharing, {"layer": dense(), "num_tasks": 3, "penalty_weight": 0.1}, (4, 5), {}, [(4, 3)] * 3, 6, 1),
    "soft_sharing_pairs_l2": (
        layers.SoftSharing,
        {"layer": dense(), "num_tasks": 2, "pairing": "all_pairs", "norm": "l2"},
        (4, 5),
        {"task_index": 0},
        (4, 3),
        4,
        1,
    ),
    "cross_stitch_unit": (layers.CrossStitch, {"num_tasks": 2}, [(4, 5), (4, 5)], {}, [(4, 5)] * 2, 2, 0),
    "cross_stitch_block": (
        layers.CrossStitch,
        {"num_tasks": 3, "layer": dense(), "per_channel": True},
        (4, 5),
        {"task_index": 2},
        (4, 3),
        9,
        0,
    ),
    "mmoe": (layers.MMoE, {"num_tasks": 2, "num_experts": 3, "expert_units": [4]}, (4, 5), {}, [(4, 4)] * 2, 10, 0),
    "mmoe_one": (layers.MMoE, {"num_tasks": 2, "num_experts": 2, "expert_units": [4, 2]}, (4, 5), {"task_index": 1}, (4, 2), 12, 0),
    "cgc": (layers.CGC, {"num_tasks": 2, "num_task_experts": 1, "num_shared_experts": 2, "expert_units": [4]}, (4, 5), {}, [(4, 4)] * 2, 12, 0),
    "cgc_per_task_inputs": (layers.CGC, {"num_tasks": 2, "expert_units": [3]}, [(4, 5), (4, 5)], {}, [(4, 3)] * 2, 10, 0),
    "dselect_k": (layers.DSelectK, {"num_tasks": 2, "num_experts": 4, "k": 2, "expert_units": [3]}, (4, 5), {}, [(4, 3)] * 2, 16, 0),
    "dselect_k_static_one": (
        layers.DSelectK,
        {"num_tasks": 2, "num_experts": 3, "k": 2, "expert_units": [3], "gating": "static", "entropy_weight": 0.1},
        (4, 5),
        {"task_index": 1},
        (4, 3),
        10,
        0,
    ),
    "mtan": (layers.MTAN, {"num_tasks": 2, "stages": [conv(4), conv(6)]}, (4, 10, 14, 1), {}, [(4, 6)] * 2, 39, 18),
    "mtan_one_map": (
        layers.MTAN,
        {"num_tasks": 3, "stages": [conv(4)], "attention_units": 2, "pooling": None},
        (4, 8, 8, 2),
        {"task_index": 2},
        (4, 4, 4, 4),
        26,
        12,
    ),
    "ple": (layers.PLE, {"num_tasks": 2, "num_levels": 2, "expert_units": [4]}, (4, 5), {}, [(4, 4)] * 2, 22, 0),
    "ple_one": (layers.PLE, {"num_tasks": 3, "num_levels": 2, "num_shared_experts": 2, "expert_units": [3]}, (4, 5), {"task_index": 1}, (4, 3), 34, 0),
    # the zoo's stack of shared and task-aware layers, and its ResNet block
    "stack_all_tasks": (layers.TaskStack, {"layers": film_stack(), "num_tasks": 2}, (4, 5), {}, [(4, 6)] * 2, 6, 0),
    "stack_one_task": (layers.TaskStack, {"layers": film_stack(), "num_tasks": 2}, (4, 5), {"task_index": 1}, (4, 6), 6, 0),
    "stack_ids": (layers.TaskStack, {"layers": film_stack(), "num_tasks": 2}, (4, 5), {"task_index": IDS % 2}, (4, 6), 6, 0),
    "stack_columns": (
        layers.TaskStack,
        {
            "layers": [layers.CrossStitch(2, layer=dense()), keras.layers.ReLU(), layers.CrossStitch(2)],
            "num_tasks": 2,
            "mode": "columns",
        },
        (4, 5),
        {},
        [(4, 3)] * 2,
        8,
        0,
    ),
    "residual_projection": (layers.ResidualBlock, {"filters": 4, "strides": 2}, (2, 8, 8, 3), {}, (2, 4, 4, 4), 9, 6),
    "residual_identity": (layers.ResidualBlock, {"filters": 3}, (2, 6, 6, 3), {}, (2, 6, 6, 3), 6, 4),
    # the model itself: config round trip (tasks, sampler, sampling options), outputs by task, `.keras` reload
    "model": (
        mk.MultiTaskModel,
        {"tasks": [mk.Task("a", num_classes=3), mk.Task("b", kind="regression", label_scaling="standard")],
         "body": keras.Sequential([keras.layers.Dense(4, activation="relu")]), "input_shape": (5,)},
        (4, 5),
        {},
        {"a": (4, 3), "b": (4, 1)},
        6,
        5,
    ),
    "model_task_aware_body": (
        mk.MultiTaskModel,
        {"tasks": [mk.Task("a", kind="binary"), mk.Task("b", kind="regression", units=2)], "body": layers.TaskStack(film_stack(), num_tasks=2),
         "input_shape": (5,), "sampler": mk.samplers.ProportionalSampler([1, 3], alpha=0.5), "tasks_per_step": 1, "seed": 3},
        (4, 5),
        {},
        {"a": (4, 1), "b": (4, 2)},
        10,
        1,  # the sampler's epoch origin
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_contract(name):
    cls, init_kwargs, input_shape, call_kwargs, output_shape, trainable, non_trainable = CASES[name]
    input_data = IDS if input_shape is None else None
    run_layer_test(
        cls,
        init_kwargs,
        input_shape=input_shape,
        input_data=input_data,
        call_kwargs=call_kwargs,
        expected_output_shape=output_shape,
        expected_num_trainable_weights=trainable,
        expected_num_non_trainable_weights=non_trainable,
    )


def test_every_public_layer_is_covered():
    covered = {case[0] for case in CASES.values()}
    public = {getattr(layers, name) for name in layers.__all__} - {layers.TaskAwareLayer, layers.TaskConditioning}
    assert public <= covered, sorted(c.__name__ for c in public - covered)
