"""Bad data given to the stream builders and `split`: a `ValueError` naming the task or argument and the value."""

import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk

TASKS = [mk.Task("a", num_classes=3), mk.Task("b", kind="binary"), mk.Task("c", kind="regression")]


def arrays(n=8, d=4, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype("float32"), rng.integers(0, classes, n)


def good():
    x, y = arrays()
    return {"a": (x, y), "b": (x, (y > 0).astype("float32")), "c": (x, x[:, 0])}


def with_item(name, item):
    data = good()
    data[name] = item
    return data


def nan_at(x, index):
    x = x.copy()
    x[index] = np.nan
    return x


X, Y = arrays()
MULTI_INPUT_CASES = {
    "not a dict": (dict(data=[1, 2]), r"Received: list"),
    "empty dict": (dict(data={}), r"non-empty dict.*Received: dict"),
    "batch_size 0": (dict(batch_size=0), r"batch_size=0"),
    "batch_size negative": (dict(batch_size=-4), r"batch_size=-4"),
    "batch_size fractional": (dict(batch_size=2.5), r"batch_size=2.5"),
    "batch_size string": (dict(batch_size="8"), r"batch_size='8'"),
    "batch_size bool": (dict(batch_size=True), r"batch_size=True"),
    "batch_size dict missing a task": (dict(batch_size={"a": 4, "b": 4}), r"Task 'c'.*batch_size=None"),
    "steps_per_epoch 0": (dict(steps_per_epoch=0), r"steps_per_epoch=0"),
    "steps_per_epoch fractional": (dict(steps_per_epoch=1.5), r"steps_per_epoch=1.5"),
    "x and y lengths": (dict(data=with_item("b", (X, Y[:5]))), r"Task 'b': x has 8 examples but y has 5"),
    "empty task": (dict(data=with_item("c", (X[:0], Y[:0]))), r"Task 'c': the data set is empty"),
    "NaN input": (dict(data=with_item("a", (nan_at(X, (3, 1)), Y))), r"Task 'a': the inputs must be finite\. Received: x\[3, 1\]=nan"),
    "inf input": (dict(data=with_item("c", (np.where(np.arange(8)[:, None] == 2, np.inf, X).astype("float32"), X[:, 0]))), r"Task 'c'.*finite.*=inf"),
    "NaN in a feature": (
        dict(data=with_item("a", ({"img": nan_at(X, (0, 0)), "meta": X}, Y))),
        r"Task 'a': the inputs \(feature 'img'\) must be finite.*nan",
    ),
    "features of unequal length": (dict(data=with_item("a", ({"img": X, "meta": X[:3]}, Y))), r"Task 'a'.*different numbers of examples"),
    "negative sample weight": (dict(data=with_item("a", (X, Y, np.array([1, 1, -1, 1, 1, 1, 1, 1.0])))), r"Task 'a': sample_weight.*>= 0\. Received: sample_weight\[2\]=-1\.0"),
    "NaN sample weight": (dict(data=with_item("b", (X, (Y > 0) * 1.0, np.r_[np.ones(7), np.nan]))), r"Task 'b': sample_weight.*sample_weight\[7\]=nan"),
    "inf sample weight": (dict(data=with_item("c", (X, X[:, 0], np.r_[np.inf, np.ones(7)]))), r"Task 'c': sample_weight.*=inf"),
    "sample weight length": (dict(data=with_item("a", (X, Y, np.ones(3)))), r"Task 'a': sample_weight has 3 entries for 8 examples"),
    "class id too large": (dict(data=with_item("a", (X, np.r_[Y[:7], 7])), tasks=TASKS), r"Task 'a': labels must be in \[0, 3\)\. Received: label=7"),
    "negative class id": (dict(data=with_item("a", (X, np.r_[-2, Y[1:]])), tasks=TASKS), r"Task 'a'.*label=-2"),
    "fractional class id": (dict(data=with_item("a", (X, np.r_[1.5, Y[1:]])), tasks=TASKS), r"Task 'a'.*integers.*label=1\.5"),
    "string class ids": (dict(data=with_item("a", (X, np.array(list("abcdefgh")))), tasks=TASKS), r"Task 'a'.*dtype=<U1"),
    "binary label 2": (dict(data=with_item("b", (X, np.r_[2.0, np.zeros(7)])), tasks=TASKS), r"Task 'b': binary labels must be 0 or 1\. Received: label=2\.0"),
    "NaN regression label": (dict(data=with_item("c", (X, np.r_[np.nan, np.zeros(7)])), tasks=TASKS), r"Task 'c': regression labels must be finite\. Received: label=nan"),
    "one-hot class labels": (dict(data=with_item("a", (X, np.eye(3)[Y])), tasks=TASKS), r"Task 'a'.*shape \(n,\) or \(n, 1\).*\(8, 3\)"),
    "regression width": (dict(data=with_item("c", (X, np.zeros((8, 2)))), tasks=TASKS), r"Task 'c'.*\(n,\) or \(n, 1\).*\(8, 2\)"),
    "unknown task": (dict(data={**good(), "d": (X, Y)}, tasks=TASKS), r"tasks the model does not have: \['d'\]"),
    "missing task": (dict(data={k: v for k, v in good().items() if k != "b"}, tasks=TASKS), r"Tasks with no data: \['b'\]"),
    "not (x, y)": (dict(data=with_item("a", X)), r"Task 'a': expected \(x, y\).*Received: ndarray"),
    "x a generator": (dict(data=with_item("a", ((row for row in X), Y))), r"Task 'a': x must be an array.*Received: generator"),
    "x None": (dict(data=with_item("a", (None, Y))), r"Task 'a': x must be an array.*Received: NoneType None"),
    "y a scalar": (dict(data=with_item("a", (X, 1))), r"Task 'a': y must be an array.*Received: int 1"),
    "ragged x": (dict(data=with_item("a", ([[1.0, 2.0], [1.0]], [0, 1]))), r"Task 'a': x must be an array whose examples all have the same shape.*ragged list"),
    "x of Python objects": (dict(data=with_item("a", (np.array([[None]] * 8), Y))), r"Task 'a': x holds Python objects.*x\[0\]=None"),
    "sample weight of shape (4, 2)": (dict(data=with_item("a", (X, Y, np.ones((4, 2))))), r"Task 'a': sample_weight must have shape \(8,\) or \(8, 1\).*shape=\(4, 2\)"),
    "sample weight text": (dict(data=with_item("a", (X, Y, np.array(["w"] * 8)))), r"Task 'a': sample_weight must be numbers.*sample_weight\[0\]='w'"),
    "batch_size dict naming an unknown task": (dict(batch_size={"a": 4, "b": 4, "c": 4, "d": 2}), r"batch_size names tasks without data: \['d'\]"),
    "seed text": (dict(seed="s"), r"seed must be an integer\. Received: seed='s'"),
    "seed None": (dict(seed=None), r"seed=None"),
    "shuffle a string": (dict(shuffle="no"), r"shuffle must be True or False\. Received: shuffle='no'"),
    "repeat a string": (dict(repeat="no"), r"repeat must be True or False\. Received: repeat='no'"),
    "tasks not Task objects": (dict(tasks=["a", "b", "c"]), r"tasks must be a list of mtl_keras\.Task objects\. Received: 'a'"),
}


@pytest.mark.parametrize("case", sorted(MULTI_INPUT_CASES))
def test_multitask_dataset(case):
    options, message = MULTI_INPUT_CASES[case]
    options = {"data": good(), **options}
    with pytest.raises(ValueError, match=message):
        mk.data.multitask_dataset(options.pop("data"), **options)


def test_multitask_dataset_refuses_batched_datasets():
    batched = tf.data.Dataset.from_tensor_slices((X, Y)).batch(4)
    with pytest.raises(ValueError, match=r"Task 'a': the data set yields batches \(label shape \(None,\)\).*unbatch"):
        mk.data.multitask_dataset(with_item("a", batched))


def test_multitask_dataset_refuses_datasets_of_the_wrong_structure():
    with pytest.raises(ValueError, match=r"Task 'a': the data set must yield \(x, y\).*Received spec"):
        mk.data.multitask_dataset(with_item("a", tf.data.Dataset.from_tensor_slices(X)))


def test_multitask_dataset_refuses_empty_datasets():
    empty = tf.data.Dataset.from_tensor_slices((X[:0], Y[:0]))
    with pytest.raises(ValueError, match=r"Task 'a': the data set is empty"):
        mk.data.multitask_dataset(with_item("a", empty))


def test_evaluation_needs_sizes():
    unknown = tf.data.Dataset.from_tensor_slices((X, Y)).filter(lambda x, y: True)
    with pytest.raises(ValueError, match=r"Unknown: \['a'\]"):
        mk.data.multitask_dataset(with_item("a", unknown), repeat=False)


Y3 = {"a": Y, "c": X[:, 0]}
SHARED_INPUT_CASES = {
    "labels not a dict": (dict(labels=[Y]), r"labels must be a non-empty dict.*Received: list"),
    "empty labels": (dict(labels={}), r"labels must be a non-empty dict"),
    "batch_size 0": (dict(batch_size=0), r"batch_size=0"),
    "batch_size negative": (dict(batch_size=-1), r"batch_size=-1"),
    "steps_per_epoch 0": (dict(steps_per_epoch=0), r"steps_per_epoch=0"),
    "label count": (dict(labels={"a": Y[:5], "c": X[:, 0]}), r"Task 'a': 5 labels for 8 inputs"),
    "mask length": (dict(masks={"a": np.ones(3)}), r"Task 'a': mask has 3 entries for 8 examples"),
    "negative mask": (dict(masks={"c": np.r_[np.ones(7), -1]}), r"Task 'c': mask must be finite and >= 0\. Received: mask\[7\]=-1\.0"),
    "NaN mask": (dict(masks={"a": np.r_[np.nan, np.ones(7)]}), r"Task 'a': mask.*mask\[0\]=nan"),
    "mask for an unknown task": (dict(masks={"z": np.ones(8)}), r"Masks given for tasks without labels: \['z'\]"),
    "empty input": (dict(x=X[:0], labels={"a": Y[:0]}), r"empty: x has 0 examples"),
    "NaN input": (dict(x=nan_at(X, (5, 2))), r"inputs must be finite\. Received: x\[5, 2\]=nan"),
    "label out of range": (dict(tasks=[TASKS[0], TASKS[2]], labels={"a": np.r_[Y[:7], 3], "c": X[:, 0]}), r"Task 'a'.*label=3"),
    "unknown task": (dict(tasks=[TASKS[0]]), r"tasks the model does not have: \['c'\]"),
    # A mask marks known labels; any other value would silently weight the examples.
    "mask of 2": (dict(masks={"a": np.r_[2, np.ones(7)]}), r"Task 'a': mask must hold 0 \(missing label\) or 1.*mask\[0\]=2\.0"),
    "fractional mask": (dict(masks={"c": np.r_[np.ones(3), 0.5, np.ones(4)]}), r"Task 'c': mask must hold 0.*mask\[3\]=0\.5"),
    "indices given as a mask": (dict(masks={"a": np.arange(8)}), r"Task 'a': mask must hold 0.*mask\[2\]=2"),
    "mask of text": (dict(masks={"a": np.array(["y"] * 8)}), r"Task 'a': mask must be numbers.*mask\[0\]='y'"),
    "mask of shape (8, 2)": (dict(masks={"a": np.ones((8, 2))}), r"Task 'a': mask must have shape \(8,\) or \(8, 1\).*shape=\(8, 2\)"),
    "labels a scalar": (dict(labels={"a": 1, "c": X[:, 0]}), r"Task 'a': y must be an array.*Received: int 1"),
    "x None": (dict(x=None), r"x must be an array with one entry per example.*Received: NoneType None"),
    "steps_per_epoch text": (dict(steps_per_epoch="a"), r"steps_per_epoch='a'"),
    "seed fractional": (dict(seed=1.5), r"seed must be an integer\. Received: seed=1\.5"),
}


@pytest.mark.parametrize("case", sorted(SHARED_INPUT_CASES))
def test_shared_input_dataset(case):
    options, message = SHARED_INPUT_CASES[case]
    options = {"x": X, "labels": Y3, **options}
    with pytest.raises(ValueError, match=message):
        mk.data.shared_input_dataset(options.pop("x"), options.pop("labels"), **options)


def test_bool_and_0_1_masks_are_accepted_alike():
    bools = mk.data.shared_input_dataset(X, {"a": Y}, masks={"a": np.arange(8) < 5}, repeat=False)
    ints = mk.data.shared_input_dataset(X, {"a": Y}, masks={"a": (np.arange(8) < 5).astype("int64")}, repeat=False)
    (_, _, w_bools), (_, _, w_ints) = next(iter(bools)), next(iter(ints))
    np.testing.assert_array_equal(w_bools["a"], [1, 1, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(w_ints["a"], w_bools["a"])


def test_masked_labels_are_not_checked():
    labels = np.r_[Y[:7], 99]  # a placeholder under the mask
    mask = np.r_[np.ones(7), 0]
    mk.data.shared_input_dataset(X, {"a": labels}, masks={"a": mask}, tasks=[TASKS[0]])


SPLIT_CASES = {
    "fractions outside (0, 1]": ([1.2, -0.2], r"fractions=\[1\.2, -0\.2\]"),
    "fractions not summing to 1": ([0.5, 0.2], r"must sum to 1.*\[0\.5, 0\.2\]"),
    "a zero fraction": ([0.0, 1.0], r"\(0, 1\].*\[0\.0, 1\.0\]"),
    "no fractions": ([], r"fractions=\[\]"),
    "fractions not numbers": (["a", "b"], r"fractions=\['a', 'b'\]"),
    "NaN fraction": ([float("nan"), 1.0], r"fractions=\[nan, 1\.0\]"),
}


@pytest.mark.parametrize("case", sorted(SPLIT_CASES))
def test_split_fractions(case):
    fractions, message = SPLIT_CASES[case]
    with pytest.raises(ValueError, match=message):
        mk.data.split(good(), fractions)


@pytest.mark.parametrize("item, message", [
    (((row for row in X), Y), r"Task 'a': x must be an array.*generator"),
    ((X, None), r"Task 'a': y must be an array.*NoneType None"),
])
def test_split_refuses_what_is_not_an_array(item, message):
    with pytest.raises(ValueError, match=message):
        mk.data.split({"a": item}, (0.5, 0.5))


def test_split_refuses_a_seed_that_is_not_an_integer():
    with pytest.raises(ValueError, match=r"seed must be an integer\. Received: seed='s'"):
        mk.data.split({"a": (X, Y)}, (0.5, 0.5), seed="s")


def test_split_checks_lengths():
    with pytest.raises(ValueError, match=r"Task 'a'.*different numbers of examples: \[8, 5\]"):
        mk.data.split({"a": (X, Y[:5])}, (0.5, 0.5))


def test_split_partitions_every_task():
    parts = mk.data.split(good(), (0.5, 0.25, 0.25), seed=3)
    for name, (x, _) in good().items():
        rows = np.concatenate([p[name][0] for p in parts])
        assert sorted(map(tuple, rows)) == sorted(map(tuple, x))
