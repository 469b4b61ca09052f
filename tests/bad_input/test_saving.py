"""Missing, empty, truncated, corrupt or foreign model files, and weights from another model.

`mtl_keras.saving.load_model` and `check_model_file` name the path and what is wrong (Keras alone
says "File not found" for a file that exists); `check_weights_match` names the first variable that
does not fit, with the expected and the found shape.
"""

import json
import zipfile

import keras
import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras import saving
from mtl_keras.saving import ModelFileError, ModelFileNotFoundError


def _rewrite_zip(source, target, drop=(), replace=None):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            if item.filename in drop:
                continue
            data = (replace or {}).get(item.filename, old.read(item.filename))
            new.writestr(item, data)


def _flip_byte_in_weights(source, target):
    """A copy whose weights entry has one byte changed (its CRC no longer matches)."""
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo("model.weights.h5")
    header = 30 + len(info.filename.encode()) + len(info.extra)
    middle = info.header_offset + header + info.compress_size // 2
    data[middle] ^= 0xFF
    target.write_bytes(bytes(data))


def make_file(kind, tmp_path, keras_file):
    """A damaged model file of `kind`; returns its path."""
    data = keras_file.read_bytes()
    path = tmp_path / f"{kind}.keras"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind.startswith("truncated_"):
        keep = {"truncated_10_bytes": 10, "truncated_half": len(data) // 2, "truncated_end": len(data) - 10}[kind]
        path.write_bytes(data[:keep])
    elif kind == "text":
        path.write_text("model goes here")
    elif kind == "hdf5_named_keras":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    elif kind == "zip_without_weights":
        _rewrite_zip(keras_file, path, drop=("model.weights.h5",))
    elif kind == "zip_without_config":
        _rewrite_zip(keras_file, path, drop=("config.json",))
    elif kind == "config_not_json":
        _rewrite_zip(keras_file, path, replace={"config.json": b"{not json"})
    elif kind == "config_without_class":
        _rewrite_zip(keras_file, path, replace={"config.json": json.dumps({"config": {}}).encode()})
    elif kind == "weights_not_hdf5":
        _rewrite_zip(keras_file, path, replace={"model.weights.h5": b"not an hdf5 file"})
    elif kind == "crc_mismatch":
        _flip_byte_in_weights(keras_file, path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "saved_model_folder":
        path = tmp_path / "export" / "1"
        path.mkdir(parents=True)
        (path / "saved_model.pb").write_bytes(b"x")
    elif kind == "wrong_extension":
        path = tmp_path / "model.zip"
        path.write_bytes(data)
    elif kind == "weights_only":
        path = tmp_path / "model.weights.h5"
        path.write_bytes(b"\x89HDF\r\n\x1a\n")
    elif kind == "legacy_h5_not_hdf5":
        path = tmp_path / "model.h5"
        path.write_text("not hdf5")
    return path


# kind -> what the message must say about the file
DAMAGED = {
    "empty": "is empty (0 bytes)",
    "truncated_10_bytes": "is truncated (10 bytes",
    "truncated_half": "is truncated (",
    "truncated_end": "is truncated (",
    "text": "is not a zip archive",
    "hdf5_named_keras": "is an HDF5 file, not a .keras zip archive",
    "zip_without_weights": "lacks model.weights.h5",
    "zip_without_config": "lacks config.json",
    "config_not_json": "config.json is not valid JSON",
    "config_without_class": "config.json has no 'class_name'",
    "weights_not_hdf5": "model.weights.h5 is not an HDF5 file",
    "crc_mismatch": "entry 'model.weights.h5' fails the zip CRC check",
    "folder": "is a directory",
    "saved_model_folder": "is a SavedModel directory",
    "wrong_extension": "has '.zip' as its extension",
    "weights_only": "holds weights only",
    "legacy_h5_not_hdf5": "is not an HDF5 file",
}


@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_damaged_model_file_is_named_with_its_problem(kind, tmp_path, keras_file):
    path = make_file(kind, tmp_path, keras_file)
    with pytest.raises(ModelFileError) as raised:
        saving.load_model(path)
    message = str(raised.value)
    assert f"'{path}'" in message and DAMAGED[kind] in message, message
    assert "File not found" not in message
    with pytest.raises(ValueError, match=DAMAGED[kind].replace("(", r"\(").replace(")", r"\)")):
        saving.check_model_file(path)  # also without loading, and a ValueError


def test_missing_file_and_missing_folder(tmp_path):
    with pytest.raises(ModelFileNotFoundError, match=r"No model file at '.*nothing.keras'\.$"):
        saving.load_model(tmp_path / "nothing.keras")
    with pytest.raises(FileNotFoundError, match=r"the folder '.*no_folder' does not exist either"):
        saving.check_model_file(tmp_path / "no_folder" / "m.keras")


def test_export_load_model_checks_the_file_too(tmp_path, keras_file):
    from mtl_keras import export

    path = make_file("truncated_half", tmp_path, keras_file)
    with pytest.raises(ValueError, match=r"'.*truncated_half.keras' is truncated"):
        export.load_model(path)
    with pytest.raises(ValueError, match="is truncated"):
        export.export_saved_model(path, tmp_path / "served")
    assert not (tmp_path / "served").exists()


def test_valid_file_loads_and_predicts_the_same(tmp_path):
    tasks = [mk.Task("a", num_classes=3), mk.Task("b", kind="regression")]
    model = mk.MultiTaskModel(tasks, body=keras.Sequential([keras.layers.Dense(4, activation="tanh")]), input_shape=(5,))
    path = tmp_path / "m.keras"
    model.save(path)
    assert saving.check_model_file(path) == str(path)
    loaded = saving.load_model(path, compile=False)
    x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    want, got = model(x), loaded(x)
    for task in ("a", "b"):
        np.testing.assert_allclose(np.asarray(got[task]), np.asarray(want[task]), rtol=1e-6, atol=1e-6)


def test_keras_cannot_rebuild_names_the_file(tmp_path, keras_file):
    """A complete archive whose config names a class nobody registered: the error names the file."""
    with zipfile.ZipFile(keras_file) as archive:
        config = json.loads(archive.read("config.json"))
    config["registered_name"] = config["class_name"] = "NoSuchModel"
    config["module"] = "nowhere"
    path = tmp_path / "unknown_class.keras"
    _rewrite_zip(keras_file, path, replace={"config.json": json.dumps(config).encode()})
    with pytest.raises(ModelFileError, match=r"Cannot rebuild the model saved in '.*unknown_class.keras'.*NoSuchModel"):
        saving.load_model(path)


# ---------------------------------------------------------------------------- weights from another model
def _model(units=4, tasks=None, head_units=(), name="m"):
    tasks = tasks or [mk.Task("a", num_classes=3), mk.Task("b", kind="regression")]
    body = keras.Sequential([keras.layers.Dense(units, name="shared")], name="trunk")
    heads = mk.layers.TaskHeads([t.output_units for t in tasks], hidden_units=head_units, name="heads")
    return mk.MultiTaskModel(tasks, body=body, heads=heads, input_shape=(5,), name=name)


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_weights_of_the_same_architecture_match(suffix, tmp_path):
    source, target = _model(), _model()
    path = tmp_path / f"w{suffix}"
    source.save_weights(path) if suffix == ".weights.h5" else source.save(path)
    saving.check_weights_match(target, path)  # no error
    target.load_weights(path)
    np.testing.assert_array_equal(target.body.layers[0].kernel.numpy(), source.body.layers[0].kernel.numpy())


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_different_width_names_the_variable_and_both_shapes(suffix, tmp_path):
    source, target = _model(units=8), _model(units=4)
    path = tmp_path / f"w{suffix}"
    source.save_weights(path) if suffix == ".weights.h5" else source.save(path)
    with pytest.raises(ValueError) as raised:
        saving.check_weights_match(target, path)
    message = str(raised.value)
    assert f"'{path}' does not fit model 'm'" in message
    assert "variable 'body/layers/dense/vars/0' (variable 'm/trunk/shared/kernel')" in message, message
    assert "the model expects shape (5, 4), the file holds shape (5, 8)" in message


def test_more_tasks_in_the_model_names_the_missing_head(tmp_path):
    source = _model()
    target = _model(tasks=[mk.Task("a", num_classes=3), mk.Task("b", kind="regression"), mk.Task("c", kind="binary")])
    path = tmp_path / "w.weights.h5"
    source.save_weights(path)
    with pytest.raises(ValueError, match=r"the model has variable 'heads/towers/sequential_2/layers/dense/vars/0' \(variable 'm/heads/head2/output/kernel'\) of shape \(4, 1\).*no variable there \(it holds 7 variables, the model 9\)"):
        saving.check_weights_match(target, path)


def test_fewer_tasks_in_the_model_names_the_extra_variable(tmp_path):
    source = _model(tasks=[mk.Task("a", num_classes=3), mk.Task("b", kind="regression"), mk.Task("c", kind="binary")])
    target = _model()
    path = tmp_path / "w.weights.h5"
    source.save_weights(path)
    with pytest.raises(ValueError, match=r"the file holds variable 'heads/towers/sequential_2/.*vars/0' of shape \(4, 1\), which the model does not have \(2 such variables"):
        saving.check_weights_match(target, path)


def test_weights_check_needs_a_built_model_and_a_real_file(tmp_path):
    unbuilt = mk.MultiTaskModel([mk.Task("a", num_classes=3)], body=keras.Sequential([keras.layers.Dense(4)]))
    with pytest.raises(ValueError, match="Model '.*' is not built.*Received: model.built=False"):
        saving.check_weights_match(unbuilt, tmp_path / "w.weights.h5")
    model = _model()
    with pytest.raises(ModelFileNotFoundError, match=r"No weights file at '.*absent.weights.h5'"):
        saving.check_weights_match(model, tmp_path / "absent.weights.h5")
    (tmp_path / "text.weights.h5").write_text("weights")
    with pytest.raises(ModelFileError, match=r"'.*text.weights.h5' \(7 bytes\) is not an HDF5 file"):
        saving.check_weights_match(model, tmp_path / "text.weights.h5")
    (tmp_path / "empty.weights.h5").write_bytes(b"")
    with pytest.raises(ModelFileError, match=r"'.*empty.weights.h5' is empty \(0 bytes\)"):
        saving.check_weights_match(model, tmp_path / "empty.weights.h5")


def test_other_weight_formats_are_left_to_keras(tmp_path):
    """Legacy `.h5` and sharded `.weights.json` weights have another layout: not compared (Keras reads them)."""
    model = _model()
    assert saving.check_weights_match(model, tmp_path / "legacy.h5") is None
    assert saving.check_weights_match(model, tmp_path / "sharded.weights.json") is None
