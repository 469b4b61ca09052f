"""Runs a `BenchmarkRun` grid: trains, evaluates, keeps every number in `results.json`, writes reports."""

import dataclasses
import json
import math
import os
import sys
import time

from .config import BenchmarkConfigError, BenchmarkRun, build_weighting, check_writable, get_preset, model_input_kind

RESULTS_JSON = "results.json"


@dataclasses.dataclass
class RunKey:
    """One training run of the grid: a benchmark spec, a zoo model, a weighting and a seed."""

    spec: object
    model: str
    weighting: str
    seed: int

    @property
    def id(self):
        return f"{self.spec.label}|{self.model}|{self.weighting}|{self.seed}"


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
    """The runs of `config` in training order: per (benchmark, seed), baselines first, then models × weightings.

    Returns:
        A list of `(RunKey, role)` with role `"baseline"` or `"model"`; a run listed both as a
        baseline and as a model (e.g. `independent_mlp` with `static`) appears once, as baseline.
    """
    plan = []
    for spec in config.benchmarks:
        for seed in config.seeds:
            seen = set()
            baselines = [config.baseline_for(m) for m in config.models]
            for name in dict.fromkeys(b for b in baselines if b is not None):
                key = RunKey(spec, name, "static", seed)
                plan.append((key, "baseline"))
                seen.add(key.id)
            for model in config.models:
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
            record = train_one(config, key, current[bench_key], role)
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
        say(clock.line(index, key, role, time.perf_counter() - start, _quick_delta(config, store, key, role)))
    if not todo:
        store.save(config)
    from . import plots as plots_module
    from . import report

    records = [store.get(key.id) for key, _ in plan if store.get(key.id) is not None]
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
    say(f"Done in {clock.elapsed():.0f} s. Wrote {files['markdown']}, {files['csv']}, {files['json']}"
        + (f" and {len(files['plots'])} plot(s)." if files["plots"] else "."))
    if failed:
        say(f"{len(failed)} run(s) failed (re-run the same command to retry them): " + "; ".join(failed))
    return BenchmarkResults(config=config, records=records, rows=rows, markdown=markdown, files=files, failed=failed)


def run_preset(name, out_dir, progress=True, print_table=True, **overrides):
    """Runs preset `name` (see `PRESETS`) into `out_dir` and prints its per-task tables.

    `run_preset("quick", out_dir)` trains a hard-sharing MLP and an MMoE MLP next to the
    single-task (independent) baseline on the offline two-digit set, one seed, in well under a
    minute on two CPU cores.

    Args:
        name: `"quick"`, `"offline"`, `"correlation"` or `"tiny"`.
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
    """Loads benchmark `spec` for `seed` with the configured options."""
    from mtl_keras.benchmarks import datasets

    try:
        return datasets.load_benchmark(spec.name, seed=seed, **config.options_for(spec))
    except TypeError as error:  # an option the loader does not take
        raise BenchmarkConfigError(f"Benchmark '{spec.label}': {error}") from None


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
        "eval_batch_size": config.eval_batch_size,
        "benchmark_options": config.options_for(key.spec),
        "model_options": config.model_options.get(key.model, {}),
    }
    return json.loads(json.dumps(value, default=str))


def train_one(config, key, bench, role="model"):
    """Trains and evaluates one run; returns its record (test metrics by task, history, timing)."""
    import keras
    import numpy as np

    import mtl_keras as mk
    from mtl_keras import zoo

    keras.backend.clear_session()
    keras.utils.set_random_seed(key.seed)
    flatten = model_input_kind(key.model) == "vector" and len(bench.input_shape) > 1
    input_shape = (int(np.prod(bench.input_shape)),) if flatten else bench.input_shape

    def prepare(x):
        x = np.asarray(x)
        return x.reshape(len(x), -1) if flatten else x

    def stream(split, training):
        batch = config.batch_size if training else config.eval_batch_size
        data = bench.splits[split]
        if bench.mode == "shared":
            x, labels = data
            return mk.data.shared_input_dataset(
                prepare(x), labels, batch_size=batch, tasks=bench.tasks, shuffle=training, seed=key.seed
            )
        data = {name: (prepare(x), y) for name, (x, y) in data.items()}
        return mk.data.multitask_dataset(
            data, batch_size=batch, tasks=bench.tasks, shuffle=training, seed=key.seed, repeat=training
        )

    train, validation, test = stream("train", True), stream("validation", False), stream("test", False)
    model = zoo.create_model(key.model, tasks=bench.tasks, input_shape=input_shape, **config.model_options.get(key.model, {}))
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), weighting=build_weighting(key.weighting))
    callbacks = []
    if config.patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
        )
    start = time.perf_counter()
    history = model.fit(train, validation_data=validation, epochs=config.epochs, callbacks=callbacks, verbose=0)
    logs = model.evaluate(test, return_dict=True, verbose=0)
    seconds = time.perf_counter() - start
    test_results = _floats(model.results_by_task(logs))
    bad = [t for t, metrics in test_results.items() if any(not math.isfinite(v) for v in metrics.values())]
    if bad:
        raise FloatingPointError(f"non-finite test results for task(s) {bad}")
    return {
        "id": key.id,
        "benchmark": key.spec.label,
        "benchmark_name": key.spec.name,
        "info": _scalars(bench.info),
        "model": key.model,
        "weighting": key.weighting,
        "seed": key.seed,
        "role": role,
        "settings": settings(config, key),
        "tasks": [{"name": t.name, "kind": t.kind} for t in bench.tasks],
        "flattened": flatten,
        "params": int(model.count_params()),
        "epochs_run": len(history.epoch),
        "seconds": round(seconds, 3),
        "test": test_results,
        "test_loss": float(logs["loss"]),
        "history": {
            "train": _floats(model.results_by_task(history.history)),
            "validation": _floats(model.results_by_task(history.history, prefix="val_")),
        },
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
        model = f"{key.model} (baseline)" if role == "baseline" else key.model
        return (
            f"[{index + 1:>{width}}/{self.total}] {key.spec.label:22} {model:28} {key.weighting:12} seed {key.seed}"
            f"  {seconds:6.1f} s  {note:18}  elapsed {_clock(self.elapsed())}, left ~{_clock(left)}"
        )


def _quick_delta(config, store, key, role):
    if role == "baseline":
        return "single-task ref"
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
