"""Zoo models for vector (tabular) inputs: every sharing strategy on an MLP.

Variants per family (every family but the convolutional `mtan`): `<family>_mlp` (two layers of 64), `<family>_mlp_small` (one layer of 32)
and `test_<family>_mlp` (tiny, for tests). Sizes are presets (plain data); any of them can be
overridden in `create_model`, e.g. `create_model("film_mlp", tasks, units=(128, 64))`.
"""

from mtl_keras.zoo._families import FAMILIES, family_backbones, make_factory
from mtl_keras.zoo._registry import register_model

#: Variant suffix -> preset sizes.
MLP_PRESETS = {
    "base": {"units": (64, 64), "num_experts": 4, "num_levels": 2},
    "small": {"units": (32,), "num_experts": 3, "num_levels": 1},
    "test": {"units": (8,), "num_experts": 2, "num_levels": 2},
}


def mlp_model_name(family, variant):
    """`film_mlp`, `film_mlp_small`, `test_film_mlp`."""
    if variant == "base":
        return f"{family}_mlp"
    if variant == "test":
        return f"test_{family}_mlp"
    return f"{family}_mlp_{variant}"


def _register_all():
    for family, info in FAMILIES.items():
        if "mlp" not in family_backbones(family):
            continue
        for variant, preset in MLP_PRESETS.items():
            name = mlp_model_name(family, variant)
            register_model(
                name,
                description=f"{info['description']} (MLP, {variant})",
                paper=info["paper"],
                family=family,
                input_kind="vector",
                backbone="mlp",
                variant=variant,
                preset=dict(preset),
            )(make_factory(name, family, "mlp", preset))


_register_all()
