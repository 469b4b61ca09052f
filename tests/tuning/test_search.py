"""Searches on the offline benchmarks: weights on the GradNorm scale set, λ on the MMoE pair,
Hyperband with continued trials, and resuming an interrupted search."""

import json
import os

import keras
import keras_tuner
import numpy as np
import pytest

from mtl_keras import tuning
from mtl_keras.benchmarks import datasets
from mtl_keras.layers import SoftSharing


def equal_weights_score(hypermodel, train, val, epochs):
    """The objective of an equal-weights trial, trained and scored like the search's trials."""
    hp = keras_tuner.HyperParameters()
    hp.values.update({f"weight_{t}": 1.0 for t in hypermodel.task_names})
    model = hypermodel.build(hp)
    history = hypermodel.fit(hp, model, train, validation_data=val, epochs=epochs, verbose=0)
    scores = history.history[hypermodel.objective.name]
    return max(scores) if hypermodel.objective.direction == "max" else min(scores)


def test_tuned_weights_beat_equal_weights_on_the_scale_set(tmp_path):
    # Task 2's labels are 100x larger: with equal weights its gradients (10^4x) take the shared
    # trunk. Δm against single-task baselines is scale-free, so down-weighting task 2 must win.
    bench = datasets.load_benchmark("gradnorm_scales")
    result = tuning.tune(
        bench,
        "hard_sharing_mlp_small",
        "weights",
        tuner="random",
        max_trials=5,
        epochs=8,
        batch_size=32,
        learning_rate=3e-2,
        weight_range=(1e-5, 1.0),
        reference_task="task_1",
        directory=tmp_path,
        seed=0,
    )
    assert result.objective == "val_delta_m" and result.direction == "max"
    assert len(result.trials) == 5 and all(t["status"] == "COMPLETED" for t in result.trials)
    hm = result.hypermodel
    assert os.path.exists(os.path.join(tmp_path, "mtl_tune", tuning.BASELINES_FILE))
    train, val = tuning.benchmark_streams(bench, batch_size=32)
    equal = equal_weights_score(hm, train, val, epochs=8)
    weights = result.best["weights"]
    assert weights["task_1"] == 1.0 and weights["task_2"] < 0.01, result.summary_markdown()
    assert result.best_score > equal + 15.0, (equal, result.summary_markdown())
    # The summary table is written with the best values.
    text = open(result.write_summary(tmp_path / "summary.md")).read()
    assert "w_task_2" in text and "## Best" in text


def test_lambda_search_on_the_mmoe_pair_and_best_model_reload(tmp_path):
    bench = datasets.load_benchmark("mmoe_synthetic", num_train=1000, num_validation=300)
    result = tuning.tune(
        bench,
        "test_soft_sharing_mlp",
        "lambda",
        tuner="bayesian",
        max_trials=4,
        epochs=2,
        batch_size=64,
        learning_rate=1e-2,
        lambda_range=(1e-4, 10.0),
        directory=tmp_path,
        seed=0,
    )
    lambdas = [t["lambda"] for t in result.trials]
    assert all(1e-4 <= lam <= 10.0 for lam in lambdas) and len(set(lambdas)) == 4
    assert result.best["weights"] is None and result.best["lambda"] == result.trials[0]["lambda"]
    # get_best_models rebuilds the subclassed model in build() and loads the trial's checkpoint.
    best = result.tuner.get_best_models(1)[0]
    penalty = [layer for layer in best.penalty_layers if isinstance(layer, SoftSharing)]
    assert penalty and penalty[0].penalty_weight == pytest.approx(result.best["lambda"], rel=1e-6)
    _, val = tuning.benchmark_streams(bench, batch_size=64)
    logs = best.evaluate(val, return_dict=True, verbose=0)
    score = result.hypermodel.objective.score({f"val_{k}": v for k, v in logs.items()})
    assert score == pytest.approx(result.best_score, abs=1e-3)


def test_hyperband_continues_trials_from_checkpoints(tmp_path):
    bench = datasets.load_benchmark("mmoe_synthetic", num_train=400, num_validation=200)
    objective = tuning.MultiTaskObjective(metric="mae")
    result = tuning.tune(
        bench,
        ["test_soft_sharing_mlp", "test_hard_sharing_mlp"],
        "model,lambda,lr",
        tuner="hyperband",
        epochs=3,
        batch_size=64,
        objective=objective,
        directory=tmp_path,
        seed=0,
        tuner_kwargs={"factor": 3},
    )
    trials = result.tuner.oracle.trials.values()
    assert all(str(t.status) == "COMPLETED" for t in trials)
    continued = [t for t in trials if t.hyperparameters.values.get("tuner/trial_id")]
    assert continued, "Hyperband ran no continued trial"
    assert result.direction == "min" and result.objective == "val_mean_mae"
    for t in result.trials:  # λ only for the soft-sharing model
        assert (t["lambda"] is not None) == (t["model"] == "test_soft_sharing_mlp")


class Interrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt in the middle of the `at`-th trial (counted across copies)."""

    started = 0

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_begin(self, logs=None):
        type(self).started += 1

    def on_train_batch_end(self, batch, logs=None):
        if type(self).started == self.at and batch == 3:
            raise KeyboardInterrupt("simulated interruption")


def test_search_resumes_after_an_interruption(tmp_path, monkeypatch):
    bench = datasets.load_benchmark("gradnorm_scales", num_train=400, num_validation=200)
    kwargs = dict(tuner="random", max_trials=4, epochs=2, batch_size=64, directory=tmp_path, seed=0, learning_rate=1e-2)
    Interrupt.started = 0
    with pytest.raises(KeyboardInterrupt):
        tuning.tune(bench, "test_hard_sharing_mlp", "weights", callbacks=[Interrupt(at=3)], **kwargs)
    project = tmp_path / "mtl_tune"
    before = {}
    for name in sorted(os.listdir(project)):
        if name.startswith("trial_"):
            with open(project / name / "trial.json") as f:
                trial = json.load(f)
            before[trial["trial_id"]] = (trial["status"], trial["score"])
    assert [s for s, _ in before.values()] == ["COMPLETED", "COMPLETED", "RUNNING"]

    # The baselines are cached: resuming must not train them again.
    def fail(*args, **kwargs):
        raise AssertionError("baselines recomputed")

    monkeypatch.setattr(tuning.MultiTaskHyperModel, "single_task_baselines", fail)
    result = tuning.tune(bench, "test_hard_sharing_mlp", "weights", **kwargs)
    after = {t["trial_id"]: t for t in result.trials}
    assert sorted(after) == ["0", "1", "2", "3"]
    assert all(t["status"] == "COMPLETED" for t in after.values())
    for trial_id, (status, score) in before.items():
        if status == "COMPLETED":
            assert after[trial_id]["score"] == score  # finished trials were not re-run
    assert np.isfinite(after["2"]["score"])  # the interrupted trial was retried
