import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk


def arrays(n, d=4, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype("float32"), rng.integers(0, classes, n)


def test_multi_input_stream_yields_every_task_each_step_whatever_the_sizes():
    data = {"big": arrays(100), "small": arrays(10, seed=1)}
    ds = mk.data.multitask_dataset(data, batch_size=4, seed=0)
    assert int(ds.cardinality()) == 25  # one pass over the largest task
    seen = {"big": set(), "small": set()}
    for x, y, w in ds:
        assert set(x) == set(y) == set(w) == {"big", "small"}
        assert x["big"].shape == (4, 4) and x["small"].shape == (4, 4)
        for name in seen:
            seen[name].update(map(float, x[name][:, 0].numpy()))
    assert len(seen["small"]) == 10  # the small task cycles through all its examples
    assert len(seen["big"]) >= 96


def test_stream_is_deterministic_by_seed_and_reshuffles_each_epoch():
    data = {"a": arrays(40), "b": arrays(40, seed=1)}

    def first_epoch(seed):
        return [x["a"].numpy() for x, _, _ in mk.data.multitask_dataset(data, batch_size=8, seed=seed)]

    np.testing.assert_array_equal(first_epoch(1), first_epoch(1))
    assert not np.array_equal(first_epoch(1), first_epoch(2))
    ds = mk.data.multitask_dataset(data, batch_size=8, seed=1)
    epoch1 = [x["a"].numpy() for x, _, _ in ds]
    epoch2 = [x["a"].numpy() for x, _, _ in ds]
    assert not np.array_equal(epoch1, epoch2)


def test_evaluation_pass_covers_every_example_once():
    data = {"a": arrays(10), "b": arrays(4, seed=1)}
    ds = mk.data.multitask_dataset(data, batch_size=3, repeat=False)
    values = {"a": [], "b": []}
    sizes = {"a": [], "b": []}
    for x, _, w in ds:
        for name in values:
            values[name].append(x[name][:, 0].numpy())
            sizes[name].append(len(w[name]))
            np.testing.assert_array_equal(w[name].numpy(), 1.0)
    assert sizes == {"a": [3, 3, 3, 1], "b": [3, 1, 0, 0]}  # a task that runs out gets empty batches
    for name in values:  # every example exactly once, in order
        np.testing.assert_array_equal(np.concatenate(values[name]), data[name][0][:, 0])


def test_dataset_inputs_and_sample_weights():
    x, y = arrays(12)
    per_task = tf.data.Dataset.from_tensor_slices((x, y, np.ones(12, "float32") * 0.5))
    ds = mk.data.multitask_dataset({"a": per_task, "b": arrays(6, seed=1)}, batch_size=4)
    _, _, w = next(iter(ds))
    np.testing.assert_allclose(w["a"].numpy(), 0.5)
    np.testing.assert_allclose(w["b"].numpy(), 1.0)


def test_shared_input_stream_with_masks():
    x, y = arrays(20)
    y2 = np.arange(20) % 2
    mask = (np.arange(20) % 4 != 0).astype("float32")
    ds = mk.data.shared_input_dataset(x, {"a": y, "b": y2}, masks={"b": mask}, batch_size=20, shuffle=False)
    xb, yb, wb = next(iter(ds))
    assert xb.shape == (20, 4)
    np.testing.assert_array_equal(wb["b"].numpy(), mask)
    np.testing.assert_array_equal(wb["a"].numpy(), np.ones(20))
    tuple_form = mk.data.multitask_dataset((x, {"a": y}), batch_size=5)
    assert int(tuple_form.cardinality()) == 4


def test_split():
    train, test = mk.data.split({"a": arrays(10), "b": arrays(5)}, fractions=(0.8, 0.2), seed=0)
    assert len(train["a"][0]) == 8 and len(test["a"][0]) == 2 and len(train["b"][0]) == 4


def test_bad_input_names_the_task_and_value():
    tasks = [mk.Task("a", num_classes=3), mk.Task("b", num_classes=3)]
    with pytest.raises(ValueError, match=r"tasks the model does not have: \['c'\]"):
        mk.data.multitask_dataset({"a": arrays(4), "b": arrays(4), "c": arrays(4)}, tasks=tasks)
    with pytest.raises(ValueError, match=r"Tasks with no data: \['b'\]"):
        mk.data.multitask_dataset({"a": arrays(4)}, tasks=tasks)
    with pytest.raises(ValueError, match="Task 'b': the data set is empty"):
        mk.data.multitask_dataset({"a": arrays(4), "b": arrays(0)})
    with pytest.raises(ValueError, match="Task 'b': x has 4 examples but y has 3"):
        mk.data.multitask_dataset({"a": arrays(4), "b": (arrays(4)[0], np.zeros(3))})
    with pytest.raises(ValueError, match="Task 'b'.*label=7"):
        mk.data.multitask_dataset({"a": arrays(4), "b": arrays(4, classes=8, seed=3)[:1] + (np.full(4, 7),)}, tasks=tasks)
    with pytest.raises(ValueError, match="batch_size=0"):
        mk.data.multitask_dataset({"a": arrays(4)}, batch_size=0)
    with pytest.raises(ValueError, match="Task 'a': 3 labels for 4 inputs"):
        mk.data.shared_input_dataset(arrays(4)[0], {"a": np.zeros(3)})
