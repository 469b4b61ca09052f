"""Trade-offs between tasks: Pareto-front sweeps and one preference-conditioned model for the whole front.

- **Sweep** (`sweep`): trains a model per weight vector on the simplex (`simplex_grid` for 2 or 3 tasks,
  `dirichlet_weights` beyond) and per chosen weighting strategy, evaluates every run on a test split,
  marks the non-dominated runs (`non_dominated`), computes the hypervolume (`hypervolume`, reference
  point `reference_point`) and plots the front (`plot_front`). Resumable; results in JSON / CSV /
  Markdown plus a figure. Command line: `mtl-keras pareto`.
- **Preference model** (`PreferenceModel`, `PreferenceBody`, `PreferenceFiLM`, `PreferenceObjective`):
  a network conditioned on `r ∈ Δ^{T-1}` through FiLM, trained with `r ~ Dirichlet(α)` at each step on
  `Σ r_i L_i − λ cos(r, L)` (COSMOS); `predict(x, preference=r)`. Zoo: `cosmos_mlp`, `cosmos_conv`.
- **Serving** (`export_preference_model`): a SavedModel whose signature takes `inputs` and a
  `preference` `(batch, T)` checked in the graph.
"""

from mtl_keras._lazy import lazy_attributes

_NAMES = {
    "simplex_grid": ".simplex",
    "dirichlet_weights": ".simplex",
    "default_weights": ".simplex",
    "check_preference": ".simplex",
    "check_weight_vectors": ".simplex",
    "non_dominated": ".front",
    "hypervolume": ".front",
    "reference_point": ".front",
    "PreferenceFiLM": ".layers",
    "PreferenceBody": ".layers",
    "PreferenceObjective": ".objective",
    "PreferenceModel": ".model",
    "export_preference_model": ".export",
    "sweep": ".sweep",
    "SweepResult": ".sweep",
    "plot_front": ".plot",
}
__getattr__, __dir__ = lazy_attributes(__name__, _NAMES, ("cli", "export", "front", "layers", "model", "objective", "plot", "simplex", "sweep"))

__all__ = sorted(_NAMES)
