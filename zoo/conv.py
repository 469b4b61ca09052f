"""Zoo models for image inputs: every sharing strategy on a small conv net or a small ResNet.

Variants per family: `<family>_conv` (two strided 3x3 convolutions, 16 and 32 filters),
`<family>_resnet` (a stem and two residual blocks, 16 and 32 filters), and the tiny
`test_<family>_conv` / `test_<family>_resnet`. Image models take inputs of shape
`(height, width, channels)`; conditioning (FiLM, additive, multiplicative) acts on the
channels of every stage, cross-stitch units mix the tasks' columns after every stage, MTAN
puts a soft-attention module per task on every stage of the shared backbone, and MMoE / PLE /
DSelect-k experts sit on the pooled features of a shared backbone.
"""

from mtl_keras.zoo._families import FAMILIES, family_backbones, make_factory
from mtl_keras.zoo._registry import register_model

#: Backbone -> variant -> preset sizes.
IMAGE_PRESETS = {
    "conv": {
        "base": {"filters": (16, 32), "expert_units": (32,), "num_experts": 4},
        "test": {"filters": (4,), "expert_units": (4,), "num_experts": 2},
    },
    "resnet": {
        "base": {"filters": (16, 32), "expert_units": (32,), "num_experts": 4},
        "test": {"filters": (4,), "expert_units": (4,), "num_experts": 2},
    },
}


def image_model_name(family, backbone, variant):
    """`film_conv`, `test_film_conv`, `film_resnet`, `test_film_resnet`."""
    return f"test_{family}_{backbone}" if variant == "test" else f"{family}_{backbone}"


def _register_all():
    for backbone, presets in IMAGE_PRESETS.items():
        label = "conv net" if backbone == "conv" else "ResNet"
        for family, info in FAMILIES.items():
            if backbone not in family_backbones(family):
                continue
            for variant, preset in presets.items():
                name = image_model_name(family, backbone, variant)
                register_model(
                    name,
                    description=f"{info['description']} (small {label}, {variant})",
                    paper=info["paper"],
                    family=family,
                    input_kind="image",
                    backbone=backbone,
                    variant=variant,
                    preset=dict(preset),
                )(make_factory(name, family, backbone, preset))


_register_all()
