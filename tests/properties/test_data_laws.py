"""Laws of the data helpers (Hypothesis): `split` and the streams partition the examples exactly;
label scaling round-trips.

Every array carries the example's id (`x = id`, `y = 10 id`), so "every example exactly once" is a
comparison of sorted id lists, and a mismatch between `x` and `y` rows shows as `y != 10 x`.
"""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import mtl_keras as mk
from mtl_keras.label_scaling import LabelScaler

task_sizes = st.dictionaries(
    st.sampled_from(["a", "b", "c"]), st.integers(1, 40), min_size=1, max_size=3
)


def id_data(sizes, weights=False):
    data = {}
    for offset, (name, n) in enumerate(sizes.items()):
        ids = np.arange(n) + 1000 * offset
        arrays_ = (ids.astype("float32")[:, None], (10 * ids).astype("float32"))
        data[name] = arrays_ + ((np.full(n, 0.5, "float32"),) if weights else ())
    return data


@st.composite
def fractions(draw):
    """2 or 3 positive fractions summing to 1 (the last one takes what is left)."""
    count = draw(st.integers(2, 3))
    cuts = sorted(draw(st.lists(st.integers(1, 99), min_size=count - 1, max_size=count - 1, unique=True)))
    bounds = [0, *cuts, 100]
    return tuple((b - a) / 100 for a, b in zip(bounds, bounds[1:]))


@given(sizes=task_sizes, shares=fractions(), seed=st.integers(0, 2**16), weights=st.booleans())
def test_split_puts_every_example_in_exactly_one_part(sizes, shares, seed, weights):
    data = id_data(sizes, weights)
    parts = mk.data.split(data, fractions=shares, seed=seed)
    assert len(parts) == len(shares)
    for name, n in sizes.items():
        pieces = [part[name] for part in parts]
        ids = np.concatenate([p[0][:, 0] for p in pieces])
        np.testing.assert_array_equal(np.sort(ids), data[name][0][:, 0])  # a partition of the task's examples
        for piece in pieces:
            np.testing.assert_array_equal(piece[1], 10 * piece[0][:, 0])  # rows stay aligned
            assert len(piece) == (3 if weights else 2)
        # the sizes are the rounded shares, the last part taking the rest
        expected = [round(f * n) for f in shares[:-1]]
        assert [len(p[0]) for p in pieces[:-1]] == expected
        assert len(pieces[-1][0]) == n - sum(expected)
    again = mk.data.split(data, fractions=shares, seed=seed)
    for part, same in zip(parts, again):
        for name in sizes:
            np.testing.assert_array_equal(part[name][0], same[name][0])  # the seed fixes the split


@settings(max_examples=8)  # each example builds tf.data pipelines (or adapts a layer): seconds
@given(sizes=task_sizes, batch_size=st.integers(1, 16))
def test_evaluation_stream_yields_every_example_once(sizes, batch_size):
    data = id_data(sizes)
    seen = {name: [] for name in sizes}
    for x, y, _ in mk.data.multitask_dataset(data, batch_size=batch_size, repeat=False):
        for name in sizes:
            np.testing.assert_array_equal(y[name].numpy(), 10 * x[name].numpy()[:, 0])
            seen[name].extend(x[name].numpy()[:, 0].tolist())
    for name in sizes:
        assert seen[name] == data[name][0][:, 0].tolist()  # in order, each once


@settings(max_examples=8)  # each example builds tf.data pipelines (or adapts a layer): seconds
@given(sizes=task_sizes, batch_size=st.integers(1, 8), seed=st.integers(0, 1000))
def test_training_stream_covers_each_task_once_per_pass(sizes, batch_size, seed):
    """With a batch size dividing a task's size, every `n / b` steps are a shuffled pass over that task."""
    sizes = {name: batch_size * max(1, n // batch_size) for name, n in sizes.items()}
    data = id_data(sizes)
    steps = 2 * max(n // batch_size for n in sizes.values())
    stream = mk.data.multitask_dataset(data, batch_size=batch_size, seed=seed, steps_per_epoch=steps)
    seen = {name: [] for name in sizes}
    for x, y, _ in stream.take(steps):
        for name in sizes:
            np.testing.assert_array_equal(y[name].numpy(), 10 * x[name].numpy()[:, 0])
            seen[name].extend(x[name].numpy()[:, 0].tolist())
    for name, n in sizes.items():
        ids = seen[name]
        for start in range(0, len(ids) - n + 1, n):
            assert sorted(ids[start : start + n]) == data[name][0][:, 0].tolist(), (name, start)


@settings(max_examples=8)  # each example builds tf.data pipelines (or adapts a layer): seconds
@given(n=st.integers(1, 50), batch_size=st.integers(1, 16), shuffle=st.booleans())
def test_shared_input_stream_yields_every_example_once_per_pass(n, batch_size, shuffle):
    ids = np.arange(n).astype("float32")
    labels = {"a": 10 * ids, "b": -ids}
    seen = []
    for x, y, _ in mk.data.shared_input_dataset(ids[:, None], labels, batch_size=batch_size, repeat=False):
        np.testing.assert_array_equal(y["a"].numpy(), 10 * x.numpy()[:, 0])
        np.testing.assert_array_equal(y["b"].numpy(), -x.numpy()[:, 0])
        seen.extend(x.numpy()[:, 0].tolist())
    assert seen == ids.tolist()
    steps = math.ceil(n / batch_size)
    stream = mk.data.shared_input_dataset(ids[:, None], labels, batch_size=batch_size, shuffle=shuffle, seed=1)
    first_pass = np.concatenate([x.numpy()[:, 0] for x, _, _ in stream.take(steps)])
    if n % batch_size == 0:
        assert sorted(first_pass.tolist()) == ids.tolist()
    else:  # the last batch of a pass may be topped up from the next: still no example twice before all once
        assert len(set(first_pass[:n].tolist())) == len(first_pass[:n]) and set(first_pass[:n].tolist()) == set(ids.tolist())


labels_strategy = st.integers(1, 3).flatmap(
    lambda units: st.tuples(
        arrays(np.float64, st.tuples(st.integers(2, 30), st.just(units)), elements=st.floats(-1e4, 1e4, width=32)),
        arrays(np.float64, st.tuples(st.integers(1, 10), st.just(units)), elements=st.floats(-1e4, 1e4, width=32)),
    )
)


@settings(max_examples=8)  # each example builds tf.data pipelines (or adapts a layer): seconds
@given(labels=labels_strategy)
def test_label_scaling_round_trips(labels):
    train, other = labels
    units = train.shape[1]
    scaler = LabelScaler({"t": units})
    scaler.adapt({"t": train})
    for values in (train, other):
        scaled = np.asarray(scaler.scale("t", values.astype("float32")))
        back = np.asarray(scaler.unscale("t", scaled))
        np.testing.assert_allclose(back, values, rtol=1e-4, atol=1e-4 * (1 + np.abs(train).max()))
    scaled = np.asarray(scaler.scale("t", train.astype("float32")), dtype="float64")
    spread = train.std(axis=0)
    varying = spread > 1e-3 * (1 + np.abs(train).max(axis=0))
    # the training labels come out standardized (a constant unit is only shifted, to 0)
    tolerance = 1e-3 * (1 + np.abs(train).max(axis=0) / np.maximum(spread, 1))
    assert (np.abs(scaled.mean(axis=0)) <= tolerance).all(), scaled.mean(axis=0)
    np.testing.assert_allclose(scaled.std(axis=0)[varying], 1.0, rtol=1e-3)
