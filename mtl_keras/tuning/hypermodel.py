"""`MultiTaskHyperModel`: a KerasTuner hypermodel around the zoo's multi-task models."""

import math
import numbers

import keras
import keras_tuner
import tensorflow as tf

from mtl_keras import zoo
from mtl_keras.task import as_tasks
from mtl_keras.tuning.choices import SEARCHABLE, WEIGHT_SPACES
from mtl_keras.tuning.objective import MultiTaskObjective, ObjectiveLogger
from mtl_keras.weighting import WEIGHTINGS, StaticWeighting
from mtl_keras.zoo import accepted_arguments

__all__ = ["SEARCHABLE", "WEIGHT_SPACES", "MultiTaskHyperModel", "has_soft_sharing"]
#: Simplex draws are clipped below 1 so that `-log(1 - u)` stays finite.
_SIMPLEX_CLIP = 0.999


def _positive_range(name, value):
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"MultiTaskHyperModel: {name} must be a pair (low, high). Received: {name}={value!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 or high <= 0:
        raise ValueError(
            f"MultiTaskHyperModel: the {name} bounds must be positive (the range is searched on a log scale). "
            f"Received: {name}={value!r}"
        )
    if low > high:
        raise ValueError(f"MultiTaskHyperModel: {name} must have low <= high. Received: {name}={value!r}")
    return low, high


def has_soft_sharing(model_name):
    """Whether zoo model `model_name` has a soft-sharing `λ` (its `penalty_weight` argument)."""
    return "penalty_weight" in accepted_arguments(model_name)


class MultiTaskHyperModel(keras_tuner.HyperModel):
    """A KerasTuner `HyperModel` searching the task weights, the soft-sharing `λ` and more.

    `build(hp)` creates a fresh, built zoo model (`mtl_keras.zoo.create_model(..., input_shape=...)`,
    so that KerasTuner can load trial checkpoints into it, as `get_best_models` and Hyperband's
    continued trials do) and compiles it with Adam and the chosen weighting. `fit` adds the
    multi-task objective to the epoch logs (see `MultiTaskObjective`), computing and caching the
    single-task baselines first when they are asked for but not given.

    The hyper-parameters, by entry of `search`:

    - `"weights"`: one weight per task, `weight_<task>`. With `weight_space="log"` each is drawn
      log-uniformly in `weight_range` and used as is (only the ratios matter to Adam, so a range
      of several decades lets a task be scaled down against another); with
      `weight_space="simplex"` each `weight_<task>` is a `u_i` in `[0, 0.999]`, mapped to
      `e_i = -log(1 - u_i)` and normalised to `w_i = T · e_i / Σ_j e_j` (the weights sum to the
      number of tasks `T`; uniform `u` gives a uniform draw on the simplex). With
      `reference_task` (log space only) that task's weight is fixed to 1 and the others are
      searched relative to it: one dimension fewer, and the same models under Adam, which only
      sees the ratios.
    - `"lambda"`: the soft-sharing coefficient `λ` (the `SoftSharing` layer's `penalty_weight`),
      `lambda`, log-uniform in `lambda_range`. Needs a soft-sharing model (`soft_sharing_*`);
      with a model choice it is only active for the soft-sharing models.
    - `"lr"`: the Adam learning rate, `learning_rate`, log-uniform in `lr_range`.
    - `"weight_decay"`: decoupled weight decay (AdamW, Loshchilov & Hutter 2019), `weight_decay`,
      log-uniform in `weight_decay_range`.
    - `"weighting"`: the weighting strategy, `weighting`, one of `weightings`. The task weights
      are only searched (and used) with `"static"`.
    - `"model"`: the zoo model, `model`, one of `model` (a list of at least two names).

    Args:
        tasks: list of `mtl_keras.Task`.
        input_shape: the input shape (without batch).
        model: a zoo model name, or a list of names to choose from (with `"model"` in `search`).
        search: the entries above to search, a list or a comma-separated string.
        weight_space: `"log"` (default) or `"simplex"`.
        weight_range: `(low, high)` of log-space weights. Defaults to `(1e-4, 1.0)`.
        reference_task: `None`, or the name of a task whose weight is fixed to 1 (log space).
        lambda_range: `(low, high)`, `0 < low <= high`. Defaults to `(1e-4, 10.0)`.
        learning_rate: the fixed learning rate when `"lr"` is not searched. Defaults to `1e-3`.
        lr_range: `(low, high)` of the searched learning rate. Defaults to `(1e-4, 1e-2)`.
        weight_decay: the fixed decoupled weight decay when `"weight_decay"` is not searched.
            Defaults to 0 (plain Adam).
        weight_decay_range: `(low, high)` of the searched weight decay. Defaults to `(1e-5, 1e-1)`.
        weightings: registered strategy names for `"weighting"`. Defaults to
            `("static", "uncertainty", "dwa")`.
        objective: a `MultiTaskObjective`. Defaults to Δm against single-task baselines
            computed once (`MultiTaskObjective(baselines="single_task")`).
        model_overrides: extra `zoo.create_model` arguments (e.g. `{"units": (16,)}`).
        baseline_model: zoo model of the single-task baselines (built with one task). Defaults to
            the first of `model`.
        baseline_epochs: epochs of each baseline. Defaults to the trial's `epochs`.
        seed: the Keras random seed set before every build (the trials are reproducible).

    Example:

    >>> hypermodel = MultiTaskHyperModel(bench.tasks, bench.input_shape, model="soft_sharing_mlp_small",
    ...                                  search="weights,lambda")
    >>> tuner = keras_tuner.RandomSearch(hypermodel, objective=hypermodel.objective.keras_tuner_objective(),
    ...                                  max_trials=10, directory="runs", project_name="tune")
    >>> tuner.search(train, validation_data=val, epochs=5)
    >>> hypermodel.decode(tuner.get_best_hyperparameters()[0])
    {'model': 'soft_sharing_mlp_small', 'weights': {...}, 'lambda': 0.003, 'learning_rate': 0.001, ...}
    """

    def __init__(
        self,
        tasks,
        input_shape,
        model="hard_sharing_mlp_small",
        search=("weights",),
        *,
        weight_space="log",
        weight_range=(1e-4, 1.0),
        reference_task=None,
        lambda_range=(1e-4, 10.0),
        learning_rate=1e-3,
        lr_range=(1e-4, 1e-2),
        weight_decay=0.0,
        weight_decay_range=(1e-5, 1e-1),
        weightings=("static", "uncertainty", "dwa"),
        objective=None,
        model_overrides=None,
        baseline_model=None,
        baseline_epochs=None,
        seed=0,
        name=None,
        tunable=True,
    ):
        super().__init__(name=name, tunable=tunable)
        self.tasks = as_tasks(tasks)
        self.task_names = [t.name for t in self.tasks]
        if not isinstance(input_shape, (tuple, list)) or not input_shape or any(
            isinstance(d, numbers.Integral) and d < 1 for d in input_shape
        ):
            raise ValueError(
                f"MultiTaskHyperModel: input_shape must be a tuple of positive integers (without the batch axis). "
                f"Received: input_shape={input_shape!r}"
            )
        self.input_shape = tuple(input_shape)
        if isinstance(search, str):
            search = [s.strip() for s in search.split(",") if s.strip()]
        search = list(dict.fromkeys(search or ()))
        unknown = [s for s in search if s not in SEARCHABLE]
        if unknown:
            raise ValueError(f"MultiTaskHyperModel: cannot search {unknown}. Searchable: {list(SEARCHABLE)}")
        if not search:
            raise ValueError(f"MultiTaskHyperModel: the search space is empty. Search some of {list(SEARCHABLE)}.")
        self.search = search
        self.models = [model] if isinstance(model, str) else list(model)
        if not self.models:
            raise ValueError("MultiTaskHyperModel: give at least one zoo model name.")
        known = set(zoo.list_models())
        missing = [m for m in self.models if m not in known]
        if missing:
            raise ValueError(f"MultiTaskHyperModel: unknown zoo models {missing}. See mtl_keras.zoo.list_models().")
        if "model" in search and len(self.models) < 2:
            raise ValueError(
                f"MultiTaskHyperModel: searching 'model' needs at least two models. Received: model={model!r}"
            )
        if "model" not in search and len(self.models) > 1:
            raise ValueError(
                f"MultiTaskHyperModel: several models given but 'model' is not searched. Received: {self.models}"
            )
        if weight_space not in WEIGHT_SPACES:
            raise ValueError(
                f"MultiTaskHyperModel: weight_space must be one of {WEIGHT_SPACES}. Received: {weight_space!r}"
            )
        self.weight_space = weight_space
        self.weight_range = _positive_range("weight_range", weight_range)
        if reference_task is not None:
            if reference_task not in self.task_names:
                raise ValueError(
                    f"MultiTaskHyperModel: reference_task must be a task name {self.task_names}. "
                    f"Received: reference_task={reference_task!r}"
                )
            if weight_space != "log":
                raise ValueError("MultiTaskHyperModel: reference_task needs weight_space='log'.")
            if "weights" in search and len(self.task_names) < 2:
                raise ValueError("MultiTaskHyperModel: with reference_task and one task there is no weight to search.")
        self.reference_task = reference_task
        self.lambda_range = _positive_range("lambda_range", lambda_range)
        self.lr_range = _positive_range("lr_range", lr_range)
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real) or not (
            math.isfinite(learning_rate) and learning_rate > 0
        ):
            raise ValueError(
                f"MultiTaskHyperModel: learning_rate must be a finite number > 0. Received: learning_rate={learning_rate!r}"
            )
        self.learning_rate = float(learning_rate)
        self.weight_decay_range = _positive_range("weight_decay_range", weight_decay_range)
        if not (isinstance(weight_decay, (int, float)) and math.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"MultiTaskHyperModel: weight_decay must be a number >= 0. Received: weight_decay={weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self.soft_models = [m for m in self.models if has_soft_sharing(m)]
        if "lambda" in search and not self.soft_models:
            raise ValueError(
                f"MultiTaskHyperModel: searching 'lambda' needs a soft-sharing model (e.g. soft_sharing_mlp_small); "
                f"none of {self.models} has a soft-sharing λ."
            )
        if isinstance(weightings, str):
            weightings = [w.strip() for w in weightings.split(",") if w.strip()]
        self.weightings = list(weightings)
        if "weighting" in search:
            if len(self.weightings) < 2:
                raise ValueError(
                    f"MultiTaskHyperModel: searching 'weighting' needs at least two strategies. Received: {weightings!r}"
                )
            unregistered = [w for w in self.weightings if w not in WEIGHTINGS]
            if unregistered:
                raise ValueError(f"MultiTaskHyperModel: unknown weighting strategies {unregistered}.")
        self.objective = (
            objective if objective is not None else MultiTaskObjective(baselines="single_task")
        ).configure(self.tasks)
        self.model_overrides = dict(model_overrides or {})
        self.baseline_model = baseline_model or self.models[0]
        if baseline_epochs is not None and (
            isinstance(baseline_epochs, bool) or not isinstance(baseline_epochs, numbers.Integral) or baseline_epochs < 1
        ):
            raise ValueError(
                f"MultiTaskHyperModel: baseline_epochs must be None or an integer >= 1. Received: baseline_epochs={baseline_epochs!r}"
            )
        self.baseline_epochs = baseline_epochs
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise ValueError(f"MultiTaskHyperModel: seed must be an integer. Received: seed={seed!r}")
        self.seed = int(seed)
        #: Where computed baselines are cached (set by `make_tuner` to the tuner's project directory).
        self.cache_directory = None

    # ------------------------------------------------------------------ the space
    def _choose(self, hp):
        """Declares (or reads) the hyper-parameters; returns the decoded values."""
        values = {}
        model_name = hp.Choice("model", self.models) if "model" in self.search else self.models[0]
        values["model"] = model_name
        if "lambda" in self.search:
            if "model" in self.search:
                with hp.conditional_scope("model", self.soft_models):
                    lam = hp.Float("lambda", *self.lambda_range, sampling="log")
            else:
                lam = hp.Float("lambda", *self.lambda_range, sampling="log")
            values["lambda"] = lam if model_name in self.soft_models else None
        else:
            values["lambda"] = None
        weighting = hp.Choice("weighting", self.weightings) if "weighting" in self.search else "static"
        values["weighting"] = weighting
        values["weights"] = None
        if "weights" in self.search:
            if "weighting" in self.search:
                with hp.conditional_scope("weighting", ["static"]):
                    raw = self._weight_values(hp)
            else:
                raw = self._weight_values(hp)
            if weighting == "static":
                values["weights"] = self._normalise_weights(raw)
        if "lr" in self.search:
            values["learning_rate"] = hp.Float("learning_rate", *self.lr_range, sampling="log")
        else:
            values["learning_rate"] = self.learning_rate
        if "weight_decay" in self.search:
            values["weight_decay"] = hp.Float("weight_decay", *self.weight_decay_range, sampling="log")
        else:
            values["weight_decay"] = self.weight_decay
        return values

    def _weight_values(self, hp):
        if self.weight_space == "log":
            return {
                t: 1.0 if t == self.reference_task else hp.Float(f"weight_{t}", *self.weight_range, sampling="log")
                for t in self.task_names
            }
        return {t: hp.Float(f"weight_{t}", 0.0, _SIMPLEX_CLIP) for t in self.task_names}

    def _normalise_weights(self, raw):
        if self.weight_space == "log":
            return {t: float(w) for t, w in raw.items()}
        draws = {t: -math.log1p(-min(float(u), _SIMPLEX_CLIP)) for t, u in raw.items()}
        total = sum(draws.values())
        if total <= 0:
            return {t: 1.0 for t in raw}
        return {t: len(draws) * e / total for t, e in draws.items()}

    def decode(self, hp):
        """The values a trial uses: `{"model", "weights", "lambda", "learning_rate", "weight_decay", "weighting"}`.

        `weights` is `{task: ω}` (`None` when not searched, i.e. each `Task.weight`), `lambda` is
        `None` when the model has no soft sharing or `λ` is not searched (the zoo default).
        """
        if not isinstance(hp, keras_tuner.HyperParameters):
            values = hp
            hp = keras_tuner.HyperParameters()
            hp.values.update(values)
        return self._choose(hp)

    # ------------------------------------------------------------------ build / fit
    def build(self, hp):
        """A fresh, built and compiled `MultiTaskModel` for the trial's hyper-parameters."""
        values = self._choose(hp)
        keras.utils.set_random_seed(self.seed)
        accepted = accepted_arguments(values["model"])
        overrides = {k: v for k, v in self.model_overrides.items() if k in accepted}
        if values["lambda"] is not None:
            overrides["penalty_weight"] = values["lambda"]
        model = zoo.create_model(values["model"], tasks=self.tasks, input_shape=self.input_shape, **overrides)
        weighting = StaticWeighting(values["weights"]) if values["weighting"] == "static" else values["weighting"]
        model.compile(optimizer=make_optimizer(values["learning_rate"], values["weight_decay"]), weighting=weighting)
        return model

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        """Trains `model`, adding the objective to the logs (before KerasTuner's checkpointing)."""
        if self.objective.needs_baselines:
            data = kwargs.get("x", args[0] if args else None)
            self.objective.load_or_compute_baselines(
                self.cache_directory,
                lambda: self.single_task_baselines(
                    data, kwargs.get("validation_data"), epochs=self.baseline_epochs or kwargs.get("epochs", 1)
                ),
            )
        callbacks = [ObjectiveLogger(self.objective)] + list(callbacks or [])
        return model.fit(*args, callbacks=callbacks, **kwargs)

    def single_task_baselines(self, train, validation, epochs=1):
        """Trains one single-task `baseline_model` per task; returns `{task: {metric: value}}`.

        Args:
            train: the multi-task training stream (a `tf.data.Dataset` of `mtl_keras.data`).
            validation: the multi-task validation stream.
            epochs: training epochs of each baseline.
        """
        if not isinstance(train, tf.data.Dataset) or not isinstance(validation, tf.data.Dataset):
            raise ValueError(
                "MultiTaskHyperModel: computing single-task baselines needs tf.data training and validation "
                "streams (mtl_keras.data); or give the baselines as a dict."
            )
        baselines = {}
        overrides = {k: v for k, v in self.model_overrides.items() if k in accepted_arguments(self.baseline_model)}
        for task in self.tasks:
            keras.utils.set_random_seed(self.seed)
            model = zoo.create_model(self.baseline_model, tasks=[task], input_shape=self.input_shape, **overrides)
            model.compile(optimizer=keras.optimizers.Adam(self.learning_rate))
            model.fit(_only_task(train, task.name, self.task_names), epochs=int(epochs), verbose=0)
            logs = model.evaluate(_only_task(validation, task.name, self.task_names), return_dict=True, verbose=0)
            baselines[task.name] = {m: float(v) for m, v in model.results_by_task(logs)[task.name].items()}
        return baselines


def make_optimizer(learning_rate, weight_decay=0.0):
    """Adam, or AdamW (decoupled weight decay) when `weight_decay > 0`."""
    if weight_decay > 0:
        return keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    return keras.optimizers.Adam(learning_rate)


def _only_task(dataset, name, task_names):
    """Keeps one task's entries of the dicts keyed by task in a multi-task stream."""
    names = set(task_names)

    def select(*parts):
        return tuple(
            {name: part[name]} if isinstance(part, dict) and part and set(part) <= names else part for part in parts
        )

    return dataset.map(select)
