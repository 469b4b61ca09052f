"""`sweep`: train a model per weight vector and per weighting strategy, evaluate, and trace the front."""

import csv
import dataclasses
import json
import math
import os
import sys
import time

import numpy as np

from mtl_keras.pareto.front import hypervolume, non_dominated, reference_point
from mtl_keras.pareto.simplex import check_weight_vectors, default_weights

RESULTS_JSON = "pareto_results.json"
RESULTS_CSV = "pareto.csv"
RESULTS_MD = "pareto.md"
FIGURE = "pareto_front.png"


@dataclasses.dataclass
class SweepResult:
    """What `sweep` returns.

    Attributes:
        task_names: the tasks, in the order of the loss vectors.
        rows: one dict per configuration (a weight vector or a strategy): `id`, `kind` (`"weights"` or
            `"strategy"`), `label`, `weights` (or `None`), `losses` (test loss per task, mean over seeds),
            `seconds` (training time, mean over seeds), `seeds`, `non_dominated` (among all rows).
        reference: the reference point of the hypervolume (`reference_point` of every row's losses unless given).
        hypervolume: hypervolume of the fixed-weight rows' losses.
        hypervolume_all: hypervolume of all rows (weights and strategies).
        files: paths written (`json`, `csv`, `markdown`, `figure`), empty without `out_dir`.
    """

    task_names: list
    rows: list
    reference: list
    hypervolume: float
    hypervolume_all: float
    files: dict = dataclasses.field(default_factory=dict)

    def losses(self, kind=None):
        """The loss vectors `(n, T)` of the rows (of one `kind` if given)."""
        rows = [r for r in self.rows if kind is None or r["kind"] == kind]
        return np.asarray([[r["losses"][t] for t in self.task_names] for r in rows], dtype=float).reshape(-1, len(self.task_names))


def weights_id(weights):
    """The id of a fixed-weight run: `weights=0.2500,0.7500`."""
    return "weights=" + ",".join(f"{w:.4f}" for w in weights)


def sweep(
    tasks,
    build_model,
    train_data,
    test_data,
    weights=None,
    strategies=(),
    num_weights=11,
    seeds=(0,),
    optimizer="adam",
    fit_kwargs=None,
    out_dir=None,
    resume=True,
    reference=None,
    plot=True,
    progress=True,
):
    """Trains one model per weight vector and per strategy, evaluates each on `test_data`, and traces the front.

    Each weight vector `w` on the simplex trains a fresh model on `Σ_i w_i L_i` (`StaticWeighting(w)`);
    each named strategy trains a fresh model with that strategy. The objectives of a run are its
    per-task test losses (`<task>_loss` of `evaluate`), averaged over `seeds`. Rows that no other row
    dominates are marked `non_dominated`, and the hypervolume of the fixed-weight rows (and of all rows) is
    computed with respect to `reference` (default: `reference_point` of all rows: per task the worst loss
    plus 10 % of the spread).

    Resumable: with `out_dir`, every finished run is written to `out_dir/pareto_results.json` at once,
    and a later call with `resume=True` skips the runs (id and seed) already there. The report is
    `pareto.csv`, `pareto.md` and the figure `pareto_front.png` (`plot_front`; strategies drawn as stars).

    Args:
        tasks: list of `mtl_keras.Task` (their order is the order of the weights).
        build_model: `build_model(seed)` -> a new, uncompiled `MultiTaskModel` for `tasks`.
        train_data: what `model.fit` takes: an `(x, y)` tuple, a `tf.data` set or a `mtl_keras.data` stream,
            or a callable `train_data(seed)` returning one.
        test_data: an `(x, y)` tuple or a data set for `model.evaluate`.
        weights: weight vectors `(n, T)` on the simplex; `None` for `default_weights(T, num_weights)` (a grid
            for 2 or 3 tasks, Dirichlet draws beyond); `[]` for strategies only.
        strategies: names of weighting strategies (`mtl_keras.weighting`) to train and place on the front.
        num_weights: the number of default weight vectors.
        seeds: seeds of the runs (each configuration is trained once per seed).
        optimizer: an optimizer name, or a callable returning a new optimizer (one per run).
        fit_kwargs: arguments of `model.fit` (e.g. `epochs`, `batch_size`, `verbose`); `verbose=0` by default.
        out_dir: folder of the results (created); `None` keeps them in memory.
        resume: skip runs already in `out_dir/pareto_results.json`.
        reference: the hypervolume's reference point `(T,)`; default as above.
        plot: write the figure (needs `out_dir`).
        progress: print a line per run (`True`), or a callable taking a message.

    Returns:
        A `SweepResult`.

    Raises:
        ValueError: no weight vector and no strategy, a weight vector of the wrong length or off the
            simplex, an unknown strategy, or no seed; the message names the value.
    """
    from mtl_keras import weighting as weighting_module

    task_names = [t.name for t in tasks]
    num_tasks = len(task_names)
    if num_tasks < 2:
        raise ValueError(f"A Pareto sweep needs at least 2 tasks. Received: tasks={task_names}")
    strategies = [strategies] if isinstance(strategies, str) else list(strategies or [])
    for name in strategies:
        if not isinstance(name, str):
            raise ValueError(f"strategies must be names of weighting strategies. Received: strategy={name!r}")
        weighting_module.WEIGHTINGS.get(name)  # unknown: ValueError listing the names
    if weights is None:
        vectors = default_weights(num_tasks, num_weights)
    elif len(weights) == 0:
        if not strategies:
            raise ValueError("The sweep has no weight vectors and no strategies: nothing to train. Received: weights=[]")
        vectors = np.zeros((0, num_tasks))
    else:
        vectors = check_weight_vectors(weights, num_tasks)
    seeds = list(seeds)
    if not seeds:
        raise ValueError(f"seeds must list at least one seed. Received: seeds={seeds!r}")
    fit_kwargs = {"verbose": 0, **dict(fit_kwargs or {})}
    say = progress if callable(progress) else (_print if progress else (lambda message: None))

    configs = [("weights", weights_id(w), [float(v) for v in w]) for w in vectors]
    configs += [("strategy", f"strategy={name}", name) for name in strategies]
    store = _Store(out_dir, task_names, resume)
    total, done = len(configs) * len(seeds), 0
    clock = time.perf_counter()
    for kind, config_id, value in configs:
        for seed in seeds:
            done += 1
            run_id = f"{config_id}|seed={seed}"
            if store.has(run_id):
                say(f"[{done}/{total}] {run_id}: done before, skipped")
                continue
            record = _train_one(kind, value, seed, tasks, build_model, train_data, test_data, optimizer, fit_kwargs)
            store.put(run_id, {"id": config_id, "kind": kind, "value": value, "seed": seed, **record})
            shown = ", ".join(f"{t}={record['losses'][t]:.4f}" for t in task_names)
            say(f"[{done}/{total}] {run_id}: {shown} ({record['seconds']:.1f} s; {time.perf_counter() - clock:.0f} s elapsed)")
    rows = _summarize(store.runs, configs, seeds, task_names)
    result = _finish(rows, task_names, reference)
    if out_dir is not None:
        result.files = write_report(result, out_dir, plot=plot)
        say(f"Hypervolume {result.hypervolume:.4g} (reference {np.round(result.reference, 4).tolist()}); wrote {out_dir}")
    return result


def _train_one(kind, value, seed, tasks, build_model, train_data, test_data, optimizer, fit_kwargs):
    import keras

    from mtl_keras.weighting.static import StaticWeighting

    keras.utils.set_random_seed(seed)
    model = build_model(seed)
    weighting = StaticWeighting(list(value)) if kind == "weights" else value
    model.compile(optimizer=optimizer() if callable(optimizer) else optimizer, weighting=weighting)
    data = train_data(seed) if callable(train_data) else train_data
    start = time.perf_counter()
    if isinstance(data, tuple) and len(data) == 2:
        model.fit(data[0], data[1], **fit_kwargs)
    else:
        model.fit(data, **fit_kwargs)
    seconds = time.perf_counter() - start
    if isinstance(test_data, tuple) and len(test_data) == 2:
        logs = model.evaluate(test_data[0], test_data[1], return_dict=True, verbose=0)
    else:
        logs = model.evaluate(test_data, return_dict=True, verbose=0)
    losses = {t.name: float(logs[f"{t.name}_loss"]) for t in tasks}
    metrics = {k: float(v) for k, v in logs.items()}
    return {"losses": losses, "metrics": metrics, "seconds": seconds}


def _summarize(runs, configs, seeds, task_names):
    rows = []
    for kind, config_id, value in configs:
        records = [runs[f"{config_id}|seed={s}"] for s in seeds if f"{config_id}|seed={s}" in runs]
        if not records:
            continue
        rows.append(
            {
                "id": config_id,
                "kind": kind,
                "label": config_id.split("=", 1)[1] if kind == "strategy" else "(" + ", ".join(f"{v:.2f}" for v in value) + ")",
                "weights": value if kind == "weights" else None,
                "losses": {t: float(np.mean([r["losses"][t] for r in records])) for t in task_names},
                "seconds": float(np.mean([r["seconds"] for r in records])),
                "seeds": [r["seed"] for r in records],
            }
        )
    return rows


def _finish(rows, task_names, reference):
    points = np.asarray([[r["losses"][t] for t in task_names] for r in rows], dtype=float).reshape(-1, len(task_names))
    mask = non_dominated(points) if len(points) else np.zeros(0, bool)
    for row, flag in zip(rows, mask):
        row["non_dominated"] = bool(flag)
    if reference is None:
        reference = reference_point(points)
    reference = np.asarray(reference, dtype=float).reshape(-1)
    if reference.shape[0] != len(task_names):
        raise ValueError(f"reference must have one value per task ({len(task_names)}). Received: reference={reference.tolist()}")
    fixed = np.asarray([[r["losses"][t] for t in task_names] for r in rows if r["kind"] == "weights"]).reshape(-1, len(task_names))
    return SweepResult(
        task_names=task_names,
        rows=rows,
        reference=reference.tolist(),
        hypervolume=hypervolume(fixed, reference) if len(fixed) else 0.0,
        hypervolume_all=hypervolume(points, reference),
    )


def write_report(result, out_dir, plot=True):
    """Writes `pareto.csv`, `pareto.md` (and the figure) for a `SweepResult`; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    files = {"json": os.path.join(out_dir, RESULTS_JSON), "csv": os.path.join(out_dir, RESULTS_CSV), "markdown": os.path.join(out_dir, RESULTS_MD)}
    with open(files["csv"], "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "kind", "label", *[f"{t}_loss" for t in result.task_names], "seconds", "non_dominated"])
        for row in result.rows:
            writer.writerow([row["id"], row["kind"], row["label"], *[f"{row['losses'][t]:.6g}" for t in result.task_names], f"{row['seconds']:.3f}", int(row["non_dominated"])])
    lines = [
        f"Hypervolume (fixed weights): **{result.hypervolume:.4g}**; all runs: {result.hypervolume_all:.4g}; "
        f"reference point {[round(v, 4) for v in result.reference]} (test losses: lower is better).",
        "",
        "| run | " + " | ".join(f"{t} loss" for t in result.task_names) + " | train s | non-dominated |",
        "|---|" + "---:|" * len(result.task_names) + "---:|:---:|",
    ]
    for row in result.rows:
        losses = " | ".join(f"{row['losses'][t]:.4f}" for t in result.task_names)
        lines.append(f"| {row['label']} | {losses} | {row['seconds']:.1f} | {'yes' if row['non_dominated'] else ''} |")
    with open(files["markdown"], "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(files["json"], encoding="utf-8") as f:
        stored = json.load(f)
    stored["summary"] = dataclasses.asdict(dataclasses.replace(result, files={}))
    _atomic_json(files["json"], stored)
    if plot and result.rows:
        from mtl_keras.pareto.plot import plot_front

        files["figure"] = os.path.join(out_dir, FIGURE)
        fixed = result.losses("weights")
        fronts = {"fixed weights": fixed} if len(fixed) else {}
        points = {r["label"]: [r["losses"][t] for t in result.task_names] for r in result.rows if r["kind"] == "strategy"}
        plot_front(fronts, result.task_names, files["figure"], points=points, title=f"Test-loss front (hypervolume {result.hypervolume:.4g})")
    return files


class _Store:
    """The runs of `pareto_results.json`: read at start (when resuming), rewritten atomically after every run."""

    def __init__(self, out_dir, task_names, resume):
        self.path = os.path.join(out_dir, RESULTS_JSON) if out_dir is not None else None
        self.task_names = task_names
        self.runs = {}
        if self.path is not None:
            os.makedirs(out_dir, exist_ok=True)
            if resume and os.path.isfile(self.path):
                with open(self.path, encoding="utf-8") as f:
                    stored = json.load(f)
                if stored.get("task_names") not in (None, task_names):
                    raise ValueError(
                        f"'{self.path}' holds a sweep of the tasks {stored.get('task_names')}, not {task_names}. "
                        "Use another folder, or resume=False to start over."
                    )
                self.runs = dict(stored.get("runs", {}))

    def has(self, run_id):
        record = self.runs.get(run_id)
        return record is not None and all(math.isfinite(record["losses"].get(t, math.nan)) for t in self.task_names)

    def put(self, run_id, record):
        self.runs[run_id] = record
        if self.path is not None:
            _atomic_json(self.path, {"task_names": self.task_names, "runs": self.runs})


def _atomic_json(path, value):
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, default=str)
    os.replace(temporary, path)


def _print(message):
    print(message, file=sys.stdout, flush=True)
