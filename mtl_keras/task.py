"""The task specification: T_i = {p_i(x), p_i(y|x), L_i} made concrete."""

import functools
import inspect
import math
import numbers
import re

import keras

KINDS = ("classification", "binary", "regression")
LABEL_SCALINGS = (None, "standard")
_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

_DEFAULT_METRICS = {
    "classification": ("accuracy",),
    "binary": ("accuracy",),
    "regression": ("mae",),
}


@keras.saving.register_keras_serializable(package="mtl_keras")
class Task:
    """One task of a multi-task problem: its name, output, loss, metrics and weight.

    A task is `T_i = {p_i(x), p_i(y|x), L_i}`: the data (`p_i(x)`, `p_i(y|x)`) is given to the
    data pipeline under the task's name; this object fixes the output head and `L_i`, and the
    task's weight `ω_i` in the multi-task objective `Σ_i ω_i L_i(θ, D_i)`.

    Output heads produce raw scores: logits for `"classification"` (softmax over `num_classes`)
    and `"binary"` (sigmoid), standardized values for `"regression"` with
    `label_scaling="standard"`. Losses are computed on the raw scores (numerically stable);
    `MultiTaskModel.predict` and metrics see probabilities and labels in their original units.

    Args:
        name: identifier of the task (letters, digits and `_`, starting with a letter); used as the
            key of data, outputs, logs (`<name>_loss`) and serving signatures (`serve_<name>`).
        kind: `"classification"` (integer labels in `[0, num_classes)`), `"binary"` (labels in
            {0, 1}, one per output unit) or `"regression"` (real-valued labels).
        num_classes: number of classes; required for (and only for) `"classification"`.
        units: output size of `"binary"` (multi-label) and `"regression"` tasks. Defaults to 1.
        loss: `None` for the kind's default (sparse categorical cross-entropy, binary
            cross-entropy, mean squared error), a Keras loss name, or a `keras.losses.Loss`.
            Classification and binary losses are computed from logits.
        metrics: `None` for the kind's default (`accuracy`, `accuracy`, `mae`), or a list of Keras
            metric names or `keras.metrics.Metric` objects. Logged as `<name>_<metric>`.
        weight: the task weight `ω_i >= 0` used by the default (static) weighting.
        label_scaling: `None` or `"standard"` (regression only): labels are standardized with the
            training mean and standard deviation for the loss, and predictions are returned in the
            original units.
        missing_label: label value that marks a missing label (e.g. `-1`, or `"nan"` for NaN).
            Examples with a missing label are masked out of this task's loss and metrics.

    Example:

    >>> tasks = [Task("digit", num_classes=10), Task("age", kind="regression", weight=0.5)]
    >>> tasks[1].output_units
    1
    """

    def __init__(
        self,
        name,
        kind="classification",
        num_classes=None,
        units=None,
        loss=None,
        metrics=None,
        weight=1.0,
        label_scaling=None,
        missing_label=None,
    ):
        if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):  # fullmatch: `$` would pass "a\n"
            raise ValueError(
                "A task name must start with a letter and use only letters, digits and '_'. "
                f"Received: name={name!r}"
            )
        if kind not in KINDS:
            raise ValueError(f"Task '{name}': kind must be one of {KINDS}. Received: kind={kind!r}")
        if kind == "classification":
            if not _is_whole_number(num_classes) or num_classes < 2:
                raise ValueError(
                    f"Task '{name}': a classification task needs an integer num_classes >= 2. "
                    f"Received: num_classes={num_classes!r}"
                )
            if units not in (None, num_classes):
                raise ValueError(
                    f"Task '{name}': give num_classes, not units, for a classification task. "
                    f"Received: units={units!r}"
                )
        elif num_classes is not None:
            raise ValueError(
                f"Task '{name}': num_classes only applies to classification tasks. "
                f"Received: num_classes={num_classes!r} for kind={kind!r}"
            )
        if units is not None and (not _is_whole_number(units) or units < 1):
            raise ValueError(f"Task '{name}': units must be a positive integer. Received: units={units!r}")
        _check_weight(name, weight)
        if label_scaling not in LABEL_SCALINGS:
            raise ValueError(
                f"Task '{name}': label_scaling must be one of {LABEL_SCALINGS}. "
                f"Received: label_scaling={label_scaling!r}"
            )
        if label_scaling is not None and kind != "regression":
            raise ValueError(
                f"Task '{name}': label_scaling applies to regression tasks only. "
                f"Received: label_scaling={label_scaling!r} for kind={kind!r}"
            )
        missing_label = _checked_missing_label(name, kind, num_classes, missing_label)
        self.name = name
        self.kind = kind
        self.num_classes = int(num_classes) if num_classes is not None else None
        self.units = int(units) if units is not None else None
        self.loss = loss
        if isinstance(metrics, (str, keras.metrics.Metric)):
            raise ValueError(
                f"Task '{name}': metrics must be a list of metric names or keras.metrics.Metric objects. "
                f"Received: metrics={metrics!r} (write metrics=[{metrics!r}])"
            )
        self.metrics = list(metrics) if metrics is not None else None
        self.weight = float(weight)
        self.label_scaling = label_scaling
        self.missing_label = missing_label

    @property
    def output_units(self):
        """Width of the task's output head."""
        if self.kind == "classification":
            return self.num_classes
        return self.units or 1

    def build_loss(self):
        """Returns a callable `(y_true, y_raw) -> per-example loss` on the head's raw output."""
        loss = self.loss
        if loss is None:
            if self.kind == "classification":
                return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
            if self.kind == "binary":
                return keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)
            return keras.losses.MeanSquaredError(reduction=None)
        if isinstance(loss, keras.losses.Loss):
            return loss.call  # the unreduced, per-example computation of the loss object
        if isinstance(loss, (str, dict)):
            try:
                fn = keras.losses.get(loss)
            except ValueError:
                raise ValueError(f"Task '{self.name}': unknown loss. Received: loss={loss!r}") from None
            if isinstance(fn, keras.losses.Loss):
                return fn.call
            if self.kind != "regression" and "from_logits" in inspect.signature(fn).parameters:
                return functools.partial(fn, from_logits=True)
            return fn
        if callable(loss):
            return loss
        raise ValueError(f"Task '{self.name}': cannot use this loss. Received: loss={loss!r}")

    def build_metrics(self):
        """Returns fresh metric objects named `<task>_<metric>`."""
        built = []
        for metric in self.metrics if self.metrics is not None else _DEFAULT_METRICS[self.kind]:
            if isinstance(metric, str):
                short = metric
                metric = _metric_from_name(self, metric)
            elif isinstance(metric, keras.metrics.Metric):
                short = metric.name
                metric = metric.__class__.from_config(metric.get_config())
            else:
                raise ValueError(
                    f"Task '{self.name}': metrics must be names or keras.metrics.Metric objects. "
                    f"Received: metric={metric!r}"
                )
            metric.name = f"{self.name}_{short}"
            built.append(metric)
        return built

    def check_labels(self, labels, allow_empty=False):
        """Raises a `ValueError` naming the task and the value if array-like `labels` do not fit the head.

        Class ids must be integers in `[0, num_classes)`, binary labels 0 or 1, regression labels
        finite; labels equal to `missing_label` are skipped.

        Args:
            labels: the labels, shape `(n,)` or `(n, units)`.
            allow_empty: accept no labels at all (e.g. when every label is masked).
        """
        import numpy as np

        labels = np.asarray(labels)
        if labels.size == 0:
            if allow_empty:
                return
            raise ValueError(f"Task '{self.name}': the data set is empty (no labels).")
        valid = labels
        if self.missing_label is not None:
            if self.missing_label == "nan":
                if np.issubdtype(labels.dtype, np.number):  # else the kind's checks below name the dtype
                    valid = labels[~np.isnan(labels.astype("float64"))]
            else:
                valid = labels[labels != self.missing_label]
        if self.kind == "classification":
            if not np.issubdtype(labels.dtype, np.number):
                raise ValueError(
                    f"Task '{self.name}': classification labels must be integer class ids. Received dtype={labels.dtype}"
                )
            if not np.issubdtype(labels.dtype, np.integer):
                fractional = valid[np.mod(valid, 1) != 0]
                if fractional.size:
                    raise ValueError(
                        f"Task '{self.name}': classification labels must be integers. "
                        f"Received: label={fractional.ravel()[0].item()!r}"
                    )
            bad = valid[(valid < 0) | (valid >= self.num_classes)]
            if bad.size:
                raise ValueError(
                    f"Task '{self.name}': labels must be in [0, {self.num_classes}). "
                    f"Received: label={bad.ravel()[0].item()!r}"
                )
            if labels.ndim > 2 or (labels.ndim == 2 and labels.shape[1] != 1):
                raise ValueError(
                    f"Task '{self.name}': expected integer class ids of shape (n,) or (n, 1). "
                    f"Received: shape={labels.shape}"
                )
        elif self.kind == "binary":
            bad = valid[(valid != 0) & (valid != 1)]
            if bad.size:
                raise ValueError(f"Task '{self.name}': binary labels must be 0 or 1. Received: label={bad.ravel()[0].item()!r}")
            _check_width(self, labels)
        else:
            if not np.issubdtype(labels.dtype, np.number):
                raise ValueError(f"Task '{self.name}': regression labels must be numeric. Received dtype={labels.dtype}")
            bad = valid[~np.isfinite(valid.astype("float64"))]
            if bad.size:
                raise ValueError(f"Task '{self.name}': regression labels must be finite. Received: label={bad.ravel()[0].item()!r}")
            _check_width(self, labels)

    def get_config(self):
        def ser(obj):
            return obj if obj is None or isinstance(obj, str) else keras.saving.serialize_keras_object(obj)

        return {
            "name": self.name,
            "kind": self.kind,
            "num_classes": self.num_classes,
            "units": self.units,
            "loss": ser(self.loss),
            "metrics": None if self.metrics is None else [ser(m) for m in self.metrics],
            "weight": self.weight,
            "label_scaling": self.label_scaling,
            "missing_label": self.missing_label,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)

        def de(obj):
            return obj if obj is None or isinstance(obj, str) else keras.saving.deserialize_keras_object(obj)

        config["loss"] = de(config.get("loss"))
        if config.get("metrics") is not None:
            config["metrics"] = [de(m) for m in config["metrics"]]
        return cls(**config)

    def __repr__(self):
        extra = f", num_classes={self.num_classes}" if self.num_classes else ""
        return f"Task({self.name!r}, kind={self.kind!r}{extra}, weight={self.weight})"

    def __eq__(self, other):
        return isinstance(other, Task) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(self.name)


def _is_whole_number(value):
    """True for an int or an integral float (not a bool, NaN or inf)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return math.isfinite(value) and int(value) == value


def _checked_missing_label(name, kind, num_classes, missing_label):
    """`missing_label` made canonical (a float NaN becomes `"nan"`), or a `ValueError` naming the task.

    A marker that is also a real label would silently drop every example of that label: a class id
    in `[0, num_classes)` for classification, 0 or 1 for binary tasks.
    """
    if missing_label is None or missing_label == "nan":
        return missing_label
    if isinstance(missing_label, bool) or not isinstance(missing_label, numbers.Real):
        raise ValueError(
            f"Task '{name}': missing_label must be a number or 'nan'. Received: missing_label={missing_label!r}"
        )
    if math.isnan(missing_label):
        return "nan"
    if kind == "classification" and 0 <= missing_label < num_classes:
        raise ValueError(
            f"Task '{name}': missing_label is a class id in [0, {int(num_classes)}), so every example of that "
            f"class would be dropped; use a value outside the classes (e.g. -1). Received: missing_label={missing_label!r}"
        )
    if kind == "binary" and missing_label in (0, 1):
        raise ValueError(
            f"Task '{name}': missing_label is a binary label (0 or 1), so every example with that label would "
            f"be dropped; use another value (e.g. -1). Received: missing_label={missing_label!r}"
        )
    return missing_label


def _check_weight(name, weight):
    try:
        value = float(weight)
    except (TypeError, ValueError):
        raise ValueError(f"Task '{name}': weight must be a number. Received: weight={weight!r}") from None
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise ValueError(f"Task '{name}': weight must be finite and >= 0. Received: weight={weight!r}")


def _check_width(task, labels):
    width = 1 if labels.ndim == 1 else labels.shape[-1]
    if labels.ndim > 2 or width != task.output_units:
        raise ValueError(
            f"Task '{task.name}': labels must have shape (n,) or (n, {task.output_units}) to fit "
            f"the head. Received: shape={labels.shape}"
        )


def _metric_from_name(task, name):
    key = name.lower()
    if key in ("accuracy", "acc"):
        if task.kind == "classification":
            return keras.metrics.SparseCategoricalAccuracy()
        if task.kind == "binary":
            return keras.metrics.BinaryAccuracy()
        raise ValueError(f"Task '{task.name}': accuracy is not defined for regression. Received: metric={name!r}")
    if key == "auc" and task.kind != "binary":
        raise ValueError(f"Task '{task.name}': auc needs a binary task. Received: metric={name!r}")
    if key == "rmse":
        return keras.metrics.RootMeanSquaredError()
    known = {
        "mae": keras.metrics.MeanAbsoluteError,
        "mse": keras.metrics.MeanSquaredError,
        "auc": keras.metrics.AUC,
        "precision": keras.metrics.Precision,
        "recall": keras.metrics.Recall,
    }
    if key in known:
        return known[key]()
    try:
        found = keras.metrics.get(name)
    except ValueError:
        raise ValueError(f"Task '{task.name}': unknown metric. Received: metric={name!r}") from None
    if isinstance(found, keras.metrics.Metric):
        return found
    return keras.metrics.MeanMetricWrapper(found)


def as_tasks(tasks):
    """Validates a list of `Task` (or their configs) and returns it as a list with unique names."""
    if isinstance(tasks, Task):
        tasks = [tasks]
    tasks = [Task.from_config(t) if isinstance(t, dict) else t for t in tasks]
    if not tasks:
        raise ValueError("A multi-task model needs at least one Task. Received: tasks=[]")
    for task in tasks:
        if not isinstance(task, Task):
            raise ValueError(f"Expected mtl_keras.Task objects. Received: {task!r}")
    names = [t.name for t in tasks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Task names must be unique. Received duplicates: {duplicates}")
    return tasks
