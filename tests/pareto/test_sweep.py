"""The sweep: runs, non-dominated marking, hypervolume, files, and resuming."""

import json
import os

import keras
import numpy as np

import mtl_keras as mk
from mtl_keras.pareto import front, sweep

from .conftest import conflicting_problem, regression_tasks


def test_sweep_writes_report_and_resumes(tmp_path):
    tasks = regression_tasks()
    built = []

    def build(seed):
        built.append(seed)
        return mk.MultiTaskModel(tasks, body=keras.Sequential([keras.layers.Dense(1)]), input_shape=(4,))

    train, test = conflicting_problem(128, 0), conflicting_problem(64, 1)
    lines = []
    kwargs = dict(num_weights=3, strategies=["uncertainty"], fit_kwargs={"epochs": 3, "batch_size": 32}, progress=lines.append)
    result = sweep(tasks, build, train, test, out_dir=tmp_path, **kwargs)
    assert len(built) == 4 and len(result.rows) == 4
    assert [r["id"] for r in result.rows][:3] == ["weights=0.0000,1.0000", "weights=0.5000,0.5000", "weights=1.0000,0.0000"]
    points = result.losses()
    assert [r["non_dominated"] for r in result.rows] == front.non_dominated(points).tolist()
    assert result.hypervolume == front.hypervolume(result.losses("weights"), result.reference) > 0
    # a weight of 1 on a task gives it a lower test loss than a weight of 0
    by_id = {r["id"]: r["losses"] for r in result.rows}
    assert by_id["weights=1.0000,0.0000"]["a"] < by_id["weights=0.0000,1.0000"]["a"]
    for name in ("pareto_results.json", "pareto.csv", "pareto.md", "pareto_front.png"):
        assert os.path.getsize(tmp_path / name) > 0
    assert "uncertainty" in (tmp_path / "pareto.md").read_text()

    # resuming: nothing is trained again; one more weight vector trains one more model
    lines.clear()
    again = sweep(tasks, build, train, test, out_dir=tmp_path, **kwargs)
    assert len(built) == 4 and sum("skipped" in line for line in lines) == 4
    assert [r["losses"] for r in again.rows] == [r["losses"] for r in result.rows]
    extra = sweep(tasks, build, train, test, out_dir=tmp_path, weights=[[0.5, 0.5], [0.25, 0.75]], fit_kwargs=kwargs["fit_kwargs"], progress=False)
    assert len(built) == 5 and len(extra.rows) == 2
    stored = json.loads((tmp_path / "pareto_results.json").read_text())
    assert len(stored["runs"]) == 5


def test_three_task_figure_has_pairwise_panels(tmp_path):
    from mtl_keras.pareto import plot_front

    losses = np.random.default_rng(0).uniform(size=(6, 3))
    figure = plot_front({"fixed weights": losses}, ["a", "b", "c"], tmp_path / "front.png", points={"mgda": [0.5, 0.5, 0.5]})
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in figure.axes] == [
        ("a test loss", "b test loss"), ("a test loss", "c test loss"), ("b test loss", "c test loss")
    ]
    assert os.path.getsize(tmp_path / "front.png") > 0
