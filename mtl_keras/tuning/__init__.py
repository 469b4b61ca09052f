"""Hyper-parameter search for multi-task models with KerasTuner.

Searches the per-task loss weights (log scale or on the simplex), the soft-sharing coefficient
`λ`, the learning rate, the weighting strategy and the zoo model, scoring each trial by a
multi-task objective: Δm against single-task baselines by default, or a named metric. Random
search, Bayesian optimisation and Hyperband, resumable (`overwrite=False`), and distributed with
KerasTuner's chief/worker mode. The `mtl-keras tune` command is in `mtl_keras.tuning.cli`.

Example:

>>> from mtl_keras import tuning
>>> result = tuning.tune("gradnorm_scales", "hard_sharing_mlp_small", "weights,lr", max_trials=10,
...                      epochs=5, directory="runs/tune")
>>> result.best["weights"], result.best_score
"""

from mtl_keras._lazy import lazy_attributes
from mtl_keras.tuning.choices import SEARCHABLE, TUNER_NAMES, WEIGHT_SPACES

# Loaded on first use: `mtl-keras tune --help` (and `import mtl_keras`) must not import KerasTuner.
_HYPERMODEL = ("MultiTaskHyperModel", "has_soft_sharing")
_OBJECTIVE = ("BASELINES_FILE", "MultiTaskObjective", "ObjectiveLogger", "task_metric_names")
_SEARCH = ("TUNERS", "TuningResult", "benchmark_streams", "collect_results", "is_worker", "make_tuner", "summary_table", "tune")
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        **dict.fromkeys(_HYPERMODEL, ".hypermodel"),
        **dict.fromkeys(_OBJECTIVE, ".objective"),
        **dict.fromkeys(_SEARCH, ".search"),
    },
    ("cli", "choices", "hypermodel", "objective", "search"),
)

__all__ = ["SEARCHABLE", "TUNER_NAMES", "WEIGHT_SPACES", *_HYPERMODEL, *_OBJECTIVE, *_SEARCH]
