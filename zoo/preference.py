"""Zoo models conditioned on a preference vector (COSMOS-style): `cosmos_mlp`, `cosmos_conv` and tiny `test_` variants.

Each is a `mtl_keras.pareto.PreferenceModel`: a `PreferenceBody` (FiLM blocks affine in the
preference `r`) and linear heads, trained with `r ~ Dirichlet(alpha)` at each step;
`model.predict(x, preference=r)` picks the trade-off.
"""

from mtl_keras.zoo._registry import register_model

_PAPER = "Ruchte & Grabocka 2021 (COSMOS); Navon et al. 2021 (Pareto HyperNetworks)"
#: name -> (backbone, input kind, preset sizes).
PRESETS = {
    "cosmos_mlp": ("mlp", "vector", {"units": (64, 64)}),
    "test_cosmos_mlp": ("mlp", "vector", {"units": (8,)}),
    "cosmos_conv": ("conv", "image", {"filters": (16, 32), "units": (64,)}),
    "test_cosmos_conv": ("conv", "image", {"filters": (8,), "units": (16,)}),
}


def _factory(name, backbone, preset):
    def factory(
        tasks, input_shape=None, units=None, filters=None, alpha=1.0, cosine_weight=0.1, seed=0, sampler="uniform", tasks_per_step=None, name=name
    ):
        from mtl_keras.pareto import PreferenceBody, PreferenceModel

        sizes = {"units": preset["units"] if units is None else units}
        if backbone == "conv":
            sizes["filters"] = preset["filters"] if filters is None else filters
        body = PreferenceBody(len(tasks), backbone=backbone, name="preference_body", **sizes)
        return PreferenceModel(
            tasks,
            body=body,
            alpha=alpha,
            cosine_weight=cosine_weight,
            seed=seed,
            sampler=sampler,
            tasks_per_step=tasks_per_step,
            input_shape=input_shape,
            name=name,
        )

    return factory


for _name, (_backbone, _kind, _preset) in PRESETS.items():
    register_model(
        _name,
        description=f"preference-conditioned {_backbone.upper() if _backbone == 'mlp' else 'conv net'}: FiLM on r, "
        "one model for the whole trade-off front",
        paper=_PAPER,
        family="preference",
        input_kind=_kind,
        backbone=_backbone,
        variant="test" if _name.startswith("test_") else "base",
        preset=dict(_preset),
    )(_factory(_name, _backbone, _preset))
