"""Tests of the benchmark data sets: shapes, splits, seeds, the property each set exists for."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from mtl_keras import data as mtl_data
from mtl_keras.benchmarks import datasets
from mtl_keras.benchmarks.datasets import multi_digits, tfds_builders
from mtl_keras.benchmarks.datasets.celeba_attributes import ATTRIBUTES

OFFLINE = ["gradnorm_scales", "mmoe_synthetic", "multi_digits", "planted_groups"]
REAL = ["celeba_attributes", "mnist_fashion", "multi_mnist_tfds"]
TINY = {"num_train": 64, "num_validation": 16, "num_test": 24}


# ------------------------------------------------------------------------------ registry
def test_registry_lists_every_benchmark():
    assert datasets.list_benchmarks() == sorted(OFFLINE + REAL)
    assert datasets.list_benchmarks(offline=True) == OFFLINE
    assert datasets.list_benchmarks(offline=False) == REAL
    assert datasets.list_benchmarks("multi_*") == ["multi_digits", "multi_mnist_tfds"]


def test_unknown_benchmark_lists_available_names():
    with pytest.raises(ValueError, match="Unknown benchmark: 'mmoe_synthtic'") as info:
        datasets.load_benchmark("mmoe_synthtic")
    message = str(info.value)
    assert "Did you mean: mmoe_synthetic" in message
    for name in OFFLINE + REAL:
        assert name in message


# ------------------------------------------------------------------------------ offline sets, common contract
@pytest.mark.parametrize("name", OFFLINE)
def test_offline_benchmark_contract(name):
    bench = datasets.load_benchmark(name, seed=3, **TINY)
    assert bench.name == name and bench.mode == "shared"
    assert bench.reference and bench.description
    assert set(bench.splits) == {"train", "validation", "test"}
    for split, size in zip(datasets.SPLITS, TINY.values(), strict=True):
        x, labels = bench.splits[split]
        assert x.shape == (size,) + bench.input_shape and x.dtype == np.float32
        assert list(labels) == bench.task_names
        for task in bench.tasks:
            task.check_labels(labels[task.name])  # kinds, widths and label ranges fit the heads
            assert len(labels[task.name]) == size
    # The splits feed the library's streams as they are.
    x, labels = bench.splits["train"]
    batch_x, batch_y, batch_w = next(iter(mtl_data.shared_input_dataset(x, labels, batch_size=8, tasks=bench.tasks)))
    assert batch_x.shape == (8,) + bench.input_shape and set(batch_y) == set(batch_w) == set(bench.task_names)


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_benchmark_is_deterministic_by_seed(name):
    first, again, other = (datasets.load_benchmark(name, seed=s, **TINY) for s in (1, 1, 2))
    for split in datasets.SPLITS:
        np.testing.assert_array_equal(first.splits[split][0], again.splits[split][0])
        for task in first.task_names:
            np.testing.assert_array_equal(first.splits[split][1][task], again.splits[split][1][task])
        assert not np.array_equal(first.splits[split][0], other.splits[split][0])
    # Splits are different draws, not copies.
    assert not np.array_equal(first.splits["validation"][0], first.splits["test"][0][:16])


def test_to_multi_input_gives_each_task_its_own_size():
    bench = datasets.load_benchmark("multi_digits", **TINY)
    data = bench.multi_input("train", sizes={"left": 10, "right": 0.5}, seed=4)
    assert {n: len(data[n][0]) for n in data} == {"left": 10, "right": 32, "left_parity": 64, "sum_ge_10": 64}
    x, labels = bench.splits["train"]
    for name, (xs, ys) in data.items():  # every (x, y) pair is a real example of the split
        matches = [np.flatnonzero((x == xi).all(axis=(1, 2, 3))) for xi in xs]
        assert all(labels[name][m].tolist().count(y) >= 1 for m, y in zip(matches, ys, strict=True))
    stream = mtl_data.multitask_dataset(data, batch_size=4, tasks=bench.tasks)
    features, targets, _ = next(iter(stream))
    assert set(features) == set(targets) == set(bench.task_names)
    with pytest.raises(ValueError, match="unknown tasks"):
        bench.multi_input("train", sizes={"middle": 3})
    with pytest.raises(ValueError, match="size must be"):
        bench.multi_input("train", sizes={"left": 65})


# ------------------------------------------------------------------------------ mmoe_synthetic
def test_mmoe_weights_have_cosine_p():
    bench = datasets.load_mmoe_synthetic(p=0.3, c=2.0, input_dim=8, **TINY)
    w1, w2 = bench.info["w1"], bench.info["w2"]
    np.testing.assert_allclose([np.linalg.norm(w1), np.linalg.norm(w2)], [2.0, 2.0], rtol=1e-6)
    np.testing.assert_allclose(w1 @ w2 / 4.0, 0.3, atol=1e-6)
    assert bench.input_shape == (8,)
    with pytest.raises(ValueError, match="p=1.5"):
        datasets.load_mmoe_synthetic(p=1.5)


def test_mmoe_label_correlation_falls_with_p():
    def correlation(p):
        _, labels = datasets.load_mmoe_synthetic(p=p, num_train=4000, seed=0).splits["train"]
        return np.corrcoef(labels["task_1"], labels["task_2"])[0, 1]

    high, middle, low = correlation(0.9), correlation(0.5), correlation(0.1)
    assert high > middle > low
    assert high > 0.6 and abs(low) < 0.2


# ------------------------------------------------------------------------------ gradnorm_scales
def test_gradnorm_label_scales_differ_by_the_stated_factor():
    bench = datasets.load_gradnorm_scales(scales=(1.0, 100.0), num_train=2000)
    assert bench.info["scale_factor"] == 100.0
    _, labels = bench.splits["train"]
    assert labels["task_1"].shape == (2000, 8) and bench.tasks[0].output_units == 8
    ratio = labels["task_2"].std() / labels["task_1"].std()
    assert 90 < ratio < 110
    assert 0.3 < labels["task_1"].std() < 0.9  # tanh is used, not saturated
    three = datasets.load_gradnorm_scales(scales=(1.0, 10.0, 0.5), output_dim=1, **TINY)
    assert three.task_names == ["task_1", "task_2", "task_3"] and three.info["scale_factor"] == 20.0
    _, labels = three.splits["train"]
    assert np.abs(labels["task_3"]).max() <= 0.5 and np.abs(labels["task_2"]).max() > 1.0


# ------------------------------------------------------------------------------ multi_digits
def test_multi_digits_labels_match_the_digits_placed():
    bench = datasets.load_multi_digits(seed=5, **TINY)
    images, targets = multi_digits.source_digits()
    assert bench.input_shape == (10, 14, 1)
    assert [t.kind for t in bench.tasks] == ["classification", "classification", "binary", "binary"]
    for split in datasets.SPLITS:
        x, labels = bench.splits[split]
        meta = bench.info[split]
        assert 0.0 <= x.min() and x.max() <= 1.0
        np.testing.assert_array_equal(labels["left"], targets[meta["left_index"]])
        np.testing.assert_array_equal(labels["right"], targets[meta["right_index"]])
        np.testing.assert_array_equal(labels["left_parity"], labels["left"] % 2)
        np.testing.assert_array_equal(labels["sum_ge_10"], labels["left"] + labels["right"] >= 10)
        for k in range(len(x)):
            # Columns 0-5 hold only the left digit, columns 8-13 only the right one.
            top_l, top_r = meta["left_shift"][k], meta["right_shift"][k]
            np.testing.assert_array_equal(x[k, top_l : top_l + 8, :6, 0], images[meta["left_index"][k]][:, :6])
            np.testing.assert_array_equal(x[k, top_r : top_r + 8, 8:, 0], images[meta["right_index"][k]][:, 2:])
    pools = [set(bench.info[s]["left_index"]) | set(bench.info[s]["right_index"]) for s in datasets.SPLITS]
    assert not (pools[0] & pools[1] or pools[0] & pools[2] or pools[1] & pools[2])  # disjoint source digits


def test_multi_digits_options():
    bench = datasets.load_multi_digits(overlap=4, max_shift=0, merge="sum", attributes=False, **TINY)
    assert bench.input_shape == (8, 12, 1) and bench.task_names == ["left", "right"]
    x, _ = bench.splits["test"]
    images, _ = multi_digits.source_digits()
    meta = bench.info["test"]
    expected = np.minimum(images[meta["left_index"]][:, :, 4:] + images[meta["right_index"]][:, :, :4], 1.0)
    np.testing.assert_allclose(x[:, :, 4:8, 0], expected)  # clipped sum in the overlap
    with pytest.raises(ValueError, match="merge"):
        datasets.load_multi_digits(merge="mean")
    with pytest.raises(ValueError, match="overlap"):
        datasets.load_multi_digits(overlap=9)


# ------------------------------------------------------------------------------ TFDS builders of the offline sets
def test_tfds_builder_prepares_offline_and_matches_the_loader(tmp_path):
    options = {"num_train": 12, "num_validation": 4, "num_test": 4}
    config = tfds_builders.BenchmarkConfig(name="tiny", seed=2, options=options)
    builder = tfds_builders.MtlMultiDigits(config=config, data_dir=str(tmp_path))
    builder.download_and_prepare()
    assert {s: builder.info.splits[s].num_examples for s in datasets.SPLITS} == {
        "train": 12,
        "validation": 4,
        "test": 4,
    }
    bench = datasets.load_multi_digits(seed=2, **options)
    for split in datasets.SPLITS:
        dataset = tfds_builders.as_shared_input(builder.as_dataset(split=split), bench.task_names)
        xs, ys = zip(*dataset.as_numpy_iterator(), strict=True)
        np.testing.assert_array_equal(np.stack(xs), bench.splits[split][0])
        for name in bench.task_names:
            np.testing.assert_array_equal([y[name] for y in ys], bench.splits[split][1][name])
    names = tfds.list_builders()
    assert {"mtl_mmoe_synthetic", "mtl_gradnorm_scales", "mtl_multi_digits"} <= set(names)


def test_tfds_load_of_registered_builder(tmp_path):
    config = tfds_builders.BenchmarkConfig(name="small", options={"num_train": 5, "num_validation": 3, "num_test": 3})
    tfds_builders.MtlGradnormScales(config=config, data_dir=str(tmp_path)).download_and_prepare()
    dataset = tfds.load("mtl_gradnorm_scales/small", split="validation", data_dir=str(tmp_path))
    example = next(iter(dataset))
    assert example["x"].shape == (32,) and example["task_2"].shape == (8,)


# ------------------------------------------------------------------------------ real data sets, offline with mock_data
def test_real_data_sets_not_on_disk_raise_a_clear_error(tmp_path):
    for name in REAL:
        with pytest.raises(datasets.DatasetNotAvailableError, match="tfds build") as info:
            datasets.load_benchmark(name, data_dir=str(tmp_path))
        assert "data_dir=DIR" in str(info.value) and str(tmp_path) in str(info.value)
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_multi_mnist_tfds_with_mock_data():
    with tfds.testing.mock_data(num_examples=20):
        bench = datasets.load_benchmark("multi_mnist_tfds", seed=1, image_size=36, max_shift=4)
        test_images = np.stack([ex["image"][..., 0] for ex in tfds.load("mnist", split="test").as_numpy_iterator()])
        again = datasets.load_benchmark("multi_mnist_tfds", seed=1, image_size=36, max_shift=4)
        small = datasets.load_benchmark("multi_mnist_tfds", seed=1, pairs_per_image=2)
    assert bench.input_shape == (36, 36, 1) and bench.task_names == ["left", "right"]
    assert bench.num_examples("train") == 18 and bench.num_examples("validation") == 2
    assert bench.num_examples("test") == 20
    assert small.input_shape == (28, 28, 1) and small.num_examples("test") == 40
    np.testing.assert_array_equal(bench.splits["test"][0], again.splits["test"][0])
    x, labels = bench.splits["test"]
    meta = bench.info["test"]
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert np.all(labels["left"] != labels["right"]) and labels["left"].max() < 10
    source = test_images.astype("float32") / 255.0
    for k in range(len(x)):  # rows above the right digit show the left one, rows below it the right one
        dy_l, dx_l, dy_r, dx_r = meta["shifts"][k]
        top_r = 8 - dy_r
        left, right = source[meta["left_index"][k]], source[meta["right_index"][k]]
        if top_r > dy_l:
            np.testing.assert_allclose(x[k, dy_l:top_r, dx_l : dx_l + 28, 0], left[: top_r - dy_l])
            np.testing.assert_allclose(
                x[k, dy_l + 28 : top_r + 28, 8 - dx_r : 36 - dx_r, 0], right[dy_l + 28 - top_r :]
            )


def test_celeba_attributes_with_mock_data():
    with tfds.testing.mock_data(num_examples=6):
        bench = datasets.load_benchmark(
            "celeba_attributes", attributes=["Smiling", "five_o_clock_shadow"], image_size=16
        )
        every = datasets.load_benchmark("celeba_attributes", as_numpy=False, max_examples=4)
        first = next(iter(every.splits["validation"]))
    assert bench.task_names == ["smiling", "five_o_clock_shadow"]
    assert bench.info["attributes"] == {"smiling": "Smiling", "five_o_clock_shadow": "5_o_Clock_Shadow"}
    assert all(t.kind == "binary" for t in bench.tasks) and bench.input_shape == (16, 16, 3)
    for split in datasets.SPLITS:
        x, labels = bench.splits[split]
        assert x.shape == (6, 16, 16, 3) and 0.0 <= x.min() and x.max() <= 1.0
        for task in bench.tasks:
            task.check_labels(labels[task.name])
    assert len(every.tasks) == len(ATTRIBUTES) == 40 and every.input_shape == (32, 32, 3)
    assert first[0].shape == (32, 32, 3) and set(first[1]) == set(every.task_names)
    with pytest.raises(ValueError, match="Unknown CelebA attribute: 'Smiles'"):
        datasets.load_celeba_attributes(attributes=["Smiles"])


def test_mnist_fashion_with_mock_data():
    with tfds.testing.mock_data(num_examples=30):
        bench = datasets.load_benchmark("mnist_fashion", train_sizes={"fashion": 7}, validation_fraction=0.2)
    assert bench.mode == "multi" and bench.task_names == ["digit", "fashion"]
    assert bench.num_examples("train") == {"digit": 24, "fashion": 7}
    assert bench.num_examples("validation") == {"digit": 6, "fashion": 6}
    assert bench.num_examples("test") == {"digit": 30, "fashion": 30}
    assert bench.multi_input("train") is bench.splits["train"]
    stream = mtl_data.multitask_dataset(bench.splits["train"], batch_size=4, tasks=bench.tasks)
    features, targets, _ = next(iter(stream))
    assert features["digit"].shape == (4, 28, 28, 1) and targets["fashion"].shape == (4,)
    with pytest.raises(ValueError, match="unknown tasks"):
        datasets.load_mnist_fashion(train_sizes={"shoes": 3})
