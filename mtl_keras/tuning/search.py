"""Running a multi-task search: tuners, benchmark streams, results and the summary table."""

import dataclasses
import math
import os

import keras_tuner

from mtl_keras import data as data_module

#: The tuners by name (the names are `mtl_keras.tuning.choices.TUNER_NAMES`).
TUNERS = {
    "random": keras_tuner.RandomSearch,
    "bayesian": keras_tuner.BayesianOptimization,
    "hyperband": keras_tuner.Hyperband,
}


def is_worker():
    """Whether this process is a KerasTuner worker of a distributed search (not the chief).

    KerasTuner's chief/worker mode is set by environment variables: `KERASTUNER_TUNER_ID`
    (`"chief"` for the process running the oracle, e.g. `"tuner0"`, `"tuner1"` for workers),
    `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` (the chief's gRPC address).
    """
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get("KERASTUNER_TUNER_ID", "")


def make_tuner(
    hypermodel,
    tuner="random",
    *,
    max_trials=10,
    max_epochs=3,
    directory=None,
    project_name="mtl_tune",
    overwrite=False,
    seed=0,
    **kwargs,
):
    """A KerasTuner tuner for a `MultiTaskHyperModel`, optimising its multi-task objective.

    With `overwrite=False` (the default) a tuner made again on the same `directory` and
    `project_name` reloads the finished trials and retries the interrupted ones, so a search that
    was stopped resumes where it was. Computed single-task baselines are cached in the same
    project directory.

    Args:
        hypermodel: a `MultiTaskHyperModel`.
        tuner: `"random"` (random search), `"bayesian"` (Gaussian-process Bayesian optimisation)
            or `"hyperband"`, or a `keras_tuner.Tuner` subclass.
        max_trials: trials of random search and Bayesian optimisation (not used by Hyperband).
        max_epochs: Hyperband's largest number of epochs of a trial.
        directory: KerasTuner's results directory. Defaults to the working directory.
        project_name: the project's sub-directory.
        overwrite: start afresh instead of resuming.
        seed: seed of the tuner.
        **kwargs: more arguments of the tuner (e.g. `factor` of Hyperband, `executions_per_trial`).

    Returns:
        The tuner; run it with `tuner.search(train, validation_data=val, epochs=...)`.
    """
    cls = TUNERS.get(tuner, tuner) if isinstance(tuner, str) else tuner
    if isinstance(cls, str):
        raise ValueError(f"Unknown tuner {tuner!r}. Tuners: {sorted(TUNERS)}")
    options = dict(
        objective=hypermodel.objective.keras_tuner_objective(),
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        seed=seed,
        **kwargs,
    )
    if issubclass(cls, keras_tuner.Hyperband):
        options["max_epochs"] = int(max_epochs)
    else:
        options["max_trials"] = int(max_trials)
    instance = cls(hypermodel, **options)
    hypermodel.cache_directory = instance.project_dir
    return instance


def benchmark_streams(benchmark, batch_size=64, seed=0):
    """Training and validation streams of a `MultiTaskBenchmark` (shared- or multi-input)."""
    train, validation = benchmark.splits["train"], benchmark.splits["validation"]
    if benchmark.mode == "shared":
        return (
            data_module.shared_input_dataset(*train, batch_size=batch_size, tasks=benchmark.tasks, seed=seed),
            data_module.shared_input_dataset(*validation, batch_size=batch_size, shuffle=False),
        )
    return (
        data_module.multitask_dataset(train, batch_size, tasks=benchmark.tasks, seed=seed),
        data_module.multitask_dataset(validation, batch_size, tasks=benchmark.tasks, shuffle=False, repeat=False),
    )


@dataclasses.dataclass
class TuningResult:
    """What a search found.

    Attributes:
        best: the best trial's decoded values (`model`, `weights`, `lambda`, `learning_rate`,
            `weight_decay`, `weighting`), or `None` on a distributed worker (the chief holds the results).
        best_score: the best objective value.
        objective: the objective's log name; `direction`: `"max"` or `"min"`.
        trials: one dict per trial, best first: `trial_id`, `status`, `score` and the decoded values.
        tuner, hypermodel: the objects of the search.
    """

    best: dict
    best_score: float
    objective: str
    direction: str
    trials: list
    tuner: object
    hypermodel: object

    def summary_markdown(self):
        """The trials as a Markdown table, best first."""
        return summary_table(self.trials, self.hypermodel.task_names, self.objective)

    def write_summary(self, path):
        """Writes the summary (best values and the table of trials) to a Markdown file."""
        lines = [f"# Multi-task search: {self.hypermodel.name or 'mtl_keras'}", ""]
        lines.append(
            f"Objective: `{self.objective}` ({self.direction}); tuner: `{type(self.tuner).__name__}`; "
            f"search: {', '.join(self.hypermodel.search)}."
        )
        lines.append("")
        if self.best is not None:
            lines += ["## Best", "", *describe_values(self.best, self.best_score, self.objective), ""]
        lines += ["## Trials", "", self.summary_markdown(), ""]
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return path


def describe_values(values, score=None, objective=None):
    """Human-readable lines for one trial's decoded values."""
    lines = []
    if score is not None:
        lines.append(f"- {objective}: {_fmt(score)}")
    lines.append(f"- model: {values['model']}")
    if values.get("weights"):
        lines.append("- weights: " + ", ".join(f"{t}={_fmt(w)}" for t, w in values["weights"].items()))
    else:
        lines.append(
            "- weights: the tasks' own (not searched)"
            if values["weighting"] == "static"
            else f"- weights: set by the '{values['weighting']}' strategy"
        )
    lines.append(f"- lambda: {_fmt(values['lambda']) if values.get('lambda') is not None else '-'}")
    lines.append(f"- learning_rate: {_fmt(values['learning_rate'])}")
    if values.get("weight_decay"):
        lines.append(f"- weight_decay: {_fmt(values['weight_decay'])}")
    lines.append(f"- weighting: {values['weighting']}")
    return lines


def summary_table(trials, task_names, objective):
    """A Markdown table of trials (dicts as in `TuningResult.trials`)."""
    header = [
        "rank",
        "trial",
        objective,
        "model",
        *[f"w_{t}" for t in task_names],
        "lambda",
        "learning_rate",
        "weight_decay",
        "weighting",
        "status",
    ]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for rank, trial in enumerate(trials, 1):
        weights = trial.get("weights") or {}
        cells = [
            str(rank),
            trial["trial_id"],
            _fmt(trial["score"]),
            trial.get("model", "-"),
            *[_fmt(weights[t]) if t in weights else "-" for t in task_names],
            _fmt(trial.get("lambda")),
            _fmt(trial.get("learning_rate")),
            _fmt(trial.get("weight_decay")),
            trial.get("weighting", "-"),
            trial["status"],
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    return str(value)


def collect_results(tuner, hypermodel):
    """A `TuningResult` from a tuner after (or during) its search."""
    objective = hypermodel.objective
    if is_worker():
        return TuningResult(None, None, objective.name, objective.direction, [], tuner, hypermodel)
    trials = []
    for trial in tuner.oracle.trials.values():
        try:
            values = hypermodel.decode(trial.hyperparameters)
        except (KeyError, ValueError):
            values = {}
        trials.append({"trial_id": trial.trial_id, "status": str(trial.status), "score": trial.score, **values})
    sign = -1.0 if objective.direction == "max" else 1.0
    trials.sort(key=lambda t: (t["score"] is None or math.isnan(t["score"]), sign * (t["score"] or 0.0)))
    done = [t for t in trials if t["score"] is not None and not math.isnan(t["score"])]
    best = done[0] if done else None
    keys = ("model", "weights", "lambda", "learning_rate", "weight_decay", "weighting")
    best_values = {k: best[k] for k in keys} if best else None
    return TuningResult(
        best_values, best["score"] if best else None, objective.name, objective.direction, trials, tuner, hypermodel
    )


def tune(
    benchmark,
    model="hard_sharing_mlp_small",
    search=("weights",),
    *,
    tuner="random",
    max_trials=10,
    epochs=5,
    batch_size=64,
    directory=None,
    project_name="mtl_tune",
    overwrite=False,
    objective=None,
    seed=0,
    benchmark_kwargs=None,
    callbacks=None,
    verbose=0,
    tuner_kwargs=None,
    **hypermodel_kwargs,
):
    """Searches a multi-task benchmark's task weights, soft-sharing `λ` and more with KerasTuner.

    Works locally and in KerasTuner's distributed chief/worker mode (run the same call in every
    process, with `KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` set;
    the chief serves the oracle and returns the results when the workers are done).

    Args:
        benchmark: a benchmark name (`mtl_keras.benchmarks.datasets.load_benchmark`) or a
            `MultiTaskBenchmark`.
        model: a zoo model name, or a list of names (then search `"model"`).
        search: what to search (see `MultiTaskHyperModel`), e.g. `"weights,lambda,lr"`.
        tuner: `"random"`, `"bayesian"` or `"hyperband"`.
        max_trials: trials (random and Bayesian).
        epochs: epochs per trial (Hyperband's `max_epochs`), and of the single-task baselines.
        batch_size: batch size.
        directory, project_name, overwrite: KerasTuner's project directory; a search is resumed
            unless `overwrite=True`.
        objective: a `MultiTaskObjective`. Defaults to Δm against single-task baselines.
        seed: seed of the data order, the models and the tuner.
        benchmark_kwargs: arguments of the benchmark loader.
        callbacks: Keras callbacks of every trial.
        verbose: KerasTuner's verbosity.
        tuner_kwargs: more arguments of the tuner.
        **hypermodel_kwargs: more arguments of `MultiTaskHyperModel` (`weight_space`,
            `lambda_range`, ...).

    Returns:
        A `TuningResult`.

    Example:

    >>> result = tune("gradnorm_scales", "hard_sharing_mlp_small", "weights", max_trials=10, epochs=5,
    ...               directory="runs/tune")
    >>> result.best["weights"]
    {'task_1': 0.6, 'task_2': 0.0004}
    """
    from mtl_keras.benchmarks import datasets
    from mtl_keras.tuning.hypermodel import MultiTaskHyperModel

    if isinstance(benchmark, str):
        benchmark = datasets.load_benchmark(benchmark, seed=seed, **(benchmark_kwargs or {}))
    hypermodel_kwargs.setdefault("baseline_epochs", epochs)
    hypermodel = MultiTaskHyperModel(
        benchmark.tasks,
        benchmark.input_shape,
        model,
        search,
        objective=objective,
        seed=seed,
        name=benchmark.name,
        **hypermodel_kwargs,
    )
    instance = make_tuner(
        hypermodel,
        tuner,
        max_trials=max_trials,
        max_epochs=epochs,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        seed=seed,
        **(tuner_kwargs or {}),
    )
    train, validation = benchmark_streams(benchmark, batch_size=batch_size, seed=seed)
    instance.search(train, validation_data=validation, epochs=epochs, callbacks=list(callbacks or []), verbose=verbose)
    return collect_results(instance, hypermodel)
