import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import samplers


def frequencies(sampler, names, k, steps=4000, seed=0):
    sampler.configure(names)
    sample = tf.function(lambda s: sampler.sample(s, k, seed))
    counts = np.zeros(len(names))
    for step in range(steps):
        mask = sample(tf.constant(step, tf.int64)).numpy()
        assert mask.sum() == k
        counts += mask
    return counts / steps


def test_uniform_probabilities_and_frequencies():
    freq = frequencies(samplers.UniformSampler(), ["a", "b", "c", "d"], k=1)
    np.testing.assert_allclose(freq, 0.25, atol=0.03)


def test_uniform_with_two_of_four_tasks_per_step():
    freq = frequencies(samplers.UniformSampler(), ["a", "b", "c", "d"], k=2)
    np.testing.assert_allclose(freq, 0.5, atol=0.03)


def test_all_tasks_every_step_when_k_equals_t():
    sampler = samplers.UniformSampler()
    sampler.configure(["a", "b"])
    np.testing.assert_array_equal(sampler.sample(5, 2).numpy(), [1.0, 1.0])


def test_sampling_is_reproducible_and_depends_on_step_and_seed():
    sampler = samplers.UniformSampler()
    sampler.configure(list("abcdef"))
    draws = [sampler.sample(s, 2, seed=3).numpy() for s in range(20)]
    again = [sampler.sample(s, 2, seed=3).numpy() for s in range(20)]
    other = [sampler.sample(s, 2, seed=4).numpy() for s in range(20)]
    np.testing.assert_array_equal(draws, again)
    assert not np.array_equal(draws, other)
    assert len({tuple(d) for d in draws}) > 3


def test_proportional_closed_form():
    sampler = samplers.ProportionalSampler(sizes={"a": 1, "b": 2, "c": 3})
    sampler.configure(["a", "b", "c"])
    np.testing.assert_allclose(sampler.probabilities(0).numpy(), [1 / 6, 2 / 6, 3 / 6], rtol=1e-6)
    np.testing.assert_allclose(np.cumsum(sampler.probabilities(0).numpy()), [1 / 6, 0.5, 1.0], rtol=1e-6)
    sqrt = samplers.ProportionalSampler(sizes=[1, 4, 9], alpha=0.5)
    sqrt.configure(["a", "b", "c"])
    np.testing.assert_allclose(sqrt.probabilities(0).numpy(), [1 / 6, 2 / 6, 3 / 6], rtol=1e-6)


def test_proportional_frequencies_match_distribution():
    freq = frequencies(samplers.ProportionalSampler(sizes=[1, 2, 3]), ["a", "b", "c"], k=1)
    np.testing.assert_allclose(freq, [1 / 6, 2 / 6, 3 / 6], atol=0.03)


def test_annealed_schedule():
    sampler = samplers.AnnealedSampler(sizes=[1, 4], total_steps=11, alpha_end=0.2)
    sampler.configure(["a", "b"])
    np.testing.assert_allclose(sampler.probabilities(0).numpy(), [0.2, 0.8], rtol=1e-6)  # α = 1
    alpha_mid = 1 - 0.8 * 0.5
    expected = np.array([1.0, 4.0**alpha_mid]) / (1 + 4.0**alpha_mid)
    np.testing.assert_allclose(sampler.probabilities(5).numpy(), expected, rtol=1e-5)
    end = np.array([1.0, 4.0**0.2]) / (1 + 4.0**0.2)
    np.testing.assert_allclose(sampler.probabilities(10).numpy(), end, rtol=1e-5)
    np.testing.assert_allclose(sampler.probabilities(1000).numpy(), end, rtol=1e-5)  # stays at the end


def test_get_and_config_round_trip():
    assert isinstance(samplers.get("uniform"), samplers.UniformSampler)
    sampler = samplers.ProportionalSampler(sizes={"a": 3, "b": 1}, alpha=0.5)
    clone = samplers.ProportionalSampler.from_config(sampler.get_config())
    clone.configure(["a", "b"])
    sampler.configure(["a", "b"])
    np.testing.assert_allclose(clone.probabilities(0).numpy(), sampler.probabilities(0).numpy())


def test_bad_input():
    with pytest.raises(ValueError, match="Unknown task sampler: 'unifrom'.*uniform"):
        samplers.get("unifrom")
    sampler = samplers.UniformSampler()
    sampler.configure(["a", "b"])
    with pytest.raises(ValueError, match="tasks_per_step=3"):
        sampler.sample(0, 3)
    with pytest.raises(ValueError, match="alpha=-1"):
        samplers.ProportionalSampler(sizes=[1, 2], alpha=-1)
    bad = samplers.ProportionalSampler(sizes={"a": 1, "z": 2})
    with pytest.raises(ValueError, match="Missing: \\['b'\\]; unknown: \\['z'\\]"):
        bad.configure(["a", "b"])
    with pytest.raises(ValueError, match="size=0"):
        samplers.ProportionalSampler(sizes=[1, 0]).configure(["a", "b"])
    with pytest.raises(ValueError, match="total_steps=1"):
        samplers.AnnealedSampler(sizes=[1, 2], total_steps=1)


def test_check_sampling():
    assert samplers.check_sampling(None, 0, 3) == (3, 0)
    assert samplers.check_sampling(np.int64(2), np.int32(5), 3) == (2, 5)
    assert samplers.check_sampling(1, -4, 1) == (1, -4)
    for bad in (0, 4, True, 1.0, "2"):
        with pytest.raises(ValueError) as info:
            samplers.check_sampling(bad, 0, 3)
        assert str(info.value) == (
            f"tasks_per_step must be an integer between 1 and the number of tasks (3). Received: tasks_per_step={bad!r}"
        )
    for bad in (True, 1.5, "0", None):
        with pytest.raises(ValueError) as info:
            samplers.check_sampling(2, bad, 3)
        assert str(info.value) == f"seed must be an integer. Received: seed={bad!r}"


def test_sizes_by_name_or_order():
    by_name = samplers.ProportionalSampler(sizes={"b": 30, "a": 10})
    by_name.configure(["a", "b"])
    np.testing.assert_allclose(by_name.probabilities(0).numpy(), [0.25, 0.75], rtol=1e-6)  # in task order
    with pytest.raises(ValueError) as info:
        samplers.ProportionalSampler(sizes=[1, 2, 3]).configure(["a", "b"])
    assert str(info.value) == "ProportionalSampler: got 3 sizes for 2 tasks. Received: sizes=[1.0, 2.0, 3.0]"
    with pytest.raises(ValueError) as info:
        samplers.AnnealedSampler(sizes={"a": 1}, total_steps=3).configure(["a", "b"])
    assert str(info.value) == "AnnealedSampler: sizes must name every task once. Missing: ['b']; unknown: []"
    for bad in (-1, float("nan")):
        with pytest.raises(ValueError) as info:
            samplers.ProportionalSampler(sizes=[1, bad]).configure(["a", "b"])
        assert str(info.value) == f"ProportionalSampler: task 'b' has a non-positive size. Received: size={float(bad)}"


def test_annealed_checks_and_exponent():
    for bad in (1, 2.5, 0):
        with pytest.raises(ValueError) as info:
            samplers.AnnealedSampler(sizes=[1, 2], total_steps=bad)
        assert str(info.value) == f"AnnealedSampler: total_steps must be an integer >= 2. Received: total_steps={bad}"
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError) as info:
            samplers.AnnealedSampler(sizes=[1, 2], total_steps=3, alpha_end=bad)
        assert str(info.value) == f"AnnealedSampler: alpha_end must be in [0, 1]. Received: alpha_end={bad}"
    sampler = samplers.AnnealedSampler(sizes=[1, 2], total_steps=5.0, alpha_end=0)
    assert [float(sampler.alpha(s)) for s in (0, 1, 2, 4, 9)] == pytest.approx([1.0, 0.75, 0.5, 0.0, 0.0])
    assert sampler.get_config() == {"sizes": [1, 2], "total_steps": 5, "alpha_end": 0.0}
    assert samplers.AnnealedSampler(sizes=[1, 2], total_steps=2, alpha_end=1).alpha(7).numpy() == pytest.approx(1.0)
    assert samplers.ProportionalSampler(sizes=[1, 2], alpha=0).get_config() == {"sizes": [1, 2], "alpha": 0.0}


def test_get_resolves_names_configs_instances_and_none():
    import keras

    assert type(samplers.get(None)) is samplers.UniformSampler
    instance = samplers.AnnealedSampler(sizes=[1, 2], total_steps=3)
    assert samplers.get(instance) is instance
    restored = samplers.get(keras.saving.serialize_keras_object(instance))
    assert type(restored) is samplers.AnnealedSampler and restored.get_config() == instance.get_config()
    assert samplers.UniformSampler().get_config() == {}
    assert type(samplers.UniformSampler.from_config({})) is samplers.UniformSampler
    assert samplers.SAMPLERS.names() == ["annealed", "proportional", "uniform"]
    with pytest.raises(NotImplementedError):
        samplers.TaskSampler().probabilities(0)


def test_sample_draws_k_distinct_tasks_from_the_step_and_seed():
    sampler = samplers.ProportionalSampler(sizes=[1, 1, 1, 1000])
    sampler.configure(["a", "b", "c", "d"])
    assert sampler.num_tasks == 4 and sampler.task_names == ["a", "b", "c", "d"]
    draws = np.array([sampler.sample(s, 1, seed=0).numpy() for s in range(30)])
    assert draws.dtype == np.float32 and (draws.sum(axis=1) == 1).all()
    assert draws[:, 3].sum() >= 28  # p_d = 0.997
    two = np.array([sampler.sample(s, 2, seed=0).numpy() for s in range(30)])
    assert (two.sum(axis=1) == 2).all() and two[:, 3].all()  # the likely task is always among the two
    np.testing.assert_array_equal(sampler.sample(tf.constant(5, tf.int32), 2, seed=9), sampler.sample(5, 2, seed=9))
    np.testing.assert_array_equal(sampler.sample(3, 4), [1.0, 1.0, 1.0, 1.0])
    for bad in (0, 5):
        with pytest.raises(ValueError) as info:
            sampler.sample(0, bad)
        assert str(info.value) == f"tasks_per_step must be between 1 and the number of tasks (4). Received: tasks_per_step={bad}"
    zero = samplers.ProportionalSampler(sizes=[1, 1], alpha=0.0)
    zero.configure(["a", "b"])
    np.testing.assert_allclose(zero.probabilities(0).numpy(), [0.5, 0.5])


def test_probabilities_are_a_distribution_and_draws_use_the_steps_own():
    uniform = samplers.UniformSampler()
    uniform.configure(list("abcd"))
    np.testing.assert_allclose(uniform.probabilities(0).numpy(), [0.25] * 4)
    # an annealed sampler draws from its distribution at the step: at step 0 p ∝ sizes, at the end uniform
    annealed = samplers.AnnealedSampler(sizes=[1, 1e6], total_steps=2, alpha_end=0.0)
    annealed.configure(["a", "b"])
    early = np.array([annealed.sample(0, 1, seed=s).numpy() for s in range(20)])
    assert early[:, 1].all()  # p_b ≈ 1 at step 0
    late = np.array([annealed.sample(1, 1, seed=s).numpy() for s in range(40)])
    assert 5 < late[:, 0].sum() < 35  # p = (½, ½) at the end


@pytest.mark.parametrize("make", [
    lambda sizes: samplers.ProportionalSampler(sizes),
    lambda sizes: samplers.AnnealedSampler(sizes, total_steps=10),
])
@pytest.mark.parametrize("sizes, message", [
    ("12", r"sizes must be a list of data-set sizes in task order or a dict.*sizes='12'"),  # was read as [1, 2]
    (12, r"sizes=12"),
    ([True, 5], r"every size must be a number\. Received: sizes=\[True, 5\]"),
    ({"a": "10", "b": 5}, r"every size must be a number"),
])
def test_sizes_that_are_not_numbers_are_refused(make, sizes, message):
    with pytest.raises(ValueError, match=message):
        make(sizes)
