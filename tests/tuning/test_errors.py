"""Bad input of the tuning API: clear errors before any training."""

import pytest

import mtl_keras as mk
from mtl_keras import tuning

TASKS = [mk.Task("a", kind="regression"), mk.Task("b", kind="regression")]


def hypermodel(**kwargs):
    kwargs.setdefault("objective", tuning.MultiTaskObjective(metric="mae"))
    return tuning.MultiTaskHyperModel(TASKS, (4,), **kwargs)


def test_empty_search_space():
    with pytest.raises(ValueError, match="search space is empty"):
        hypermodel(search=())
    with pytest.raises(ValueError, match="search space is empty"):
        hypermodel(search="")


def test_unknown_search_entry():
    with pytest.raises(ValueError, match="cannot search"):
        hypermodel(search="weights,depth")


def test_metric_no_task_logs():
    with pytest.raises(ValueError, match="no task logs the metric 'accuracy'"):
        tuning.MultiTaskObjective(metric="accuracy").configure(TASKS)
    with pytest.raises(ValueError, match="no task logs the metric 'c_mae'"):
        tuning.MultiTaskObjective(metric="c_mae").configure(TASKS)


@pytest.mark.parametrize("bounds", [(-1.0, 1.0), (-2.0, -1.0), (0.0, 1.0), (1.0, 0.1)])
def test_lambda_range_must_be_positive_and_ordered(bounds):
    with pytest.raises(ValueError, match="lambda_range"):
        hypermodel(model="test_soft_sharing_mlp", search="lambda", lambda_range=bounds)


def test_lambda_needs_soft_sharing_model():
    with pytest.raises(ValueError, match="soft-sharing"):
        hypermodel(model="test_hard_sharing_mlp", search="lambda")


def test_model_search_needs_two_models_and_weighting_two_strategies():
    with pytest.raises(ValueError, match="at least two models"):
        hypermodel(model="test_hard_sharing_mlp", search="model")
    with pytest.raises(ValueError, match="'model' is not searched"):
        hypermodel(model=["test_hard_sharing_mlp", "test_mmoe_mlp"], search="weights")
    with pytest.raises(ValueError, match="unknown weighting"):
        hypermodel(search="weighting", weightings=["static", "nope"])


def test_objective_needs_baselines_or_metric_and_checks_baselines():
    with pytest.raises(ValueError, match="baselines"):
        tuning.MultiTaskObjective()
    with pytest.raises(ValueError, match="unknown tasks"):
        tuning.MultiTaskObjective(baselines={"c": {"mae": 1.0}}).configure(TASKS)
    with pytest.raises(ValueError, match="no logged metric"):
        tuning.MultiTaskObjective(baselines={"a": {"loss": 1.0}}).configure(TASKS)


def test_objective_forms_and_directions():
    dm = tuning.MultiTaskObjective(baselines={"a": {"mae": 0.5}, "b": {"mae": 40.0}}).configure(TASKS)
    assert (dm.name, dm.direction) == ("val_delta_m", "max")
    assert dm.score({"val_a_mae": 0.25, "val_b_mae": 40.0}) == pytest.approx(25.0)
    mean = tuning.MultiTaskObjective(metric="mae").configure(TASKS)
    assert (mean.name, mean.direction) == ("val_mean_mae", "min")
    assert mean.score({"val_a_mae": 1.0, "val_b_mae": 3.0}) == pytest.approx(2.0)
    one = tuning.MultiTaskObjective(metric="b_loss").configure(TASKS)
    assert (one.name, one.direction) == ("val_b_loss", "min")
    tasks = [mk.Task("c", num_classes=3), mk.Task("d", kind="regression")]
    acc = tuning.MultiTaskObjective(metric="c_accuracy").configure(tasks)
    assert acc.direction == "max"


def test_simplex_weights_sum_to_the_number_of_tasks():
    hm = hypermodel(weight_space="simplex")
    values = hm.decode({"weight_a": 0.5, "weight_b": 0.9})
    assert sum(values["weights"].values()) == pytest.approx(2.0)
    assert values["weights"]["b"] > values["weights"]["a"]
    assert hm.decode({"weight_a": 0.0, "weight_b": 0.0})["weights"] == {"a": 1.0, "b": 1.0}


def test_unknown_tuner():
    with pytest.raises(ValueError, match="Unknown tuner"):
        tuning.make_tuner(hypermodel(), "grid")


def test_cli_parses_and_rejects_bad_ranges(tmp_path, capsys):
    import argparse

    from mtl_keras.tuning import cli

    parser = argparse.ArgumentParser(prog="mtl-keras")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["tune", "--model", "test_soft_sharing_mlp", "--search", "weights,lambda", "--lambda-range=0.01,1"]
        + ["--out", str(tmp_path)]
    )
    assert args.func is cli.run and args.lambda_range == (0.01, 1.0)
    with pytest.raises(SystemExit) as exited:  # refused while parsing, before any TensorFlow work
        parser.parse_args(["tune", "--lambda-range=-1,1", "--out", str(tmp_path)])
    assert exited.value.code == 2 and "argument --lambda-range" in capsys.readouterr().err
    args.lambda_range = (-1.0, 1.0)  # the library checks the range too
    with pytest.raises(ValueError, match="lambda_range"):
        cli.run(args)
    args = parser.parse_args(["tune", "--search", "", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="search space is empty"):
        cli.run(args)


def test_weight_decay_is_searched_with_adamw():
    import keras
    import keras_tuner

    model = hypermodel(model="test_hard_sharing_mlp", search="lr,weight_decay", weight_decay_range=(1e-4, 1e-2))
    hp = keras_tuner.HyperParameters()
    built = model.build(hp)  # declares the hyper-parameters at their defaults (the range's low end)
    assert set(hp.values) == {"learning_rate", "weight_decay"}
    values = model.decode({"learning_rate": 3e-3, "weight_decay": 5e-3})
    assert values["weight_decay"] == 5e-3 and values["learning_rate"] == 3e-3
    assert isinstance(built.optimizer, keras.optimizers.AdamW)
    assert float(built.optimizer.weight_decay) == pytest.approx(hp.values["weight_decay"])
    plain = hypermodel(model="test_hard_sharing_mlp", search="lr")
    assert type(plain.build(keras_tuner.HyperParameters()).optimizer) is keras.optimizers.Adam
    assert plain.decode({"learning_rate": 1e-3})["weight_decay"] == 0.0
    with pytest.raises(ValueError, match="weight_decay=-0.1"):
        hypermodel(search="lr", weight_decay=-0.1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(learning_rate=-1e-3), r"learning_rate must be a finite number > 0\. Received: learning_rate=-0\.001"),
    (dict(learning_rate=float("nan")), r"learning_rate=nan"),
    (dict(seed="s"), r"seed must be an integer\. Received: seed='s'"),
    (dict(baseline_epochs=0), r"baseline_epochs must be None or an integer >= 1\. Received: baseline_epochs=0"),
])
def test_bad_numbers_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        hypermodel(**kwargs)


@pytest.mark.parametrize("shape", [None, 4, ()])
def test_input_shape_must_be_a_tuple(shape):
    with pytest.raises(ValueError, match=r"input_shape must be a tuple of positive integers"):
        tuning.MultiTaskHyperModel(TASKS, shape, objective=tuning.MultiTaskObjective(metric="mae"))


def test_weightings_as_a_comma_separated_string_are_names_not_letters():
    model = hypermodel(search="weighting", weightings="static,uncertainty")
    assert model.weightings == ["static", "uncertainty"]
