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
