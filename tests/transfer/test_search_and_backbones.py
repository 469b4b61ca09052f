import keras
import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras import transfer


def test_cross_validated_search(pretrained, target_data, tmp_path):
    x, y = target_data
    search = transfer.CrossValidatedSearch(
        pretrained, mk.Task("t", num_classes=2), x, y, folds=2, epochs=1, batch_size=16,
        learning_rates=(1e-3, 1e-2), decays=(1.0, 2.6), unfreezing=(0, 1), max_trials=2,
        directory=str(tmp_path), overwrite=True,
    )
    best = search.search()
    assert set(best) == {"learning_rate", "decay", "epochs_per_stage"}
    assert len(search.tuner.oracle.trials) == 2
    tuner = search.fit_best(epochs=1)
    assert tuner.model.task_names == ["t"]


def test_keras_application_backbone_from_local_weights(tmp_path):
    kwargs = dict(minimalistic=True, include_preprocessing=False)
    source = keras.applications.MobileNetV3Small(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg", **kwargs)
    path = str(tmp_path / "backbone.weights.h5")
    source.save_weights(path)
    backbone = transfer.backbone_from_keras_application("MobileNetV3Small", (32, 32, 3), weights_path=path, **kwargs)
    for a, b in zip(source.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(a, b)
    model = mk.MultiTaskModel([mk.Task("a", num_classes=3)], body=backbone, input_shape=(32, 32, 3))
    x = np.random.default_rng(0).uniform(size=(8, 32, 32, 3)).astype("float32")
    tuned = transfer.fine_tune(
        model, mk.Task("b", num_classes=2), mk.data.shared_input_dataset(x, {"b": np.arange(8) % 2}, batch_size=8),
        epochs=1, freeze=20, verbose=0,
    )
    assert tuned.predict(x, verbose=0)["b"].shape == (8, 2)
    assert len(transfer.body_groups(tuned)) > 20


def test_unknown_application():
    import pytest

    with pytest.raises(ValueError, match="Unknown Keras application"):
        transfer.backbone_from_keras_application("NoSuchNet", (32, 32, 3))


@pytest.mark.parametrize("kwargs, message", [
    (dict(learning_rates=(1e-3, -1e-3)), r"learning_rates must be finite numbers > 0\. Received: learning_rates=\[0\.001, -0\.001\]"),
    (dict(decays=(0.5,)), r"decays must be finite numbers >= 1\. Received: decays=\[0\.5\]"),
    (dict(max_trials=0), r"max_trials must be an integer >= 1\. Received: max_trials=0"),
    (dict(labels=lambda y: {"t": y["t"] + 2}), r"Task 't': labels must be in \[0, 2\)\. Received: label=[23]"),
    (dict(labels=lambda y: {"u": y["t"]}), r"Data given for tasks the model does not have: \['u'\]"),
])
def test_cross_validated_search_checks_its_arguments_before_searching(pretrained, target_data, tmp_path, kwargs, message):
    x, y = target_data
    labels = kwargs.pop("labels", lambda y: y)(y)
    with pytest.raises(ValueError, match=message):
        transfer.CrossValidatedSearch(pretrained, mk.Task("t", num_classes=2), x, labels, folds=2, directory=str(tmp_path), **kwargs)
