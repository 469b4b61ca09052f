"""The sharing strategies of the zoo and the one builder that assembles them on a backbone.

A zoo model is a backbone (`"mlp"`, `"conv"` or `"resnet"`, a list of stages of given sizes)
arranged by a sharing strategy (`family`), plus linear (or small MLP) heads. `FAMILIES` holds
each strategy's description, paper and own arguments as plain data; `build_model` turns a
family, a backbone and settings into a `MultiTaskModel`.
"""

import math
import numbers

import keras

from mtl_keras import layers as mtl_layers
from mtl_keras.layers import ResidualBlock, TaskStack
from mtl_keras.model import MultiTaskModel

FAMILIES = {
    "independent": {
        "description": "Independent networks, one per task: nothing shared",
        "paper": None,
        "arguments": (),
    },
    "shared_concat": {
        "description": "One fully shared network fed the input and the task id (one-hot or learned)",
        "paper": "Caruana, Multitask Learning, Machine Learning 1997",
        "arguments": ("descriptor",),
    },
    "hard_sharing": {
        "description": "Hard parameter sharing: a shared trunk and a head per task",
        "paper": "Caruana, Multitask Learning, Machine Learning 1997",
        "arguments": (),
    },
    "additive": {
        "description": "Shared layers conditioned on the task by a learned per-task bias after each layer",
        "paper": "Dumoulin et al., Feature-wise transformations, Distill 2018",
        "arguments": ("descriptor",),
    },
    "multiplicative": {
        "description": "Shared layers conditioned on the task by a learned per-task scale (gate) after each layer",
        "paper": "Dumoulin et al., Feature-wise transformations, Distill 2018",
        "arguments": ("descriptor", "gate_activation"),
    },
    "film": {
        "description": "Shared layers with feature-wise linear modulation (per-task scale and shift) after each layer",
        "paper": "Perez et al., FiLM: Visual Reasoning with a General Conditioning Layer, AAAI 2018",
        "arguments": ("descriptor",),
    },
    "soft_sharing": {
        "description": "A network per task, with an L2 penalty pulling the tasks' parameters together",
        "paper": "Duong et al., Low Resource Dependency Parsing: Cross-lingual Parameter Sharing, ACL 2015",
        "arguments": ("penalty_weight",),
    },
    "cross_stitch": {
        "description": "A column per task, the columns' features mixed by learned cross-stitch units after each layer",
        "paper": "Misra et al., Cross-stitch Networks for Multi-task Learning, CVPR 2016",
        "arguments": ("self_weight", "per_channel"),
    },
    "mmoe": {
        "description": "Multi-gate mixture of experts: shared experts, one softmax gate per task",
        "paper": "Ma et al., Modeling Task Relationships in Multi-task Learning with Multi-gate MoE, KDD 2018",
        "arguments": ("num_experts", "expert_units"),
    },
    "ple": {
        "description": "Progressive layered extraction: levels of shared and task-specific experts with gates",
        "paper": "Tang et al., Progressive Layered Extraction (PLE), RecSys 2020",
        "arguments": ("num_levels", "num_task_experts", "num_shared_experts", "expert_units"),
    },
    "dselect_k": {
        "description": "Mixture of experts whose per-task DSelect-k gates (smooth-step, binary-encoded selectors) select at most k experts",
        "paper": "Hazimeh et al., DSelect-k: Differentiable Selection in the Mixture of Experts with Applications to MTL, NeurIPS 2021",
        "arguments": ("num_experts", "k", "gamma", "gating", "entropy_weight", "expert_units"),
    },
    "mtan": {
        "description": "Multi-task attention network: per-task soft-attention masks on every stage of a shared conv backbone",
        "paper": "Liu, Johns, Davison, End-to-End Multi-Task Learning with Attention, CVPR 2019",
        "arguments": ("attention_units",),
        "backbones": ("conv", "resnet"),
    },
}

BACKBONES = {
    "mlp": {"input_kind": "vector", "size_argument": "units", "label": "MLP"},
    "conv": {"input_kind": "image", "size_argument": "filters", "label": "small conv net"},
    "resnet": {"input_kind": "image", "size_argument": "filters", "label": "small ResNet"},
}

#: Arguments of every zoo model; `sampler`, `tasks_per_step` and `seed` go to `MultiTaskModel`.
COMMON_ARGUMENTS = ("head_units", "activation", "name", "sampler", "tasks_per_step", "seed")
#: Arguments of every model on an image backbone.
IMAGE_ARGUMENTS = ("pooling",)
#: How image backbones turn the last feature map into the heads' input.
POOLINGS = {"avg": "global average pooling", "flatten": "flattening (keeps where each feature is)"}

_CONDITIONING = {
    "additive": lambda t, s: mtl_layers.AdditiveConditioning(t, descriptor=s["descriptor"]),
    "multiplicative": lambda t, s: mtl_layers.MultiplicativeConditioning(
        t, activation=s["gate_activation"], descriptor=s["descriptor"]
    ),
    "film": lambda t, s: mtl_layers.FiLM(t, descriptor=s["descriptor"]),
}

#: Defaults of the family arguments (variants' presets override the sizes).
FAMILY_DEFAULTS = {
    "descriptor": "one_hot",
    "gate_activation": None,
    "penalty_weight": 0.01,
    "self_weight": 0.9,
    "per_channel": False,
    "num_experts": 4,
    "expert_units": (32,),
    "num_levels": 2,
    "num_task_experts": 1,
    "num_shared_experts": 1,
    "k": 2,
    "gamma": 1.0,
    "gating": "per_example",
    "entropy_weight": 0.0,
    "attention_units": None,
    "pooling": "avg",
    "head_units": (),
    "activation": "relu",
    "name": None,
    "sampler": "uniform",
    "tasks_per_step": None,
    "seed": 0,
}


def family_backbones(family):
    """The backbones a family is built on (all of `BACKBONES` unless the family says otherwise)."""
    return tuple(FAMILIES[family].get("backbones", BACKBONES))


def family_arguments(family, backbone):
    """The overrides a model of `family` on `backbone` accepts."""
    size = BACKBONES[backbone]["size_argument"]
    own = FAMILIES[family]["arguments"]
    if backbone == "mlp" and family in ("mmoe", "ple", "dselect_k"):
        own = tuple(a for a in own if a != "expert_units")  # the experts are the MLP: sized by `units`
    image = IMAGE_ARGUMENTS if BACKBONES[backbone]["input_kind"] == "image" else ()
    return (size,) + own + image + COMMON_ARGUMENTS


def _stem(backbone, sizes):
    if backbone != "resnet":
        return []
    return [
        keras.layers.Conv2D(sizes[0], 3, padding="same", use_bias=False, name="stem_conv"),
        keras.layers.BatchNormalization(name="stem_bn"),
        keras.layers.ReLU(name="stem_relu"),
    ]


def _stage(backbone, size, index, activation):
    """Stage `index` of the backbone, without its final activation (None for ResNet: built in)."""
    if backbone == "mlp":
        return keras.layers.Dense(size, name=f"dense{index}"), keras.layers.Activation(activation, name=f"act{index}")
    if backbone == "conv":
        conv = keras.layers.Conv2D(size, 3, strides=2, padding="same", name=f"conv{index}")
        return conv, keras.layers.Activation(activation, name=f"act{index}")
    return ResidualBlock(size, strides=1 if index == 0 else 2, activation=activation, name=f"block{index}"), None


def _pool(backbone, pooling="avg"):
    if backbone == "mlp":
        return []
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {sorted(POOLINGS)}. Received: pooling={pooling!r}")
    if pooling == "flatten":
        return [keras.layers.Flatten(name="pool")]
    return [keras.layers.GlobalAveragePooling2D(name="pool")]


def _backbone_layers(backbone, sizes, activation, pooling="avg"):
    layers = _stem(backbone, sizes)
    for i, size in enumerate(sizes):
        layers += [layer for layer in _stage(backbone, size, i, activation) if layer is not None]
    return layers + _pool(backbone, pooling)


def _sequential(backbone, sizes, activation, pooling="avg", name="trunk"):
    return keras.Sequential(_backbone_layers(backbone, sizes, activation, pooling), name=name)


def build_body(family, backbone, num_tasks, settings):
    """The body (`θ_sh` and the tasks' own layers) of a zoo model: a Keras layer."""
    size_arg = BACKBONES[backbone]["size_argument"]
    raw = settings[size_arg]
    if not isinstance(raw, (tuple, list)) or not raw or any(
        isinstance(s, bool) or not isinstance(s, numbers.Real) or not math.isfinite(s) or s != int(s) or s < 1 for s in raw
    ):
        raise ValueError(f"{size_arg} must be a non-empty tuple of positive integers. Received: {size_arg}={raw!r}")
    sizes = tuple(int(s) for s in raw)
    act, pool = settings["activation"], settings["pooling"]
    if family == "hard_sharing":
        return _sequential(backbone, sizes, act, pool)
    if family == "independent":
        return mtl_layers.TaskSpecific(_sequential(backbone, sizes, act, pool), num_tasks, name="independent")
    if family == "soft_sharing":
        return mtl_layers.SoftSharing(
            _sequential(backbone, sizes, act, pool), num_tasks, penalty_weight=settings["penalty_weight"], name="soft_sharing"
        )
    if family == "shared_concat":
        return mtl_layers.SharedWithTaskId(
            _sequential(backbone, sizes, act, pool), num_tasks, descriptor=settings["descriptor"], name="shared_concat"
        )
    if family in _CONDITIONING:
        layers = _stem(backbone, sizes)
        for i, size in enumerate(sizes):
            stage, activation = _stage(backbone, size, i, act)
            cond = _CONDITIONING[family](num_tasks, settings)
            layers += [stage, cond] + ([activation] if activation is not None else [])
        return TaskStack(layers + _pool(backbone, pool), num_tasks, name=family)
    if family == "cross_stitch":
        layers = []
        for i, size in enumerate(sizes):
            column = [layer for layer in _stage(backbone, size, i, act) if layer is not None]
            if i == 0:
                column = _stem(backbone, sizes) + column
            layers.append(
                mtl_layers.CrossStitch(
                    num_tasks,
                    layer=keras.Sequential(column, name=f"column{i}"),
                    self_weight=settings["self_weight"],
                    per_channel=settings["per_channel"],
                    name=f"stitch{i}",
                )
            )
        return TaskStack(layers + _pool(backbone, pool), num_tasks, mode="columns", name="cross_stitch")
    if family == "mtan":
        if backbone not in family_backbones(family):
            raise ValueError(f"MTAN is a convolutional architecture; it has no '{backbone}' backbone.")
        stages = [keras.Sequential([layer for layer in _stage(backbone, size, i, act) if layer is not None], name=f"stage{i}")
                  for i, size in enumerate(sizes)]
        if backbone == "resnet":  # the stem belongs to the first stage (attention after its first block)
            stages[0] = keras.Sequential(_stem(backbone, sizes) + list(stages[0].layers), name="stage0")
        if pool not in POOLINGS:
            raise ValueError(f"pooling must be one of {sorted(POOLINGS)}. Received: pooling={pool!r}")
        return mtl_layers.MTAN(num_tasks, stages, attention_units=settings["attention_units"], pooling=pool, name="mtan")
    if family in ("mmoe", "ple", "dselect_k"):
        expert_units = sizes if backbone == "mlp" else tuple(settings["expert_units"])
        if family == "dselect_k":
            experts = mtl_layers.DSelectK(
                num_tasks,
                settings["num_experts"],
                k=settings["k"],
                expert_units=expert_units,
                expert_activation=act,
                gamma=settings["gamma"],
                gating=settings["gating"],
                entropy_weight=settings["entropy_weight"],
                name="dselect_k",
            )
        elif family == "mmoe":
            experts = mtl_layers.MMoE(
                num_tasks, settings["num_experts"], expert_units=expert_units, expert_activation=act, name="mmoe"
            )
        else:
            experts = mtl_layers.PLE(
                num_tasks,
                num_levels=settings["num_levels"],
                num_task_experts=settings["num_task_experts"],
                num_shared_experts=settings["num_shared_experts"],
                expert_units=expert_units,
                expert_activation=act,
                name="ple",
            )
        if backbone == "mlp":
            return experts
        return TaskStack([_sequential(backbone, sizes, act, pool, name="backbone"), experts], num_tasks, name=family)
    raise ValueError(f"Unknown family: {family!r}. Families: {sorted(FAMILIES)}")


def build_model(model_name, family, backbone, tasks, input_shape, preset, overrides):
    """Builds zoo model `model_name`: `family` on `backbone`, `preset` sizes updated by `overrides`."""
    accepted = family_arguments(family, backbone)
    unknown = sorted(set(overrides) - set(accepted))
    if unknown:
        raise ValueError(
            f"Model '{model_name}' does not take the argument '{unknown[0]}'. Accepted arguments: {', '.join(accepted)}."
        )
    settings = {**FAMILY_DEFAULTS, **preset, **overrides}
    try:
        body = build_body(family, backbone, len(tasks), settings)
        heads = mtl_layers.TaskHeads([t.output_units for t in tasks], hidden_units=settings["head_units"], name="heads")
        return MultiTaskModel(
            tasks,
            body=body,
            heads=heads,
            sampler=settings["sampler"],
            tasks_per_step=settings["tasks_per_step"],
            seed=settings["seed"],
            input_shape=input_shape,
            name=settings["name"] or model_name,
        )
    except ValueError as error:
        raise ValueError(f"Model '{model_name}': {error}") from error


def make_factory(model_name, family, backbone, preset):
    """A factory `(tasks, input_shape=None, **overrides) -> MultiTaskModel` for one variant."""

    def factory(tasks, input_shape=None, **overrides):
        return build_model(model_name, family, backbone, tasks, input_shape, preset, overrides)

    factory.__name__ = model_name
    factory.__qualname__ = model_name
    factory.__doc__ = (
        f"`{model_name}`: {FAMILIES[family]['description']} ({BACKBONES[backbone]['label']} backbone).\n\n"
        f"Preset: {preset}. Overrides: {', '.join(family_arguments(family, backbone))}."
    )
    factory.accepted_arguments = family_arguments(family, backbone)
    return factory
