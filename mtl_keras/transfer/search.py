"""Cross-validated hyper-parameter search for fine-tuning, with KerasTuner."""

import math
import numbers

import keras_tuner
import numpy as np

from mtl_keras.data import checks, shared_input_dataset
from mtl_keras.data.multitask import as_inputs
from mtl_keras.task import as_tasks
from mtl_keras.transfer.fine_tune import FineTuner


class _FoldTuner(keras_tuner.RandomSearch):
    """A random-search tuner whose trial is `k` fine-tuning runs, one per held-out fold."""

    def __init__(self, search, **kwargs):
        self._search = search
        super().__init__(hypermodel=None, **kwargs)

    def run_trial(self, trial, *args, **kwargs):
        return {self._search.objective_name: self._search.score(trial.hyperparameters)}


class CrossValidatedSearch:
    """Chooses fine-tuning hyper-parameters by `k`-fold cross-validation on the target data.

    The target data set of a transfer problem is small, so one validation split is a noisy
    judge: the notes advise searching hyper-parameters by cross-validation. The target examples
    are split into `folds` parts; a trial fine-tunes a fresh copy of the pre-trained model on
    `k − 1` parts for each held-out part and scores it there; the trial's score is the mean
    over the `k` parts. KerasTuner's random search proposes the trials over

    - `learning_rate`: the base (head) rate, from `learning_rates`;
    - `decay`: the layer-wise decay factor (`1` = one rate for all layers), from `decays`;
    - `epochs_per_stage`: gradual unfreezing from the top every that many epochs (`0` = no
      freezing), from `unfreezing`.

    Args:
        model: the pre-trained, built `mtl_keras.MultiTaskModel` (never changed).
        new_tasks: the target `mtl_keras.Task` or a list of them.
        x: the target inputs (an array, shared by the new tasks).
        labels: a dict `{task name: labels}` for the new tasks.
        folds: the number of folds `k >= 2`. Defaults to 3.
        epochs: fine-tuning epochs per run. Defaults to 3.
        batch_size: batch size. Defaults to 32.
        learning_rates, decays, unfreezing: the candidate values (see above).
        objective: the held-out metric to minimise or maximise, a log name of `evaluate`
            (e.g. `"loss"`, `"parity_accuracy"`). Defaults to `"loss"`.
        direction: `"min"` or `"max"`. Defaults to `"min"`.
        max_trials: trials of the random search. Defaults to 10.
        directory, project_name, overwrite: KerasTuner's results directory.
        seed: seed of the folds and of the search.
        **fine_tuner_kwargs: more `FineTuner` arguments (`freeze`, `source_task`, ...).

    Example:

    >>> search = CrossValidatedSearch(pretrained, mk.Task("parity", num_classes=2), x, {"parity": y},
    ...                               folds=3, max_trials=8, directory="/tmp/cv")
    >>> best = search.search()      # {"learning_rate": ..., "decay": ..., "epochs_per_stage": ...}
    >>> tuned = search.fit_best(epochs=5)
    """

    def __init__(
        self,
        model,
        new_tasks,
        x,
        labels,
        *,
        folds=3,
        epochs=3,
        batch_size=32,
        learning_rates=(1e-4, 3e-4, 1e-3),
        decays=(1.0, 2.6),
        unfreezing=(0, 1),
        objective="loss",
        direction="min",
        max_trials=10,
        directory=None,
        project_name="fine_tune_cv",
        overwrite=False,
        seed=0,
        **fine_tuner_kwargs,
    ):
        n = len(x)
        if int(folds) != folds or not 2 <= folds <= n:
            raise ValueError(f"CrossValidatedSearch: folds must be an integer in [2, {n}]. Received: folds={folds}")
        if direction not in ("min", "max"):
            raise ValueError(f"CrossValidatedSearch: direction must be 'min' or 'max'. Received: direction={direction!r}")
        for name, values in (("learning_rates", learning_rates), ("decays", decays), ("unfreezing", unfreezing)):
            if not list(values):
                raise ValueError(f"CrossValidatedSearch: {name} must not be empty.")
        for name, values, low, strict in (("learning_rates", learning_rates, 0.0, True), ("decays", decays, 1.0, False)):
            bad = [v for v in values if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < low or (strict and v == low)]
            if bad:
                bound = f"> {low:g}" if strict else f">= {low:g}"
                raise ValueError(f"CrossValidatedSearch: {name} must be finite numbers {bound}. Received: {name}={list(values)}")
        if isinstance(max_trials, bool) or not isinstance(max_trials, numbers.Integral) or max_trials < 1:
            raise ValueError(f"CrossValidatedSearch: max_trials must be an integer >= 1. Received: max_trials={max_trials!r}")
        tasks = as_tasks(new_tasks)
        if not isinstance(labels, dict):
            raise ValueError(f"CrossValidatedSearch: labels must be a dict {{task: y}}. Received: {type(labels).__name__}")
        checks.check_task_names(list(labels), tasks, training=True)
        inputs = as_inputs(x)
        for task in tasks:
            checks.check_task_arrays(task.name, inputs, labels[task.name], None, task)
        self.model = model
        self.new_tasks = new_tasks
        self.x = np.asarray(x)
        self.labels = {k: np.asarray(v) for k, v in labels.items()}
        self.folds = int(folds)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.learning_rates = [float(v) for v in learning_rates]
        self.decays = [float(v) for v in decays]
        self.unfreezing = [int(v) for v in unfreezing]
        self.objective = objective
        self.objective_name = f"cv_{objective}"
        self.seed = int(seed)
        self.fine_tuner_kwargs = fine_tuner_kwargs
        self.fold_index = np.array_split(np.random.default_rng(seed).permutation(n), self.folds)
        self.tuner = _FoldTuner(
            self,
            objective=keras_tuner.Objective(self.objective_name, direction),
            max_trials=max_trials,
            seed=seed,
            directory=directory,
            project_name=project_name,
            overwrite=overwrite,
        )

    def _dataset(self, index, shuffle):
        labels = {k: v[index] for k, v in self.labels.items()}
        return shared_input_dataset(self.x[index], labels, batch_size=self.batch_size, shuffle=shuffle, seed=self.seed)

    def _hyperparameters(self, hp):
        return {
            "learning_rate": hp.Choice("learning_rate", self.learning_rates),
            "decay": hp.Choice("decay", self.decays),
            "epochs_per_stage": hp.Choice("epochs_per_stage", self.unfreezing),
        }

    def _train(self, values, train_data, epochs):
        tuner = FineTuner(self.model, self.new_tasks, **self.fine_tuner_kwargs)
        tuner.compile(learning_rate=values["learning_rate"], decay=values["decay"] if values["decay"] != 1.0 else None)
        stage = values["epochs_per_stage"]
        tuner.fit(train_data, epochs=epochs, unfreeze="top_down" if stage else None, epochs_per_stage=max(stage, 1), verbose=0)
        return tuner

    def score(self, hp):
        """The mean held-out objective over the folds for hyper-parameters `hp`."""
        values = self._hyperparameters(hp)
        scores = []
        for k in range(self.folds):
            held_out = self.fold_index[k]
            train = np.concatenate([self.fold_index[j] for j in range(self.folds) if j != k])
            tuner = self._train(values, self._dataset(train, shuffle=True), self.epochs)
            logs = tuner.model.evaluate(self._dataset(held_out, shuffle=False), verbose=0, return_dict=True)
            if self.objective not in logs:
                raise ValueError(f"CrossValidatedSearch: objective '{self.objective}' is not logged. Logs: {sorted(logs)}")
            scores.append(float(logs[self.objective]))
        return float(np.mean(scores))

    def search(self, verbose=0):
        """Runs the search; returns the best hyper-parameters as a dict."""
        self.tuner.search(verbose=verbose)
        return self.best_hyperparameters()

    def best_hyperparameters(self):
        """The best trial's values: `{"learning_rate", "decay", "epochs_per_stage"}`."""
        return dict(self.tuner.get_best_hyperparameters(1)[0].values)

    def fit_best(self, epochs=None):
        """Fine-tunes on all the target data with the best hyper-parameters; returns the `FineTuner`."""
        index = np.arange(len(self.x))
        return self._train(self.best_hyperparameters(), self._dataset(index, shuffle=True), epochs or self.epochs)
