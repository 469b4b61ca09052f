"""The multi-task objective a tuner optimises: Δm against single-task baselines, or one metric."""

import json
import os

import keras
import keras_tuner

from mtl_keras.evaluation import delta_m, higher_is_better
from mtl_keras.task import as_tasks

#: Name of the file, in the tuner's project directory, that caches computed single-task baselines.
BASELINES_FILE = "single_task_baselines.json"


def task_metric_names(tasks):
    """The per-task metric names each task logs: `{task: ["loss", "mae", ...]}` (without prefix)."""
    names = {}
    for task in as_tasks(tasks):
        names[task.name] = ["loss"] + [m.name[len(task.name) + 1 :] for m in task.build_metrics()]
    return names


class MultiTaskObjective:
    """The score of a multi-task trial, computed from the validation logs of every epoch.

    Three forms, chosen by `metric` and `baselines`:

    - **Δm** (the default, `baselines` given): the mean over tasks (and metrics) of each task's
      validation metric relative to its single-task baseline, in percent, with the sign flipped
      for metrics where lower is better (`mtl_keras.evaluation.delta_m`). Since every term is
      relative, tasks whose labels differ in scale weigh the same. Direction: `"max"`. Logged as
      `val_delta_m`. `metric=None` uses every metric of the baselines except `loss`;
      `metric="mae"` only that one.
    - **Mean of one metric** (`metric="mae"`, no baselines): the plain mean over tasks of
      `val_<task>_mae`. Not normalised: a task with larger labels dominates it. Logged as
      `val_mean_<metric>`.
    - **One task's metric** (`metric="<task>_<metric>"`, e.g. `"task_1_mae"`): that logged value.
      Logged under its own name, `val_<task>_<metric>`.

    Outside Δm the direction is `"max"` for accuracies, AUC, precision, recall, F1 and R², and
    `"min"` for losses and errors (`mtl_keras.evaluation.higher_is_better`).

    Args:
        metric: `None`, a per-task metric name (`"mae"`, `"accuracy"`, `"loss"`) or a task-prefixed
            log name (`"task_1_mae"`).
        baselines: `None`, a dict `{task: {metric: value}}` of single-task validation results, or
            `"single_task"`: computed once by `MultiTaskHyperModel` (one single-task model per task)
            and cached as `single_task_baselines.json` in the tuner's project directory.
        prefix: the log prefix of the evaluated split. Defaults to `"val_"`.

    Example:

    >>> objective = MultiTaskObjective(baselines={"a": {"mae": 0.5}, "b": {"mae": 40.0}})
    >>> objective.configure(tasks)
    >>> objective.name, objective.direction
    ('val_delta_m', 'max')
    >>> objective.score({"val_a_mae": 0.25, "val_b_mae": 40.0})
    25.0
    """

    def __init__(self, metric=None, baselines=None, prefix="val_"):
        if baselines is not None and not isinstance(baselines, dict) and baselines != "single_task":
            raise ValueError(
                "MultiTaskObjective: baselines must be None, a dict {task: {metric: value}} or 'single_task'. "
                f"Received: baselines={baselines!r}"
            )
        if metric is not None and (not isinstance(metric, str) or not metric):
            raise ValueError(f"MultiTaskObjective: metric must be a non-empty string. Received: metric={metric!r}")
        if metric is None and baselines is None:
            raise ValueError(
                "MultiTaskObjective: give single-task baselines (a dict or 'single_task') for Δm, or a metric name."
            )
        self.metric = metric
        self.baselines = baselines
        self.prefix = prefix
        self.tasks = None
        self.task_name = None
        self.kind = None

    # ------------------------------------------------------------------ set-up
    def configure(self, tasks):
        """Checks the objective against the tasks' logged metrics and fixes its kind and name.

        Raises:
            ValueError: when no task logs `metric`, or the baselines name unknown tasks or metrics.
        """
        self.tasks = as_tasks(tasks)
        logged = task_metric_names(self.tasks)
        metric = self.metric
        if metric is not None and not any(metric in names for names in logged.values()):
            owner = next((t for t in logged if metric.startswith(t + "_") and metric[len(t) + 1 :] in logged[t]), None)
            if owner is None:
                listing = "; ".join(f"{t}: {', '.join(names)}" for t, names in logged.items())
                raise ValueError(
                    f"MultiTaskObjective: no task logs the metric '{metric}'. Per-task metrics: {listing}. "
                    "Give a metric name (e.g. 'mae') or a task-prefixed one (e.g. '<task>_mae')."
                )
            self.kind, self.task_name = "task", owner
        elif self.baselines is not None:
            self.kind = "delta_m"
        else:
            self.kind = "mean"
        if self.kind == "delta_m" and isinstance(self.baselines, dict):
            self.baselines = self.check_baselines(self.baselines)
        return self

    def check_baselines(self, baselines):
        """Validates a baselines dict against the tasks; returns it restricted to the used metrics."""
        logged = task_metric_names(self.tasks)
        unknown = sorted(set(baselines) - set(logged))
        if unknown:
            raise ValueError(f"MultiTaskObjective: baselines name unknown tasks {unknown}. Tasks: {sorted(logged)}")
        used = {}
        for task, metrics in baselines.items():
            if not isinstance(metrics, dict):
                raise ValueError(
                    f"MultiTaskObjective: baselines['{task}'] must be a dict {{metric: value}}. Received: {metrics!r}"
                )
            kept = {
                m: float(v)
                for m, v in metrics.items()
                if m != "loss" and (self.metric is None or m == self.metric) and m in logged[task]
            }
            if kept:
                used[task] = kept
        if not used:
            wanted = f"metric '{self.metric}'" if self.metric else "metric other than 'loss'"
            raise ValueError(
                f"MultiTaskObjective: the baselines hold no logged {wanted} of any task. Received: baselines={baselines}"
            )
        return used

    @property
    def needs_baselines(self):
        """Whether single-task baselines still have to be computed."""
        return self.kind == "delta_m" and not isinstance(self.baselines, dict)

    @property
    def name(self):
        """The log name of the objective (what KerasTuner monitors)."""
        self._check_configured()
        if self.kind == "delta_m":
            return self.prefix + "delta_m"
        if self.kind == "mean":
            return f"{self.prefix}mean_{self.metric}"
        return self.prefix + self.metric

    @property
    def direction(self):
        """`"max"` or `"min"`."""
        self._check_configured()
        if self.kind == "delta_m":
            return "max"
        return "max" if higher_is_better(self.metric) else "min"

    def keras_tuner_objective(self):
        """The `keras_tuner.Objective` to give a tuner."""
        return keras_tuner.Objective(self.name, self.direction)

    def better(self, a, b):
        """Whether score `a` is strictly better than score `b`."""
        return a > b if self.direction == "max" else a < b

    # ------------------------------------------------------------------ scoring
    def results(self, logs):
        """The logs regrouped as `{task: {metric: value}}` (the `prefix` removed)."""
        self._check_configured()
        logged = task_metric_names(self.tasks)
        return {
            task: {m: float(logs[f"{self.prefix}{task}_{m}"]) for m in names if f"{self.prefix}{task}_{m}" in logs}
            for task, names in logged.items()
        }

    def score(self, logs):
        """The objective's value for a dict of logs (e.g. one epoch's logs, with `val_` keys)."""
        self._check_configured()
        if self.kind == "task":
            key = self.prefix + self.metric
            if key not in logs:
                raise ValueError(f"MultiTaskObjective: '{key}' is not in the logs: {sorted(logs)}")
            return float(logs[key])
        results = self.results(logs)
        if self.kind == "mean":
            values = [metrics[self.metric] for metrics in results.values() if self.metric in metrics]
            if not values:
                raise ValueError(
                    f"MultiTaskObjective: no '{self.prefix}<task>_{self.metric}' in the logs: {sorted(logs)}"
                )
            return float(sum(values) / len(values))
        if self.needs_baselines:
            raise RuntimeError("MultiTaskObjective: the single-task baselines have not been computed yet.")
        value, _ = delta_m(results, self.baselines)
        return float(value)

    def _check_configured(self):
        if self.kind is None:
            raise RuntimeError("MultiTaskObjective: call configure(tasks) first.")

    # ------------------------------------------------------------------ baseline cache
    def load_or_compute_baselines(self, directory, compute):
        """Sets the baselines from `directory`'s cache, or from `compute()` (then cached there).

        Args:
            directory: the tuner's project directory (or `None`: no cache).
            compute: a function returning `{task: {metric: value}}`.
        """
        if not self.needs_baselines:
            return self.baselines
        path = os.path.join(directory, BASELINES_FILE) if directory else None
        if path and os.path.exists(path):
            with open(path) as f:
                baselines = json.load(f)
        else:
            baselines = compute()
            if path:
                os.makedirs(directory, exist_ok=True)
                temporary = f"{path}.{os.getpid()}.tmp"
                with open(temporary, "w") as f:
                    json.dump(baselines, f, indent=2)
                os.replace(temporary, path)  # atomic: concurrent workers never read half a file
        self.baselines = self.check_baselines(baselines)
        return self.baselines


class ObjectiveLogger(keras.callbacks.Callback):
    """Adds the multi-task objective to every epoch's logs, for KerasTuner (and History) to see.

    Put it before the callbacks that read the objective (`MultiTaskHyperModel.fit` does).

    Args:
        objective: a configured `MultiTaskObjective`.
    """

    def __init__(self, objective):
        super().__init__()
        self.objective = objective

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self.objective.kind == "task":
            if logs is not None and self.objective.name not in logs:
                raise ValueError(
                    f"MultiTaskObjective: '{self.objective.name}' is not logged. Pass validation data. "
                    f"Logs: {sorted(logs)}"
                )
            return
        if not any(key.startswith(self.objective.prefix) for key in logs):
            raise ValueError(
                f"MultiTaskObjective: no '{self.objective.prefix}*' logs: pass validation data to the search. "
                f"Logs: {sorted(logs)}"
            )
        logs[self.objective.name] = self.objective.score(logs)
