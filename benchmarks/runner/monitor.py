"""`ValidationScore`: a scale-free validation score for early stopping on several tasks at once.

The summed validation loss is a poor stopping signal with little data: a classifier's
cross-entropy on new examples rises (it grows confident) while its accuracy still improves, so
the loss's minimum comes long before the best accuracy. `ValidationScore` logs, every epoch, the
mean relative change of each task's main validation metric (its first metric besides the loss,
e.g. accuracy or MAE) against the run's own first epoch, in percent, with the sign flipped for
metrics where lower is better: a Δm of the run against itself at epoch one. It is scale-free (a
task with 100× larger labels weighs the same) and needs no other run.
"""

import keras

from mtl_keras.evaluation import relative_change

#: The log key of the score.
SCORE = "val_score"


class ValidationScore(keras.callbacks.Callback):
    """Adds `val_score` to the epoch logs: the mean relative change of the tasks' main validation metrics since epoch one.

    `val_score = (1/T) Σ_i ±100 · (m_i(t) − m_i(1)) / |m_i(1)|` for the first non-loss metric
    `m_i` of every task `i` (`+` when higher is better). Put it before `EarlyStopping(monitor="val_score",
    mode="max")` in the callback list.

    Args:
        metrics: `{task: metric}`, the metric of each task (e.g. `{"left": "accuracy"}`).
    """

    def __init__(self, metrics):
        super().__init__()
        self.metrics = dict(metrics)
        self.reference = None

    def on_train_begin(self, logs=None):
        self.reference = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        values = {t: logs.get(f"val_{t}_{m}") for t, m in self.metrics.items()}
        missing = sorted(t for t, v in values.items() if v is None)
        if missing:
            raise ValueError(f"ValidationScore: no validation metric logged for task(s) {missing}. Pass validation data.")
        if self.reference is None:
            self.reference = {t: float(v) for t, v in values.items()}
        changes = [relative_change(float(values[t]), self.reference[t], m) for t, m in self.metrics.items()]
        changes = [0.0 if c != c else c for c in changes]  # a zero reference gives NaN: count it as no change
        logs[SCORE] = sum(changes) / len(changes)


def main_metrics(tasks):
    """`{task: its first logged metric other than the loss}` for a list of `mtl_keras.Task` (`"loss"` if none)."""
    metrics = {}
    for task in tasks:
        names = [m.name[len(task.name) + 1 :] for m in task.build_metrics()]
        metrics[task.name] = names[0] if names else "loss"
    return metrics


def early_stopping(monitor, patience, tasks, restore_best_weights=True):
    """The callbacks of early stopping on `monitor` (`"val_loss"` or `"val_score"`), in order."""
    if monitor == SCORE:
        return [
            ValidationScore(main_metrics(tasks)),
            keras.callbacks.EarlyStopping(monitor=SCORE, mode="max", patience=patience, restore_best_weights=restore_best_weights),
        ]
    return [keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=restore_best_weights)]
