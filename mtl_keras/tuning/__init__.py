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

from mtl_keras.tuning.hypermodel import SEARCHABLE, WEIGHT_SPACES, MultiTaskHyperModel, has_soft_sharing
from mtl_keras.tuning.objective import BASELINES_FILE, MultiTaskObjective, ObjectiveLogger, task_metric_names
from mtl_keras.tuning.search import (
    TUNERS,
    TuningResult,
    benchmark_streams,
    collect_results,
    is_worker,
    make_tuner,
    summary_table,
    tune,
)

__all__ = [
    "BASELINES_FILE",
    "SEARCHABLE",
    "TUNERS",
    "WEIGHT_SPACES",
    "MultiTaskHyperModel",
    "MultiTaskObjective",
    "ObjectiveLogger",
    "TuningResult",
    "benchmark_streams",
    "collect_results",
    "has_soft_sharing",
    "is_worker",
    "make_tuner",
    "summary_table",
    "task_metric_names",
    "tune",
]
