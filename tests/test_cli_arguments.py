"""The command line's argument types (`mtl_keras.cli_arguments`): what they accept, what they reject
and what they say, at the bounds. Pure Python, no TensorFlow work."""

import argparse
import json
import os

import pytest

from mtl_keras import cli_arguments as A


def rejects(parse, text, message):
    """`parse(text)` fails with a message that starts with (or holds) `message` and quotes `text`."""
    with pytest.raises(argparse.ArgumentTypeError) as info:
        parse(text)
    full = str(info.value)
    assert full.startswith(message) or (not message.startswith(("must", "cannot", "lists")) and message in full), full
    assert full.endswith(f". Received: {text!r}"), full
    return full


def test_integer_bounds_are_inclusive_and_named():
    one_to_five = A.integer(minimum=1, maximum=5)
    assert [one_to_five(t) for t in ("1", " 5 ", 3)] == [1, 5, 3]
    for bad in ("0", "6", "-1"):
        assert rejects(one_to_five, bad, "must be an integer between 1 and 5") == f"must be an integer between 1 and 5. Received: {bad!r}"
    rejects(one_to_five, "2.5", "must be an integer between 1 and 5")
    rejects(one_to_five, "x", "must be an integer between 1 and 5")
    assert A.integer(minimum=1)("1000000") == 1000000
    rejects(A.integer(minimum=1), "0", "must be an integer >= 1.")
    assert A.integer(maximum=3)("-7") == -7
    rejects(A.integer(maximum=3), "4", "must be an integer <= 3.")
    assert A.integer()("-12") == -12
    rejects(A.integer(), "twelve", "must be an integer.")
    assert A.integer().__name__ == "integer"  # argparse names the type in its own messages


def test_number_bounds_inclusive_and_exclusive():
    rate = A.number(exclusive_minimum=0)
    assert rate("1e-9") == 1e-9 and rate(" 2.5 ") == 2.5
    rejects(rate, "0", "must be a finite number > 0.")
    rejects(rate, "-1", "must be a finite number > 0.")
    share = A.number(exclusive_minimum=0, maximum=1)
    assert share("1") == 1.0
    rejects(share, "1.0001", "must be a finite number > 0 and <= 1.")
    rejects(share, "0", "must be a finite number > 0 and <= 1.")
    closed = A.number(minimum=0, maximum=1)
    assert closed("0") == 0.0 and closed("1") == 1.0
    rejects(closed, "-0.001", "must be a finite number between 0 and 1.")
    rejects(closed, "1.5", "must be a finite number between 0 and 1.")
    assert A.number(minimum=0.5)("0.5") == 0.5
    rejects(A.number(minimum=0.5), "0.4", "must be a finite number >= 0.5.")
    rejects(A.number(maximum=2), "3", "must be a finite number <= 2.")
    assert A.number()("-3.25") == -3.25
    for bad in ("nan", "inf", "-inf", "abc", ""):
        rejects(A.number(), bad, "must be a finite number.")
    assert A.number().__name__ == "number"


def test_integer_list():
    seeds = A.integer_list(minimum=0)
    assert seeds("0,1,2") == [0, 1, 2]
    assert seeds(" 3 , 4 ,") == [3, 4]
    assert seeds("7") == [7]
    rejects(seeds, "", "must be a comma-separated list of integers, e.g. 0,1,2.")
    rejects(seeds, " , ", "must be a comma-separated list of integers")
    rejects(seeds, "1,x", "must be comma-separated integers >= 0.")
    rejects(seeds, "1,-1", "must be comma-separated integers >= 0.")
    rejects(seeds, "1,2,1", "lists a value twice.")
    assert A.integer_list()("-1,5") == [-1, 5]
    rejects(A.integer_list(), "a", "must be comma-separated integers.")
    assert A.integer_list().__name__ == "integer list"


def test_number_range():
    positive = A.number_range()
    assert positive("0.1,10") == (0.1, 10.0)
    assert positive("1e-4:1") == (1e-4, 1.0)
    assert positive(" 2 , 3 ") == (2.0, 3.0)
    message = "must be a range LOW,HIGH of finite numbers with 0 < LOW < HIGH"
    for bad in ("0,1", "-1,1", "1,1", "2,1", "1", "1,2,3", "a,b", "nan,1", "1,inf", ""):
        rejects(positive, bad, message)
    signed = A.number_range(positive=False)
    assert signed("-1,1") == (-1.0, 1.0) and signed("0,1") == (0.0, 1.0)
    rejects(signed, "1,-1", "must be a range LOW,HIGH of finite numbers with LOW < HIGH.")
    rejects(signed, "1,1", "with LOW < HIGH")
    assert positive.__name__ == "range"


def test_non_empty():
    assert A.non_empty("  name ") == "name"
    rejects(A.non_empty, "", "must not be empty")
    rejects(A.non_empty, "   ", "must not be empty")


def test_output_folder(tmp_path, monkeypatch):
    assert A.output_folder(str(tmp_path)) == str(tmp_path)
    new = tmp_path / "a" / "b"
    assert A.output_folder(str(new)) == str(new)
    assert not (tmp_path / "a").exists()  # checked, not created
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    rejects(A.output_folder, str(blocker), "must be a folder, but a file of that name exists")
    rejects(A.output_folder, str(blocker / "sub"), f"cannot be created: '{blocker}' is a file, not a folder")
    rejects(A.output_folder, "  ", "must be a folder path")
    # a folder without write permission (simulated: the tests may run as root, who may write anywhere)
    locked = str(tmp_path / "locked")
    os.mkdir(locked)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if os.path.abspath(p) == locked and mode & os.W_OK else real_access(p, mode))
    rejects(A.output_folder, locked, "must be a writable folder, but this one is not writable")
    rejects(A.output_folder, os.path.join(locked, "new"), f"cannot be created: the folder '{locked}' is not writable")
    assert A.output_folder(str(tmp_path / "other")) == str(tmp_path / "other")


def test_new_file(tmp_path, monkeypatch):
    keras_file = A.new_file(".keras")
    target = str(tmp_path / "model.keras")
    assert keras_file(target) == target
    assert keras_file(str(tmp_path / "MODEL.KERAS")) == str(tmp_path / "MODEL.KERAS")
    rejects(keras_file, str(tmp_path / "model.h5"), "must end with .keras")
    rejects(keras_file, "", "must be a file path")
    folder = tmp_path / "d.keras"
    folder.mkdir()
    rejects(keras_file, str(folder), "must be a file path, but it is a folder")
    missing = tmp_path / "missing"
    rejects(keras_file, str(missing / "m.keras"), f"must be in an existing folder, but '{missing}' does not exist")
    assert A.new_file()(str(tmp_path / "anything.txt")) == str(tmp_path / "anything.txt")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if os.path.abspath(p) == str(tmp_path) and mode & os.W_OK else real_access(p, mode))
    rejects(keras_file, target, f"must be in a writable folder, but '{tmp_path}' is not writable")
    assert keras_file.__name__ == "file path"


def test_model_file(tmp_path):
    with pytest.raises(argparse.ArgumentTypeError, match="missing.keras"):
        A.model_file(str(tmp_path / "missing.keras"))
    empty = tmp_path / "empty.keras"
    empty.write_bytes(b"")
    with pytest.raises(argparse.ArgumentTypeError, match="empty"):
        A.model_file(str(empty))


def write_json(tmp_path, value, name="baselines.json"):
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return str(path)


def test_baselines_file(tmp_path):
    good = {"a": {"accuracy": 0.9, "loss": 1}, "b": {"mae": 2.5}, "café": {"µ": 1.0}}
    path = tmp_path / "utf8.json"
    path.write_bytes(json.dumps(good, ensure_ascii=False).encode("utf-8"))  # UTF-8 whatever the locale
    assert A.baselines_file(str(path)) == good
    rejects(A.baselines_file, str(tmp_path / "none.json"), "must be a JSON file {task: {metric: value}}, but it does not exist")
    rejects(A.baselines_file, str(tmp_path), "but it is a folder")
    rejects(A.baselines_file, write_json(tmp_path, "{not json"), "but it cannot be read as JSON (")
    for value in ([1, 2], {}, "[]"):
        rejects(A.baselines_file, write_json(tmp_path, value), "must hold a non-empty JSON object {task: {metric: value}}")
    rejects(A.baselines_file, write_json(tmp_path, {"a": 1}), "must map each task to {metric: value}; task 'a' maps to 1")
    rejects(A.baselines_file, write_json(tmp_path, {"a": {"m": 1}, "b": {}}), "task 'b' maps to {}")
    for bad in ("true", '"x"', "NaN", "Infinity", "null"):
        rejects(A.baselines_file, write_json(tmp_path, '{"a": {"m": ' + bad + '}}'), "must hold finite numbers; 'a' -> 'm' is")


def test_errors_reach_the_user_through_argparse(capsys):
    parser = argparse.ArgumentParser(prog="mtl-keras train")
    parser.add_argument("--epochs", type=A.integer(minimum=1))
    assert parser.parse_args(["--epochs", "3"]).epochs == 3
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["--epochs", "0"])
    assert info.value.code == 2
    assert "argument --epochs: must be an integer >= 1. Received: '0'" in capsys.readouterr().err
