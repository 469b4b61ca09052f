"""Multi-task evaluation measures: Δm, the average relative change against single-task baselines."""

import math

#: Metric names (without the task prefix) for which larger is better: the library's names
#: (`Task(metrics=["acc"])` logs `<task>_acc`) and the default names of Keras's metrics of that kind
#: (`F1Score` -> `f1_score`, `MeanIoU` -> `mean_io_u`, `PrecisionAtRecall` -> `precision_at_recall`, ...).
HIGHER_IS_BETTER = (
    "accuracy", "acc", "auc", "precision", "recall", "f1", "f1_score", "fbeta_score", "r2", "r2_score",
    "io_u", "iou", "cosine_similarity", "sensitivity", "specificity",
)


def higher_is_better(metric):
    """Whether a larger value of `metric` (e.g. `"accuracy"`, `"val_left_loss"`) is better."""
    name = metric.lower()
    return any(name == key or name.endswith("_" + key) for key in HIGHER_IS_BETTER)


def relative_change(value, baseline, metric):
    """Signed relative change in percent: positive when `value` is better than `baseline`.

    `100 · (-1)^{l} · (value - baseline) / |baseline|`, with `l = 1` when lower is better.
    """
    if baseline == 0 or any(math.isnan(v) for v in (value, baseline)):
        return float("nan")
    sign = 1.0 if higher_is_better(metric) else -1.0
    return 100.0 * sign * (value - baseline) / abs(baseline)


def delta_m(results, baselines):
    """Δm: the mean relative improvement of a multi-task model over single-task baselines.

    `Δm = (1 / K) Σ_k (-1)^{l_k} (M_k - B_k) / B_k · 100`, over every task-metric pair `k`
    present in both dicts, with `l_k = 1` when lower is better (losses, errors) and 0 when higher
    is better (accuracy, AUC). Positive Δm: the multi-task model beats training each task alone;
    a negative per-task term is negative transfer for that task.

    Args:
        results: `{task: {metric: value}}` of the multi-task model.
        baselines: `{task: {metric: value}}` of the single-task models.

    Returns:
        `(delta_m, per_task)`: the mean in percent and `{task: mean relative change of that task}`.

    Reference: Vandenhende et al., "Multi-Task Learning for Dense Prediction Tasks: A Survey",
    TPAMI 2021 (Δm); Maninis et al., CVPR 2019.

    Example:

    >>> delta_m({"a": {"accuracy": 0.9}, "b": {"mae": 2.0}}, {"a": {"accuracy": 0.8}, "b": {"mae": 2.5}})[0]
    16.25
    """
    per_task, terms = {}, []
    for task, metrics in results.items():
        if task not in baselines:
            continue
        changes = [
            relative_change(value, baselines[task][metric], metric)
            for metric, value in metrics.items()
            if metric in baselines[task] and metric != "loss"
        ]
        changes = [c for c in changes if not math.isnan(c)]
        if changes:
            per_task[task] = sum(changes) / len(changes)
            terms.extend(changes)
    if not terms:
        raise ValueError("delta_m: no task-metric pair is present in both results and baselines.")
    return sum(terms) / len(terms), per_task
