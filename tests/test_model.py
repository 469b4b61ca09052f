import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk


def make_data(n_a=256, n_b=64, seed=0):
    rng = np.random.default_rng(seed)
    xa = rng.normal(size=(n_a, 8)).astype("float32")
    xb = rng.normal(size=(n_b, 8)).astype("float32")
    return {
        "cls": (xa, (xa[:, 0] + xa[:, 1] > 0).astype("int32")),
        "reg": (xb, (3.0 * xb[:, 2] - xb[:, 3]).astype("float32")),
    }


TASKS = [mk.Task("cls", num_classes=2), mk.Task("reg", kind="regression")]


def make_model(tasks=TASKS, input_shape=(8,), **kwargs):
    body = keras.Sequential([keras.layers.Dense(16, activation="relu")], name="trunk")
    return mk.MultiTaskModel(tasks, body=body, input_shape=input_shape, **kwargs)


def test_two_task_model_learns_and_logs_every_task():
    model = make_model()
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    history = model.fit(mk.data.multitask_dataset(make_data(), batch_size=32), epochs=6, verbose=0)
    logs = history.history
    assert {"loss", "cls_loss", "cls_accuracy", "reg_loss", "reg_mae"} <= set(logs)
    assert logs["loss"][-1] < 0.3 * logs["loss"][0]
    assert logs["reg_loss"][-1] < 0.2 * logs["reg_loss"][0]
    assert logs["cls_accuracy"][-1] > 0.9
    # the total is the weighted sum of the task losses (static, equal weights)
    np.testing.assert_allclose(logs["loss"][-1], logs["cls_loss"][-1] + logs["reg_loss"][-1], rtol=1e-4)


def test_predict_returns_a_dict_by_task_in_natural_units():
    model = make_model()
    x = np.random.default_rng(1).normal(size=(5, 8)).astype("float32")
    out = model.predict(x, verbose=0)
    assert set(out) == {"cls", "reg"}
    assert out["cls"].shape == (5, 2) and out["reg"].shape == (5, 1)
    np.testing.assert_allclose(out["cls"].sum(axis=1), 1.0, rtol=1e-5)  # probabilities
    per_task = model.predict({"reg": x}, verbose=0)
    assert set(per_task) == {"reg"}
    np.testing.assert_allclose(per_task["reg"], out["reg"], rtol=1e-5)


def test_task_weights_scale_the_objective():
    model = make_model(tasks=[mk.Task("cls", num_classes=2, weight=0.0), mk.Task("reg", kind="regression", weight=2.0)])
    model.compile(optimizer="sgd")
    logs = model.evaluate(mk.data.multitask_dataset(make_data(), repeat=False), return_dict=True, verbose=0)
    np.testing.assert_allclose(logs["loss"], 2.0 * logs["reg_loss"], rtol=1e-5)
    before = [v.numpy().copy() for v in model.task_variables("cls")]
    model.fit(mk.data.multitask_dataset(make_data(), batch_size=32), epochs=1, verbose=0)
    for old, var in zip(before, model.task_variables("cls")):
        np.testing.assert_array_equal(old, var.numpy())  # ω = 0: the head gets no gradient


def test_unsampled_tasks_do_not_move():
    tasks = [mk.Task("a", num_classes=2), mk.Task("b", num_classes=2), mk.Task("c", num_classes=2)]
    model = make_model(tasks=tasks, tasks_per_step=1, seed=7)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8)).astype("float32")
    y = {name: rng.integers(0, 2, 16) for name in "abc"}
    sampler = mk.samplers.UniformSampler()
    sampler.configure(["a", "b", "c"])
    trained = np.zeros(3)
    for step in range(12):
        heads = [[v.numpy().copy() for v in model.task_variables(i)] for i in range(3)]
        expected = sampler.sample(step, 1, seed=7).numpy()
        model.train_on_batch(x, y)
        moved = [any(not np.array_equal(o, v.numpy()) for o, v in zip(heads[i], model.task_variables(i))) for i in range(3)]
        np.testing.assert_array_equal(moved, expected.astype(bool), err_msg=f"step {step}")
        trained += expected
    assert trained.min() >= 1  # every task got its turn
    assert [int(o.iterations.numpy()) for o in model.task_optimizers] == trained.astype(int).tolist()


def test_uniform_sampling_regardless_of_data_size():
    tasks = [mk.Task("big", num_classes=2), mk.Task("small", num_classes=2)]
    rng = np.random.default_rng(0)
    data = {
        "big": (rng.normal(size=(1000, 8)).astype("float32"), rng.integers(0, 2, 1000)),
        "small": (rng.normal(size=(100, 8)).astype("float32"), rng.integers(0, 2, 100)),
    }
    model = make_model(tasks=tasks, input_shape={"big": (8,), "small": (8,)}, tasks_per_step=1)
    model.compile(optimizer="sgd")
    model.fit(mk.data.multitask_dataset(data, batch_size=10, steps_per_epoch=400), epochs=1, verbose=0)
    counts = [int(o.iterations.numpy()) for o in model.task_optimizers]
    assert sum(counts) == 400
    assert abs(counts[0] / 400 - 0.5) < 0.06, counts


def test_masked_labels_change_nothing():
    """Labels that are missing (by marker or by mask) have no effect, whatever finite value they hold."""
    tasks = [mk.Task("a", num_classes=3, missing_label=-1), mk.Task("b", kind="regression", missing_label="nan")]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 8)).astype("float32")
    ya = rng.integers(0, 3, 32)
    ya[::3] = -1
    yb = rng.normal(size=32).astype("float32")
    yb[1::4] = np.nan
    mask_a = np.ones(32, "float32")
    mask_a[::5] = 0
    mask_b = np.ones(32, "float32")
    mask_b[::6] = 0
    assert np.isfinite(yb[mask_b == 0]).all()  # the masked-out regression labels are ordinary numbers

    def train(ya, yb):
        keras.utils.set_random_seed(3)
        model = make_model(tasks=tasks)
        model.compile(optimizer=keras.optimizers.Adam(0.01))
        masks = {"a": mask_a, "b": mask_b}
        ds = mk.data.shared_input_dataset(x, {"a": ya, "b": yb}, masks=masks, batch_size=16, shuffle=False)
        logs = model.fit(ds, epochs=2, verbose=0).history
        return [v.numpy() for v in model.weights], logs

    weights1, logs1 = train(ya, yb)
    assert np.isfinite(logs1["b_loss"]).all() and np.isfinite(logs1["a_loss"]).all()
    ya2 = ya.copy()
    ya2[mask_a == 0] = 2  # a different, valid label where the mask says "missing"
    yb2 = yb.copy()
    yb2[mask_b == 0] = 1e6  # a huge, finite label where the mask says "missing": it would dominate the loss
    weights2, logs2 = train(ya2, yb2)
    for w1, w2 in zip(weights1, weights2):
        np.testing.assert_allclose(w1, w2, rtol=1e-6)
    np.testing.assert_allclose(logs1["b_loss"], logs2["b_loss"], rtol=1e-6)
    # and the masks and markers really do leave examples out: the same values without a mask change the result
    for changed_a, changed_b in ((ya2, yb), (ya, yb2)):
        keras.utils.set_random_seed(3)
        model = make_model(tasks=tasks)
        model.compile(optimizer=keras.optimizers.Adam(0.01))
        ds = mk.data.shared_input_dataset(x, {"a": changed_a, "b": changed_b}, batch_size=16, shuffle=False)
        model.fit(ds, epochs=2, verbose=0)
        assert any(not np.allclose(a, b.numpy()) for a, b in zip(weights1, model.weights))
    # a changed *kept* label changes the result
    ya3 = ya.copy()
    keep = np.flatnonzero((mask_a > 0) & (ya >= 0))[0]
    ya3[keep] = (ya3[keep] + 1) % 3
    weights3, _ = train(ya3, yb)
    assert any(not np.allclose(a, b) for a, b in zip(weights1, weights3))


def test_label_scaling_keeps_original_units():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype("float32")
    big = (1000.0 * x[:, 0] + 5000.0).astype("float32")
    tasks = [mk.Task("big", kind="regression", label_scaling="standard"), mk.Task("cls", num_classes=2)]
    model = make_model(tasks=tasks)
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    ds = mk.data.shared_input_dataset(x, {"big": big, "cls": (x[:, 1] > 0).astype("int32")}, batch_size=64)
    history = model.fit(ds, epochs=8, verbose=0).history
    assert history["big_loss"][0] < 5.0  # the loss is computed on standardized labels
    mean, std = (np.asarray(v) for v in model.label_scaler.statistics("big"))
    assert abs(mean[0] - 5000) < 200 and abs(std[0] - 1000) < 150
    pred = model.predict(x[:64], verbose=0)["big"].ravel()
    assert np.mean(np.abs(pred - big[:64])) < 150  # predictions in original units
    model.adapt_label_scaling({"big": big})
    np.testing.assert_allclose(model.label_scaler.statistics("big")[0], [big.mean()], rtol=1e-5)


def test_save_reload_predict_and_continue(tmp_path):
    tasks = [mk.Task("cls", num_classes=2), mk.Task("reg", kind="regression", label_scaling="standard")]
    for tasks_per_step in (2, 1):
        model = make_model(tasks=tasks, input_shape={"cls": (8,), "reg": (8,)}, tasks_per_step=tasks_per_step)
        model.compile(optimizer=keras.optimizers.Adam(0.01))
        train = mk.data.multitask_dataset(make_data(), batch_size=32)
        model.fit(train, epochs=2, verbose=0)
        path = os.path.join(tmp_path, f"m{tasks_per_step}.keras")
        model.save(path)
        loaded = keras.models.load_model(path)  # safe_mode=True, no custom_objects
        x = make_data()["reg"][0][:10]
        for name in ("cls", "reg"):
            np.testing.assert_allclose(loaded.predict({name: x}, verbose=0)[name], model.predict({name: x}, verbose=0)[name], rtol=1e-6)
        assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())
        for a, b in zip(loaded.task_optimizers, model.task_optimizers):
            assert int(a.iterations.numpy()) == int(b.iterations.numpy())
        # training continues where it stopped (weights and optimizer state): on the same batches the
        # reloaded model follows the original exactly
        def more():
            return mk.data.multitask_dataset(make_data(seed=5), batch_size=32, shuffle=False)

        history = loaded.fit(more(), epochs=1, verbose=0).history
        model.fit(more(), epochs=1, verbose=0)
        np.testing.assert_allclose(history["loss"][0], model.history.history["loss"][0], rtol=1e-5)
        for a, b in zip(loaded.weights, model.weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options", [{"jit_compile": True}, {"steps_per_execution": 4}, {"jit_compile": True, "steps_per_execution": 3}])
def test_jit_and_steps_per_execution(options):
    """XLA and several steps per call give the same training as the plain graph step, one step at a time.

    Same seed, same unshuffled batches, same sampled tasks (the draw depends on the step only): the
    weights after 12 steps agree to float32 round-off (XLA may fuse and reorder the sums).
    """

    def train(options):
        keras.utils.set_random_seed(2)
        model = make_model(input_shape={"cls": (8,), "reg": (8,)}, tasks_per_step=1)
        model.compile(optimizer=keras.optimizers.Adam(0.02), **options)
        data = mk.data.multitask_dataset(make_data(), batch_size=32, shuffle=False, steps_per_epoch=12)
        history = model.fit(data, epochs=1, verbose=0).history
        return model, history

    reference, reference_history = train({"jit_compile": False, "steps_per_execution": 1})
    model, history = train(options)
    assert int(model.optimizer.iterations.numpy()) == 12
    for a, b in zip(reference.task_optimizers, model.task_optimizers):
        assert int(a.iterations.numpy()) == int(b.iterations.numpy())  # the same tasks were drawn
    for a, b in zip(reference.weights, model.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(history["loss"], reference_history["loss"], rtol=2e-4)


def test_works_with_keras_callbacks(tmp_path):
    model = make_model()
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    train = mk.data.multitask_dataset(make_data(), batch_size=32)
    val = mk.data.multitask_dataset(make_data(seed=1), repeat=False)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_cls_accuracy", mode="max", patience=1, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(os.path.join(tmp_path, "best.keras"), monitor="val_reg_loss", save_best_only=True),
        keras.callbacks.TensorBoard(os.path.join(tmp_path, "tb")),
        keras.callbacks.BackupAndRestore(os.path.join(tmp_path, "backup")),
    ]
    history = model.fit(train, validation_data=val, epochs=3, callbacks=callbacks, verbose=0).history
    assert {"val_cls_accuracy", "val_reg_loss", "val_loss"} <= set(history)
    assert os.path.exists(os.path.join(tmp_path, "best.keras"))
    assert os.listdir(os.path.join(tmp_path, "tb"))
    reloaded = keras.models.load_model(os.path.join(tmp_path, "best.keras"))
    assert reloaded.task_names == ["cls", "reg"]


def test_mirrored_strategy_matches_one_device(mirrored_strategy):
    tasks = [mk.Task("cls", num_classes=2, missing_label=-1), mk.Task("reg", kind="regression")]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y_cls = (x[:, 0] > 0).astype("int32")
    y_cls[:24] = -1  # uneven missing labels across the two replicas' halves of each batch
    labels = {"cls": y_cls, "reg": x[:, 1].astype("float32")}

    def run(strategy, tasks_per_step):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            model = make_model(tasks=tasks, tasks_per_step=tasks_per_step)
            model.compile(optimizer=keras.optimizers.SGD(0.1))
        ds = mk.data.shared_input_dataset(x, labels, batch_size=32, shuffle=False)
        logs = model.fit(ds, epochs=2, verbose=0).history
        return [v.numpy() for v in model.trainable_variables], logs

    mirrored = mirrored_strategy
    for k in (2, 1):
        single_w, single_logs = run(tf.distribute.get_strategy(), k)
        multi_w, multi_logs = run(mirrored, k)
        for a, b in zip(single_w, multi_w):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        for key in ("loss", "cls_loss", "reg_loss"):
            np.testing.assert_allclose(single_logs[key], multi_logs[key], rtol=1e-4)


def test_bad_input_raises_clear_errors():
    model = make_model()
    with pytest.raises(RuntimeError, match="Call compile"):
        model.fit(mk.data.multitask_dataset(make_data(), batch_size=8), epochs=1, verbose=0)
    model.compile(optimizer="adam")
    data = make_data()
    with pytest.raises(ValueError, match=r"tasks the model does not have: \['other'\]"):
        model.fit(mk.data.multitask_dataset({**data, "other": data["reg"]}, batch_size=8), verbose=0)
    with pytest.raises(ValueError, match=r"Tasks with no data: \['reg'\]"):
        model.fit(mk.data.multitask_dataset({"cls": data["cls"]}, batch_size=8), verbose=0)
    onehot = {"cls": (data["cls"][0], np.eye(2, dtype="float32")[data["cls"][1]]), "reg": data["reg"]}
    with pytest.raises(ValueError, match=r"Task 'cls'.*\(n,\) or \(n, 1\)"):
        model.fit(mk.data.multitask_dataset(onehot, batch_size=8), verbose=0)
    wide = {"cls": data["cls"], "reg": (data["reg"][0], np.zeros((64, 3), "float32"))}
    with pytest.raises(ValueError, match=r"Task 'reg'.*shape \(n,\) or \(n, 1\).*\(64, 3\)"):
        model.fit(mk.data.multitask_dataset(wide, batch_size=8), verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.fit(mk.data.multitask_dataset(data, batch_size=8).take(0), verbose=0)
    with pytest.raises(ValueError, match="tasks_per_step=3"):
        make_model(tasks_per_step=3)
    with pytest.raises(ValueError, match="loss"):
        model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="invalid weight"):
        model.compile(optimizer="adam", weighting=mk.weighting.StaticWeighting([1.0, -2.0]))
    with pytest.raises(ValueError, match="2 tasks"):
        model.compile(optimizer="adam", weighting=mk.weighting.StaticWeighting([1.0]))
    with pytest.raises(ValueError, match="Unknown weighting strategy: 'pcgard'"):
        model.compile(optimizer="adam", weighting="pcgard")


def test_nan_loss_stops_training_and_names_the_task(capsys):
    data = make_data()
    huge = {"cls": data["cls"], "reg": (data["reg"][0], 1e18 * data["reg"][1])}  # valid, but diverges
    ds = mk.data.multitask_dataset(huge, batch_size=8)
    model = make_model()
    model.compile(optimizer=keras.optimizers.SGD(1.0))
    history = model.fit(ds, epochs=5, verbose=0)
    assert len(history.history["loss"]) == 1  # stopped in the first epoch
    assert "task 'reg' has an invalid loss" in capsys.readouterr().out
    stopper = mk.callbacks.TerminateOnNaNTask(raise_error=True)
    model = make_model()
    model.compile(optimizer=keras.optimizers.SGD(1.0))
    with pytest.raises(FloatingPointError, match="task 'reg'"):
        model.fit(ds, epochs=1, verbose=0, callbacks=[stopper])


def test_soft_sharing_penalty_under_mirrored_strategy(mirrored_strategy):
    """The soft-sharing penalty is added once per step (not once per replica) and logged."""
    tasks = [mk.Task("cls", num_classes=2), mk.Task("reg", kind="regression")]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    labels = {"cls": (x[:, 0] > 0).astype("int32"), "reg": x[:, 1]}

    def run(strategy):
        keras.utils.set_random_seed(4)
        with strategy.scope():
            body = mk.layers.SoftSharing(keras.layers.Dense(8, activation="relu"), num_tasks=2, penalty_weight=0.5,
                                         name="soft")
            model = mk.MultiTaskModel(tasks, body=body, input_shape=(8,))
            model.compile(optimizer=keras.optimizers.SGD(0.1))
        logs = model.fit(mk.data.shared_input_dataset(x, labels, batch_size=32, shuffle=False), epochs=2, verbose=0).history
        return [v.numpy() for v in model.trainable_variables], logs

    single_w, single_logs = run(tf.distribute.get_strategy())
    multi_w, multi_logs = run(mirrored_strategy)
    assert single_logs["soft_penalty"][0] > 0
    np.testing.assert_allclose(multi_logs["soft_penalty"], single_logs["soft_penalty"], rtol=1e-4)
    np.testing.assert_allclose(multi_logs["loss"], single_logs["loss"], rtol=1e-4)
    for a, b in zip(single_w, multi_w):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
