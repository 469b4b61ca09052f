"""`TrainingDiagnostics`: the TensorBoard event files hold the named summaries, with the right values."""

import glob

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk
from mtl_keras import diagnostics
from mtl_keras.layers import MMoE


def _events(log_dir):
    """`{tag: [(step, value or tensor)]}` from every event file of `log_dir`."""
    found = {}
    for path in glob.glob(f"{log_dir}/events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, tf.make_ndarray(value.tensor)))
    return found


def _problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6)).astype("float32")
    labels = {"a": (x[:, 0] > 0).astype("int32"), "b": x @ rng.normal(size=6).astype("float32"), "c": np.sin(x[:, 1]).astype("float32")}
    tasks = [mk.Task("a", kind="binary"), mk.Task("b", kind="regression"), mk.Task("c", kind="regression")]
    return x, labels, tasks


def test_event_files_hold_the_named_scalars_histograms_and_images(tmp_path):
    x, labels, tasks = _problem()
    model = mk.MultiTaskModel(tasks, body=MMoE(3, num_experts=4, expert_units=(8,)), input_shape=(6,))
    model.compile(optimizer="adam", weighting="uncertainty", steps_per_execution=2)
    batch = tf.data.Dataset.from_tensors((x[:64], {k: v[:64] for k, v in labels.items()}))
    callback = diagnostics.TrainingDiagnostics(str(tmp_path), data=batch, every=4)
    model.fit(mk.data.shared_input_dataset(x, labels, batch_size=32, seed=0), epochs=2, callbacks=[callback], verbose=0)
    events = _events(str(tmp_path))
    names = ["a", "b", "c"]
    expected = [f"grad_norm/{n}" for n in names] + ["cosine/a__b", "cosine/a__c", "cosine/b__c", "conflicting_pairs"]
    expected += [f"task_weight/{n}" for n in names] + [f"expert_utilisation/{n}/expert_{e}" for n in names for e in range(4)]
    expected += [f"gradient/{n}" for n in names] + ["cosine", "expert_utilisation"]
    missing = [tag for tag in expected if tag not in events]
    assert not missing, f"missing tags {missing}; found {sorted(events)}"
    assert [step for step, _ in events["conflicting_pairs"]] == [4, 8, 12, 16]  # 16 steps, every 4
    for n in names:  # gate weights of a task sum to 1 over the experts
        total = sum(float(events[f"expert_utilisation/{n}/expert_{e}"][-1][1]) for e in range(4))
        assert total == pytest.approx(1.0, abs=1e-5)
    # The last values agree with the gradients computed directly on the same batch.
    with tf.GradientTape(persistent=True) as tape:
        losses = [
            keras.losses.binary_crossentropy(labels["a"][:64, None].astype("float32"), model.heads(model.features(x[:64], 0), task_index=0), from_logits=True),
            keras.ops.mean((model.heads(model.features(x[:64], 1), task_index=1)[:, 0] - labels["b"][:64]) ** 2),
            keras.ops.mean((model.heads(model.features(x[:64], 2), task_index=2)[:, 0] - labels["c"][:64]) ** 2),
        ]
        losses = [keras.ops.mean(v) for v in losses]
    shared = model.shared_variables
    rows = [np.concatenate([g.numpy().ravel() for g in tape.gradient(loss, shared)]) for loss in losses]
    values = callback.measure(step=99)
    for n, row in zip(names, rows):
        assert values[f"grad_norm/{n}"] == pytest.approx(np.linalg.norm(row), rel=1e-4)
    cos_ab = rows[0] @ rows[1] / np.linalg.norm(rows[0]) / np.linalg.norm(rows[1])
    assert values["cosine/a__b"] == pytest.approx(cos_ab, abs=1e-4)
    conflicts = np.mean([values[f"cosine/{p}"] < 0 for p in ("a__b", "a__c", "b__c")])
    assert values["conflicting_pairs"] == pytest.approx(conflicts)
    logged = [float(events[f"task_weight/{n}"][-1][1]) for n in names]  # uncertainty weights, from the logs
    assert all(w > 0 for w in logged) and logged != [1.0, 1.0, 1.0]
    assert [values[f"task_weight/{n}"] for n in names] == pytest.approx(logged)


def test_static_weights_and_no_gates(tmp_path):
    x, labels, tasks = _problem()
    tasks[1] = mk.Task("b", kind="regression", weight=0.25)
    model = mk.MultiTaskModel(tasks, body=keras.layers.Dense(8, activation="relu"), input_shape=(6,))
    model.compile(optimizer="sgd")
    callback = diagnostics.TrainingDiagnostics(str(tmp_path), data=(x, labels), every=8, histograms=False)
    model.fit(mk.data.shared_input_dataset(x, labels, batch_size=32, seed=0), epochs=1, callbacks=[callback], verbose=0)
    events = _events(str(tmp_path))
    assert float(events["task_weight/b"][-1][1]) == pytest.approx(0.25)
    assert not any(tag.startswith("expert_utilisation") or tag.startswith("gradient/") for tag in events)


@pytest.mark.parametrize("every", [0, -100])
def test_bad_every(tmp_path, every):
    with pytest.raises(ValueError, match=f"every={every}"):
        diagnostics.TrainingDiagnostics(str(tmp_path), data=None, every=every)


def test_bad_log_dir_and_no_shared_parameters(tmp_path):
    with pytest.raises(ValueError, match="log_dir=''"):
        diagnostics.TrainingDiagnostics("", data=None)
    x, labels, tasks = _problem()
    model = mk.MultiTaskModel(tasks, input_shape=(6,))
    model.compile(optimizer="sgd")
    callback = diagnostics.TrainingDiagnostics(str(tmp_path), data=(x, labels))
    with pytest.raises(ValueError, match="no shared trainable parameters"):
        model.fit(x, labels, callbacks=[callback], verbose=0)
