"""Runs a `BenchmarkRun` grid: trains, evaluates, keeps every number in `results.json`, writes reports."""

import dataclasses
import json
import math
import os
import sys
import time

from .config import (
    BenchmarkConfigError,
    BenchmarkRun,
    build_weighting,
    check_writable,
    model_input_kind,
    runs_on,
)
from .presets import get_preset

RESULTS_JSON = "results.json"

#: What a run of the grid is. `baseline`: the single-task model (one network per task);
#: `param_matched`: the single-task model with as many parameters as `model`; `tuning`: the
#: KerasTuner search of the tuned equal-weight baseline (no test numbers); `tuned`: `model` with
#: equal weights and the tuned learning rate and weight decay; `model`: a model and a weighting.
ROLES = ("baseline", "param_matched", "tuning", "tuned", "model")


@dataclasses.dataclass
class RunKey:
    """One run of the grid: a benchmark spec, a zoo model, a weighting, a seed and a variant.

    `variant` is `""` for the models and the single-task baselines, or `"param_matched"`,
    `"tuning"`, `"tuned"` for the fair baselines of `model` (see `ROLES`).
    """

    spec: object
    model: str
    weighting: str
    seed: int
    variant: str = ""

    @property
    def id(self):
        base = f"{self.spec.label}|{self.model}|{self.weighting}|{self.seed}"
        return f"{base}|{self.variant}" if self.variant else base


@dataclasses.dataclass
class BenchmarkResults:
    """What `run_benchmarks` returns.

    Attributes:
        config: the `BenchmarkRun`.
        records: the raw record of every run of the grid (dicts, as in `results.json`).
        rows: the summary rows (mean ± std over seeds, relative changes, Δm) by
            (benchmark, model, weighting); see `report.summarize`.
        markdown: the Markdown report.
        files: paths of the written files: `json`, `markdown`, `csv`, `plots` (a list).
        failed: `{run id: error message}` of runs that raised (they are retried on a re-run).
    """

    config: BenchmarkRun
    records: list
    rows: list
    markdown: str
    files: dict
    failed: dict


def plan_runs(config):
    """The runs of `config` in training order.

    Per benchmark and seed: the single-task baselines first; at the first seed the tuning
    searches (with `tuned_baseline`); then the parameter-matched baselines (with
    `param_matched`), the tuned equal-weight runs, and the models × weightings. Image models are
    left out of benchmarks with vector inputs.

    Returns:
        A list of `(RunKey, role)` with a role of `ROLES`; a run listed both as a baseline and as
        a model (e.g. `independent_mlp` with `static`) appears once, as baseline.
    """
    plan = []
    for spec in config.benchmarks:
        models = [m for m in config.models if runs_on(m, spec)]
        shared = [m for m in models if config.baseline_for(m) not in (None, m)]
        for index, seed in enumerate(config.seeds):
            seen = set()
            baselines = [config.baseline_for(m) for m in models]
            for name in dict.fromkeys(b for b in baselines if b is not None):
                key = RunKey(spec, name, "static", seed)
                plan.append((key, "baseline"))
                seen.add(key.id)
            extras = []
            if config.tuned_baseline and index == 0:
                extras += [(RunKey(spec, m, "static", seed, "tuning"), "tuning") for m in shared]
            if config.param_matched:
                extras += [(RunKey(spec, m, "static", seed, "param_matched"), "param_matched") for m in shared]
            if config.tuned_baseline:
                extras += [(RunKey(spec, m, "static", seed, "tuned"), "tuned") for m in shared]
            plan += extras
            for model in models:
                for weighting in config.weightings:
                    key = RunKey(spec, model, weighting, seed)
                    if key.id not in seen:
                        plan.append((key, "model"))
                        seen.add(key.id)
    return plan


def run_benchmarks(config, out_dir, progress=True, plots=True, command=None):
    """Trains and evaluates every run of `config`, then writes tables and plots to `out_dir`.

    Steps: (1) every benchmark, model, weighting and baseline name is checked, and `out_dir` is
    checked to be writable, before anything is trained; (2) every benchmark with runs to do is
    loaded once up front (a real TFDS set that is missing stops here with
    `DatasetNotAvailableError`, telling how to get it; a model that cannot take the benchmark's
    inputs stops here too); (3) the runs are trained in order, each one's numbers saved to
    `out_dir/results.json` as soon as it ends, so an interrupted grid resumes where it stopped:
    runs already in `results.json` with the same settings are skipped; (4) the report is written:
    `results.md` (Markdown tables), `results.csv` (one row per run group, task and metric),
    learning curves `curves_<benchmark>.png` and, when `mmoe_synthetic` ran at two or more task
    correlations `p`, `mmoe_correlation.png` (test loss against `p`, after Ma et al. 2018).

    A run that raises (e.g. a training diverging to NaN) is reported and skipped; the grid goes on.

    Args:
        config: a `BenchmarkRun`, or a preset name (`"quick"`, `"offline"`, ...).
        out_dir: the output folder (created if needed).
        progress: print one line per run (with its time and Δm) while the grid runs.
        plots: write the PNG figures (matplotlib, Agg backend).
        command: the command line that started the run, quoted at the top of the report.

    Returns:
        A `BenchmarkResults`.

    Raises:
        BenchmarkConfigError: an unknown name (with close names), a model / benchmark mismatch, an
            output folder that cannot be written.
        mtl_keras.benchmarks.datasets.DatasetNotAvailableError: a TFDS data set is not on this machine.

    Example:

    >>> config = BenchmarkRun(benchmarks=["multi_digits"], models=["hard_sharing_mlp"], epochs=5)
    >>> results = run_benchmarks(config, "runs/bench")
    >>> print(results.markdown)
    """
    if isinstance(config, str):
        config = get_preset(config)
    config.validate()
    out_dir = check_writable(out_dir)
    say = _printer(progress)
    store = ResultStore(os.path.join(out_dir, RESULTS_JSON))
    plan = plan_runs(config)
    todo = [(key, role) for key, role in plan if not store.has(key.id, settings(config, key))]
    say(
        f"Benchmark run '{config.name}': {len(plan)} runs ({len(plan) - len(todo)} already in "
        f"{store.path}), {len(config.benchmarks)} benchmark(s) x {len(config.models)} model(s) x "
        f"{len(config.weightings)} weighting(s) x {len(config.seeds)} seed(s) + single-task baselines."
    )
    data = {}
    for spec in dict.fromkeys(key.spec for key, _ in todo):
        first_seed = next(key.seed for key, _ in todo if key.spec == spec)
        bench = load(config, spec, first_seed)
        check_compatible(spec, bench, {key.model for key, _ in todo if key.spec == spec})
        data[(spec.label, first_seed)] = bench
    failed, current = {}, {}
    clock = _Clock(len(todo))
    for index, (key, role) in enumerate(todo):
        bench_key = (key.spec.label, key.seed)
        if bench_key not in current:  # hold one data set at a time, besides those loaded up front
            current = {bench_key: data.pop(bench_key) if bench_key in data else load(config, key.spec, key.seed)}
        start = time.perf_counter()
        try:
            record = run_one(config, key, current[bench_key], role, store, out_dir)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:  # a failing run must not lose the rest of the grid
            failed[key.id] = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
            clock.tick(time.perf_counter() - start)
            say(clock.line(index, key, role, time.perf_counter() - start, f"FAILED {failed[key.id]}"))
            continue
        store.put(key.id, record)
        store.save(config)
        clock.tick(record["seconds"])
        say(clock.line(index, key, role, time.perf_counter() - start, _quick_note(config, store, key, role)))
    if not todo:
        store.save(config)
    from . import plots as plots_module
    from . import report

    records = [store.get(key.id) for key, role in plan if role != "tuning" and store.get(key.id) is not None]
    rows = report.summarize(records, config)
    markdown = report.markdown_report(rows, config, command=command, failed=failed)
    files = {"json": store.path}
    files["markdown"] = _write(os.path.join(out_dir, "results.md"), markdown)
    files["csv"] = report.write_csv(rows, os.path.join(out_dir, "results.csv"))
    files["plots"] = []
    if plots and records:
        files["plots"] += plots_module.learning_curves(records, config, out_dir)
        figure = plots_module.correlation_figure(records, config, out_dir)
        if figure:
            files["plots"].append(figure)
        files["plots"] += plots_module.sweep_figures(rows, out_dir)
    say(f"Done in {clock.elapsed():.0f} s. Wrote {files['markdown']}, {files['csv']}, {files['json']}"
        + (f" and {len(files['plots'])} plot(s)." if files["plots"] else "."))
    if failed:
        say(f"{len(failed)} run(s) failed (re-run the same command to retry them): " + "; ".join(failed))
    return BenchmarkResults(config=config, records=records, rows=rows, markdown=markdown, files=files, failed=failed)


def run_preset(name, out_dir, progress=True, print_table=True, **overrides):
    """Runs preset `name` (see `PRESETS`) into `out_dir` and prints its per-task tables.

    `run_preset("quick", out_dir)` trains a hard-sharing MLP next to the single-task
    (independent) baseline on two versions of the GradNorm regression pair with 100 training
    examples per task, 3 seeds, in about a minute on two CPU cores: related tasks on one scale
    (sharing helps) and the same tasks with one task's labels 100 times larger (sharing hurts).

    Args:
        name: `"quick"`, `"offline"`, `"sweep"`, `"correlation"` or `"tiny"`.
        out_dir: the output folder.
        progress: print one line per run.
        print_table: print the per-task tables at the end.
        **overrides: `BenchmarkRun` fields replacing the preset's (e.g. `seeds=[0, 1]`).

    Returns:
        A `BenchmarkResults`.
    """
    config = get_preset(name, **overrides)
    results = run_benchmarks(config, out_dir, progress=progress, command=f"run_preset({name!r}, {os.fspath(out_dir)!r})")
    if print_table:
        from . import report

        print()
        print(report.markdown_tables(results.rows, config))
        sys.stdout.flush()
    return results


# ---------------------------------------------------------------------- one run
def load(config, spec, seed):
    """Loads benchmark `spec` for `seed` with the configured options (and its `train_size` subset)."""
    from mtl_keras.benchmarks import datasets

    try:
        bench = datasets.load_benchmark(spec.name, seed=seed, **config.options_for(spec))
    except TypeError as error:  # an option the loader does not take
        raise BenchmarkConfigError(f"Benchmark '{spec.label}': {error}") from None
    from .subsets import separate_task_inputs, subsample_train

    options = dict(spec.options)
    if options.get("task_inputs", "shared") == "separate":
        bench = separate_task_inputs(bench, seed, options.get("train_size"), spec.label)
    elif spec.train_size is not None:
        bench = subsample_train(bench, spec.train_size, seed, spec.label)
    return bench


def check_compatible(spec, bench, models):
    """Raises `BenchmarkConfigError` if an image model is asked to run on a vector benchmark."""
    for model in sorted(models):
        if model_input_kind(model) == "image" and len(bench.input_shape) != 3:
            raise BenchmarkConfigError(
                f"Model '{model}' takes images (height, width, channels) but benchmark '{spec.label}' has inputs "
                f"of shape {bench.input_shape}. Use a vector (*_mlp) model for it."
            )
    if bench.mode == "shared":
        _check_arrays(spec, bench.splits["train"][0])
    else:
        for x, _ in bench.splits["train"].values():
            _check_arrays(spec, x)


def settings(config, key):
    """The settings a stored run must match to be reused (JSON-normalised)."""
    value = {
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "patience": config.patience,
        "monitor": config.monitor,
        "steps_per_epoch": config.steps_per_epoch,
        "eval_batch_size": config.eval_batch_size,
        "benchmark_options": config.options_for(key.spec),
        "train_size": key.spec.train_size,
        "model_options": config.model_options.get(key.model, {}),
    }
    if key.variant in ("tuning", "tuned"):
        value["tuning"] = {
            "trials": config.tuning_trials,
            "lr_range": list(config.tuning_lr_range),
            "weight_decay_range": list(config.tuning_weight_decay_range),
            "seed": config.seeds[0],
        }
    return json.loads(json.dumps(value, default=str))


def run_one(config, key, bench, role, store, out_dir):
    """Runs one entry of the plan: a training run, or (role `"tuning"`) a search; returns its record."""
    from . import baselines

    if role == "tuning":
        reference = store.get(RunKey(key.spec, config.baseline_for(key.model), "static", key.seed).id)
        if reference is None or "validation_results" not in reference:
            raise RuntimeError(f"the single-task baseline of '{key.model}' has no validation results to tune against")
        return baselines.tune_equal_weight(config, key, bench, reference["validation_results"], out_dir)
    tuned = None
    if role == "tuned":
        search = store.get(RunKey(key.spec, key.model, "static", config.seeds[0], "tuning").id)
        if search is None:
            raise RuntimeError(f"the tuning search of '{key.model}' on '{key.spec.label}' has not finished")
        tuned = search["best"]
    return train_one(config, key, bench, role, tuned=tuned)


def streams(config, key, bench, model_name):
    """`(train, validation, test, input_shape, fit_kwargs)` of a run of zoo model `model_name` on `bench`.

    Vector models on image benchmarks get flattened images. With `config.steps_per_epoch` the
    training stream repeats and `fit_kwargs` holds the steps per epoch.
    """
    import numpy as np

    import mtl_keras as mk

    flatten = model_input_kind(model_name) == "vector" and len(bench.input_shape) > 1
    input_shape = input_shape_for(model_name, bench)
    steps = config.steps_per_epoch

    def prepare(x):
        x = np.asarray(x)
        return x.reshape(len(x), -1) if flatten else x

    def stream(split, training):
        batch = config.batch_size if training else config.eval_batch_size
        data = bench.splits[split]
        if bench.mode == "shared":
            x, labels = data
            dataset = mk.data.shared_input_dataset(
                prepare(x), labels, batch_size=batch, tasks=bench.tasks, shuffle=training, seed=key.seed
            )
            return dataset.repeat() if training and steps else dataset
        data = {name: (prepare(x), y) for name, (x, y) in data.items()}
        return mk.data.multitask_dataset(
            data, batch_size=batch, tasks=bench.tasks, shuffle=training, seed=key.seed, repeat=training,
            steps_per_epoch=steps if training else None,
        )

    fit_kwargs = {"steps_per_epoch": steps} if steps and bench.mode == "shared" else {}
    return stream("train", True), stream("validation", False), stream("test", False), input_shape, fit_kwargs


def input_shape_for(model_name, bench):
    """The input shape zoo model `model_name` sees on `bench` (images flattened for vector models)."""
    import numpy as np

    if model_input_kind(model_name) == "vector" and len(bench.input_shape) > 1:
        return (int(np.prod(bench.input_shape)),)
    return tuple(bench.input_shape)


def train_one(config, key, bench, role="model", tuned=None):
    """Trains and evaluates one run; returns its record (test and validation metrics by task, history, timing).

    Role `"param_matched"` trains the `independent` model sized to `key.model`'s parameter count
    (`baselines.param_matched`); role `"tuned"` trains `key.model` with equal weights and the
    learning rate and weight decay of `tuned` (the search's best values).
    """
    import keras

    from mtl_keras import zoo
    from mtl_keras.tuning.hypermodel import make_optimizer

    from . import baselines, monitor

    model_name, overrides, extra = key.model, dict(config.model_options.get(key.model, {})), {}
    if role == "param_matched":
        matched = baselines.param_matched(key.model, bench.tasks, input_shape_for(key.model, bench), overrides)
        model_name, overrides = matched["model"], matched["overrides"]
        extra["param_matched"] = matched
    learning_rate, weight_decay = config.learning_rate, 0.0
    if role == "tuned":
        learning_rate, weight_decay = float(tuned["learning_rate"]), float(tuned.get("weight_decay") or 0.0)
    keras.backend.clear_session()
    keras.utils.set_random_seed(key.seed)
    train, validation, test, input_shape, fit_kwargs = streams(config, key, bench, model_name)
    model = zoo.create_model(model_name, tasks=bench.tasks, input_shape=input_shape, **overrides)
    model.compile(optimizer=make_optimizer(learning_rate, weight_decay), weighting=build_weighting(key.weighting))
    callbacks = monitor.early_stopping(config.monitor, config.patience, bench.tasks) if config.patience else []
    start = time.perf_counter()
    history = model.fit(train, validation_data=validation, epochs=config.epochs, callbacks=callbacks, verbose=0, **fit_kwargs)
    logs = model.evaluate(test, return_dict=True, verbose=0)
    validation_logs = model.evaluate(validation, return_dict=True, verbose=0)
    seconds = time.perf_counter() - start
    test_results = _floats(model.results_by_task(logs))
    bad = [t for t, metrics in test_results.items() if any(not math.isfinite(v) for v in metrics.values())]
    if bad:
        raise FloatingPointError(f"non-finite test results for task(s) {bad}")
    return {
        "id": key.id,
        "benchmark": key.spec.label,
        "benchmark_name": key.spec.name,
        "base_benchmark": key.spec.base_label,
        "train_size": key.spec.train_size,
        "train_examples": bench.num_examples("train"),
        "info": _scalars(bench.info),
        "model": key.model,
        "built_model": model_name,
        "overrides": json.loads(json.dumps(overrides, default=str)),
        "weighting": key.weighting,
        "seed": key.seed,
        "role": role,
        "settings": settings(config, key),
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        "tasks": [{"name": t.name, "kind": t.kind} for t in bench.tasks],
        "flattened": model_input_kind(model_name) == "vector" and len(bench.input_shape) > 1,
        "params": int(model.count_params()),
        "epochs_run": len(history.epoch),
        "seconds": round(seconds, 3),
        "test": test_results,
        "test_loss": float(logs["loss"]),
        "validation_results": _floats(model.results_by_task(validation_logs)),
        "history": {
            "train": _floats(model.results_by_task(history.history)),
            "validation": _floats(model.results_by_task(history.history, prefix="val_")),
        },
        **extra,
    }


# ---------------------------------------------------------------------- storage
class ResultStore:
    """The runs of `results.json`: read at start, rewritten atomically after every run."""

    def __init__(self, path):
        self.path = path
        self.runs = {}
        if os.path.exists(path):
            try:
                with open(path) as f:
                    self.runs = dict(json.load(f).get("runs", {}))
            except (OSError, ValueError) as error:
                raise BenchmarkConfigError(
                    f"Cannot read the existing '{path}' ({error}). Move it away or pick another --out folder."
                ) from None

    def has(self, run_id, run_settings):
        record = self.runs.get(run_id)
        return record is not None and record.get("settings") == run_settings

    def get(self, run_id):
        return self.runs.get(run_id)

    def put(self, run_id, record):
        self.runs[run_id] = record

    def save(self, config):
        temporary = self.path + ".tmp"
        with open(temporary, "w") as f:
            json.dump({"config": config.to_dict(), "runs": self.runs}, f, indent=1, default=str)
        os.replace(temporary, self.path)


# ---------------------------------------------------------------------- helpers
class _Clock:
    def __init__(self, total):
        self.total, self.done, self.start, self.spent = total, 0, time.perf_counter(), 0.0

    def tick(self, seconds):
        self.done += 1
        self.spent += seconds

    def elapsed(self):
        return time.perf_counter() - self.start

    def line(self, index, key, role, seconds, note):
        left = (self.total - self.done) * (self.elapsed() / max(self.done, 1))
        width = len(str(self.total))
        model = {"baseline": f"{key.model} (baseline)", "param_matched": f"{key.model} (param-matched STL)",
                 "tuning": f"{key.model} (tuning EW)", "tuned": f"{key.model} (tuned EW)"}.get(role, key.model)
        return (
            f"[{index + 1:>{width}}/{self.total}] {key.spec.label:22} {model:28} {key.weighting:12} seed {key.seed}"
            f"  {seconds:6.1f} s  {note:18}  elapsed {_clock(self.elapsed())}, left ~{_clock(left)}"
        )


def _quick_note(config, store, key, role):
    if role == "baseline":
        return "single-task ref"
    if role == "tuning":
        best = store.get(key.id)["best"]
        return f"lr {best['learning_rate']:.2g}, wd {best['weight_decay']:.2g}"
    baseline = config.baseline_for(key.model)
    if baseline is None:
        return ""
    base = store.get(RunKey(key.spec, baseline, "static", key.seed).id)
    if base is None:
        return ""
    from mtl_keras.evaluation import delta_m

    try:
        value, _ = delta_m(store.get(key.id)["test"], base["test"])
    except ValueError:
        return ""
    return f"Δm {value:+.2f}%"


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _printer(progress):
    if not progress:
        return lambda message: None

    def say(message):
        print(message, flush=True)

    return say


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def _floats(value):
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_floats(v) for v in value]
    return float(value)


def _scalars(info):
    out = {}
    for k, v in (info or {}).items():
        if isinstance(v, (bool, int, float, str)):
            out[k] = v
        elif hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
            out[k] = v.item()
        elif isinstance(v, (list, tuple)) and len(v) <= 16 and all(isinstance(i, (int, float, str)) for i in v):
            out[k] = list(v)
    return out


def _check_arrays(spec, x):
    if not hasattr(x, "shape"):
        raise BenchmarkConfigError(
            f"Benchmark '{spec.label}': the runner needs numpy splits; received {type(x).__name__}. "
            "Load it with as_numpy=True."
        )
