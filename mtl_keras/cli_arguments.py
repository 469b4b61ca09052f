"""Argument types of the `mtl-keras` command line: numbers, ranges and paths checked while parsing.

Each function returns an `argparse` `type=` callable. A bad value raises
`argparse.ArgumentTypeError`, so `argparse` prints `mtl-keras <command>: error: argument --epochs:
must be an integer >= 1. Received: '0'` (the option and the value) and exits with status 2 —
before any TensorFlow work. Nothing here imports TensorFlow or Keras.

Example:

>>> parser.add_argument("--epochs", type=integer(minimum=1), default=20)
>>> parser.add_argument("--save", type=new_file(".keras"))
"""

import argparse
import json
import math
import os

from mtl_keras.saving import ModelFileError, check_model_file


def _error(message, text):
    return argparse.ArgumentTypeError(f"{message}. Received: {text!r}")


def integer(minimum=None, maximum=None):
    """An integer type, optionally bounded (`minimum <= value <= maximum`)."""
    bounds = _bounds_text(minimum, maximum)

    def parse(text):
        try:
            value = int(str(text).strip())
        except ValueError:
            raise _error(f"must be an integer{bounds}", text) from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise _error(f"must be an integer{bounds}", text)
        return value

    parse.__name__ = "integer"
    return parse


def number(minimum=None, exclusive_minimum=None, maximum=None):
    """A finite real number type, optionally bounded (`> exclusive_minimum`, `>= minimum`, `<= maximum`)."""
    if exclusive_minimum is not None:
        bounds = f" > {exclusive_minimum:g}" + ("" if maximum is None else f" and <= {maximum:g}")
    else:
        bounds = _bounds_text(minimum, maximum)

    def parse(text):
        try:
            value = float(str(text).strip())
        except ValueError:
            raise _error(f"must be a finite number{bounds}", text) from None
        if not math.isfinite(value):
            raise _error(f"must be a finite number{bounds}", text)
        if (
            (exclusive_minimum is not None and value <= exclusive_minimum)
            or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)
        ):
            raise _error(f"must be a finite number{bounds}", text)
        return value

    parse.__name__ = "number"
    return parse


def _bounds_text(minimum, maximum):
    if minimum is not None and maximum is not None:
        return f" between {minimum:g} and {maximum:g}"
    if minimum is not None:
        return f" >= {minimum:g}"
    if maximum is not None:
        return f" <= {maximum:g}"
    return ""


def integer_list(minimum=None):
    """A comma-separated list of integers (e.g. seeds `0,1,2`), each `>= minimum`, without repeats."""
    one = integer(minimum=minimum)

    def parse(text):
        parts = [p.strip() for p in str(text).split(",") if p.strip()]
        if not parts:
            raise _error("must be a comma-separated list of integers, e.g. 0,1,2", text)
        try:
            values = [one(p) for p in parts]
        except argparse.ArgumentTypeError:
            raise _error(f"must be comma-separated integers{_bounds_text(minimum, None)}", text) from None
        if len(set(values)) != len(values):
            raise _error("lists a value twice", text)
        return values

    parse.__name__ = "integer list"
    return parse


def number_range(positive=True):
    """A range `LOW,HIGH` (or `LOW:HIGH`) of finite numbers with `LOW < HIGH` (both `> 0` if `positive`)."""

    def parse(text):
        parts = [p for p in str(text).replace(":", ",").split(",") if p.strip()]
        rule = "must be a range LOW,HIGH of finite numbers with " + ("0 < LOW < HIGH" if positive else "LOW < HIGH")
        if len(parts) != 2:
            raise _error(rule, text)
        try:
            low, high = (float(p) for p in parts)
        except ValueError:
            raise _error(rule, text) from None
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high or (positive and low <= 0):
            raise _error(rule, text)
        return low, high

    parse.__name__ = "range"
    return parse


def weight_vectors(text):
    """Weight vectors on the simplex: `W1;W2;...`, each comma-separated, e.g. `0.2,0.8;0.5,0.5`.

    Each vector must hold finite non-negative numbers summing to 1 (within 1e-3); all vectors must have
    the same length (the number of tasks, checked against the tasks when the command runs).
    """
    rows = [r for r in str(text).split(";") if r.strip()]
    rule = "must be weight vectors W1;W2;..., each comma-separated numbers >= 0 summing to 1, e.g. 0.2,0.8;0.5,0.5"
    if not rows:
        raise _error(rule, text)
    vectors = []
    for row in rows:
        try:
            values = [float(v) for v in row.split(",") if v.strip()]
        except ValueError:
            raise _error(rule, text) from None
        if not values or not all(math.isfinite(v) and v >= 0 for v in values) or abs(sum(values) - 1.0) > 1e-3:
            raise _error(f"{rule}; bad vector {row.strip()!r}", text)
        vectors.append(values)
    if len({len(v) for v in vectors}) != 1:
        raise _error("must be weight vectors of the same length (one weight per task)", text)
    return vectors


def non_empty(text):
    """A non-blank string (a name)."""
    if not str(text).strip():
        raise _error("must not be empty", text)
    return str(text).strip()


def _nearest_existing(path):
    folder = os.path.abspath(path)
    while not os.path.exists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


def output_folder(text):
    """A folder for results: an existing writable folder, or a path that can be created (checked, not created)."""
    path = str(text)
    if not path.strip():
        raise _error("must be a folder path", text)
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise _error("must be a folder, but a file of that name exists", text)
        if not os.access(path, os.W_OK | os.X_OK):
            raise _error("must be a writable folder, but this one is not writable", text)
        return path
    existing = _nearest_existing(path)
    if not os.path.isdir(existing):
        raise _error(f"cannot be created: '{existing}' is a file, not a folder", text)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise _error(f"cannot be created: the folder '{existing}' is not writable", text)
    return path


def new_file(extension=None):
    """A file to write after the command's work: its folder must exist and be writable, checked now.

    Args:
        extension: the required extension (e.g. `".keras"`), or `None`.
    """

    def parse(text):
        path = str(text)
        if not path.strip():
            raise _error("must be a file path", text)
        if extension and not path.lower().endswith(extension):
            raise _error(f"must end with {extension}", text)
        if os.path.isdir(path):
            raise _error("must be a file path, but it is a folder", text)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise _error(f"must be in an existing folder, but '{folder}' does not exist (create it first)", text)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise _error(f"must be in a writable folder, but '{folder}' is not writable", text)
        return path

    parse.__name__ = "file path"
    return parse


def model_file(text):
    """A saved `.keras` model: it exists and is a complete Keras archive (`mtl_keras.saving.check_model_file`)."""
    try:
        return check_model_file(str(text))
    except (ModelFileError, FileNotFoundError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def baselines_file(text):
    """A JSON file `{task: {metric: value}}` of single-task baselines; returns the parsed dict."""
    path = str(text)
    if not os.path.isfile(path):
        reason = "is a folder" if os.path.isdir(path) else "does not exist"
        raise _error(f"must be a JSON file {{task: {{metric: value}}}}, but it {reason}", text)
    try:
        with open(path, encoding="utf-8") as f:
            baselines = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _error(f"must be a JSON file {{task: {{metric: value}}}}, but it cannot be read as JSON ({error})", text) from None
    if not isinstance(baselines, dict) or not baselines:
        raise _error("must hold a non-empty JSON object {task: {metric: value}}", text)
    for task, metrics in baselines.items():
        if not isinstance(metrics, dict) or not metrics:
            raise _error(f"must map each task to {{metric: value}}; task '{task}' maps to {metrics!r}", text)
        for metric, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise _error(f"must hold finite numbers; '{task}' -> '{metric}' is {value!r}", text)
    return baselines
