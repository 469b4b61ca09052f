"""Fair baselines: a single-task model with the shared model's parameter count, and tuned equal weights.

A multi-task model is usually compared with one network per task of the same width, which has
`T` times the body's parameters. Two more references make the comparison fair (Kurin et al.,
NeurIPS 2022; Xin et al., NeurIPS 2022):

- `param_matched`: the `independent` zoo model (one network per task) with its widths scaled
  until its total parameter count is the closest to the shared model's;
- `tune_equal_weight`: plain equal-weight multi-task training with its learning rate and weight
  decay searched by KerasTuner on the validation split, the baseline every adaptive weighting
  has to beat.
"""

import json
import os
import re
import time

from .config import matched_baseline

_PARAM_CACHE = {}
#: Largest width probed for a parameter-matched baseline.
MAX_WIDTH = 4096


def _size_argument(name):
    from mtl_keras import zoo

    return "units" if zoo.MODELS.metadata(name).get("backbone") == "mlp" else "filters"


def _count(name, tasks, input_shape, overrides):
    from mtl_keras import zoo

    return int(zoo.create_model(name, tasks=tasks, input_shape=input_shape, **overrides).count_params())


def param_matched(model, tasks, input_shape, overrides=None):
    """The `independent` model whose parameter count is the closest to `model`'s, for `tasks` and `input_shape`.

    The widths of the matched `independent` variant (`units` of an MLP, `filters` of a conv net)
    are scaled together, `w_j = round(w · s_j / s_1)` for its preset sizes `s_j`, and the first
    width `w` is found by bisection on the parameter count (which grows with `w`).

    Args:
        model: the shared zoo model.
        tasks: the benchmark's tasks.
        input_shape: the input shape the model sees.
        overrides: the shared model's `create_model` overrides (they count toward its size).

    Returns:
        A dict: `model` (the independent model's name), `overrides` (`{"units": (...)}` or
        `{"filters": (...)}`), `params` (its count) and `target` (the shared model's count).
    """
    from mtl_keras import zoo

    overrides = dict(overrides or {})
    cache_key = (model, tuple(input_shape), json.dumps([t.get_config() for t in tasks], sort_keys=True, default=str),
                 json.dumps(overrides, sort_keys=True, default=str))
    if cache_key in _PARAM_CACHE:
        return dict(_PARAM_CACHE[cache_key])
    target = _count(model, tasks, input_shape, overrides)
    base = matched_baseline(model)
    if base is None:
        raise ValueError(f"No independent zoo model matches '{model}'.")
    size = _size_argument(base)
    sizes = tuple(int(s) for s in overrides.get(size, zoo.MODELS.metadata(base)["preset"][size]))

    def widths(first):
        return tuple(max(1, round(first * s / sizes[0])) for s in sizes)

    kept = {k: v for k, v in overrides.items() if k != size and k in zoo.accepted_arguments(base)}  # e.g. pooling
    counts = {}

    def count(first):
        if first not in counts:
            counts[first] = _count(base, tasks, input_shape, {**kept, size: widths(first)})
        return counts[first]

    low, high = 1, max(1, sizes[0])
    while count(high) < target and high < MAX_WIDTH:
        low, high = high, min(2 * high, MAX_WIDTH)
    while high - low > 1:  # count(low) < target <= count(high), or the bounds of the search
        middle = (low + high) // 2
        if count(middle) < target:
            low = middle
        else:
            high = middle
    best = min((low, high), key=lambda w: (abs(count(w) - target), w))
    result = {"model": base, "overrides": {**kept, size: widths(best)}, "params": count(best), "target": target}
    _PARAM_CACHE[cache_key] = result
    return dict(result)


def tune_equal_weight(config, key, bench, reference, out_dir):
    """Searches the learning rate and weight decay of equal-weight training of `key.model` with KerasTuner.

    Random search over `config.tuning_trials` trials, learning rate and decoupled weight decay
    (AdamW) both log-uniform in `config.tuning_lr_range` / `config.tuning_weight_decay_range`,
    static equal weights, trained like every run of the grid (`epochs`, `steps_per_epoch`,
    early stopping) on `bench`'s training split. A trial's score is its best epoch's Δm on the
    validation split against `reference`, the single-task baseline's validation results
    (`mtl_keras.tuning.MultiTaskObjective`). The search lives in
    `out_dir/tuning/<benchmark>__<model>__<settings hash>`, so an interrupted search resumes.

    Returns:
        The tuning record: `best` (`learning_rate`, `weight_decay`), `best_score` (validation
        Δm %), `trials` (each trial's values and score) and the run's identification.
    """
    from mtl_keras.tuning import MultiTaskHyperModel, MultiTaskObjective, collect_results, make_tuner

    from . import monitor
    from .run import settings, streams

    start = time.perf_counter()
    train, validation, _, input_shape, fit_kwargs = streams(config, key, bench, key.model)
    objective = MultiTaskObjective(baselines=reference)
    hypermodel = MultiTaskHyperModel(
        bench.tasks,
        input_shape,
        model=key.model,
        search="lr,weight_decay",
        lr_range=config.tuning_lr_range,
        weight_decay_range=config.tuning_weight_decay_range,
        objective=objective,
        model_overrides=config.model_options.get(key.model, {}),
        seed=key.seed,
        name=f"{key.spec.label} {key.model}",
    )
    run_settings = settings(config, key)
    digest = _digest(run_settings)
    project = re.sub(r"[^A-Za-z0-9_.=-]+", "_", f"{key.spec.label}__{key.model}__{digest}")
    tuner = make_tuner(
        hypermodel, "random", max_trials=config.tuning_trials, directory=os.path.join(out_dir, "tuning"),
        project_name=project, overwrite=False, seed=key.seed,
    )
    callbacks = monitor.early_stopping(config.monitor, config.patience, bench.tasks, restore_best_weights=False) if config.patience else []
    tuner.search(train, validation_data=validation, epochs=config.epochs, callbacks=callbacks, verbose=0, **fit_kwargs)
    result = collect_results(tuner, hypermodel)
    if result.best is None:
        raise RuntimeError(f"no tuning trial of '{key.model}' finished")
    trials = [
        {"learning_rate": t.get("learning_rate"), "weight_decay": t.get("weight_decay"), "score": t["score"], "status": t["status"]}
        for t in result.trials
    ]
    return {
        "id": key.id,
        "benchmark": key.spec.label,
        "benchmark_name": key.spec.name,
        "model": key.model,
        "weighting": key.weighting,
        "seed": key.seed,
        "role": "tuning",
        "settings": run_settings,
        "best": {"learning_rate": float(result.best["learning_rate"]), "weight_decay": float(result.best["weight_decay"])},
        "best_score": float(result.best_score),
        "objective": result.objective,
        "trials": trials,
        "seconds": round(time.perf_counter() - start, 3),
    }


def _digest(value):
    import hashlib

    return hashlib.sha1(json.dumps(value, sort_keys=True).encode()).hexdigest()[:8]
