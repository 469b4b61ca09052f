"""Laws of the task samplers (Hypothesis): distributions, and draws whose frequencies match them.

The frequency test is a chi-square goodness-of-fit test of 3000 one-task draws against
`probabilities(step)`, rejecting only below p = 1e-4. The draws are a fixed function of the seed and
the step, and Hypothesis runs derandomized in CI, so the test is deterministic; the threshold is
the safety margin against an unlucky seed (a wrong distribution, e.g. p_i ∝ n_i instead of
n_i^α with α = 0.5 on sizes 1 and 30, gives p-values far below 1e-10).
"""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mtl_keras import samplers

DRAWS = 3000

sizes_strategy = st.lists(st.integers(1, 1000), min_size=2, max_size=5)


def counts_of(sampler, tasks_per_step, first_step, seed):
    """How often each task was drawn in `DRAWS` steps from `first_step`, in one graph loop."""

    @tf.function
    def count():
        counts = tf.zeros([sampler.num_tasks])
        for step in tf.range(first_step, first_step + DRAWS, dtype=tf.int64):
            mask = sampler.sample(step, tasks_per_step, seed)
            tf.debugging.assert_equal(tf.reduce_sum(mask), float(tasks_per_step))  # exactly k distinct tasks
            counts += mask
        return counts

    return count().numpy()


def names(count):
    return [f"t{i}" for i in range(count)]


@given(sizes=sizes_strategy, alpha=st.floats(0.0, 2.0))
def test_proportional_probabilities_are_the_normalised_powers(sizes, alpha):
    sampler = samplers.ProportionalSampler(sizes, alpha=alpha)
    sampler.configure(names(len(sizes)))
    probabilities = sampler.probabilities(0).numpy()
    expected = np.power(np.asarray(sizes, "float64"), alpha)
    np.testing.assert_allclose(probabilities, expected / expected.sum(), rtol=1e-4)
    # a larger data set is never sampled less often (for alpha >= 0)
    order = np.argsort(sizes, kind="stable")
    assert (np.diff(probabilities[order]) >= -1e-6).all()


@given(sizes=sizes_strategy, total_steps=st.integers(2, 50), alpha_end=st.floats(0.0, 1.0), data=st.data())
def test_annealed_probabilities_move_from_proportional_to_the_final_exponent(sizes, total_steps, alpha_end, data):
    sampler = samplers.AnnealedSampler(sizes, total_steps=total_steps, alpha_end=alpha_end)
    sampler.configure(names(len(sizes)))

    def proportional(alpha):
        reference = samplers.ProportionalSampler(sizes, alpha=alpha)
        reference.configure(names(len(sizes)))
        return reference.probabilities(0).numpy()

    np.testing.assert_allclose(sampler.probabilities(0).numpy(), proportional(1.0), rtol=1e-4)
    for step in (total_steps - 1, total_steps + data.draw(st.integers(0, 100))):
        np.testing.assert_allclose(sampler.probabilities(step).numpy(), proportional(alpha_end), rtol=1e-4)
    step = data.draw(st.integers(0, total_steps - 1))
    alpha = 1.0 - (1.0 - alpha_end) * step / (total_steps - 1)
    np.testing.assert_allclose(sampler.probabilities(step).numpy(), proportional(alpha), rtol=1e-4)


def _fit_p_value(counts, probabilities):
    expected = DRAWS * np.asarray(probabilities, "float64")
    keep = expected > 0
    return stats.chisquare(counts[keep], expected[keep] * counts[keep].sum() / expected[keep].sum()).pvalue


@pytest.mark.parametrize("kind", ["uniform", "proportional", "annealed"])
@settings(max_examples=6)  # each example traces a 3000-step loop: about a second
@given(sizes=st.lists(st.integers(1, 30), min_size=2, max_size=4), alpha=st.floats(0.0, 1.0), seed=st.integers(0, 2**20))
def test_one_task_draws_follow_the_distribution(kind, sizes, alpha, seed):
    if kind == "uniform":
        sampler = samplers.UniformSampler()
    elif kind == "proportional":
        sampler = samplers.ProportionalSampler(sizes, alpha=alpha)
    else:  # past its annealing steps the exponent is alpha_end
        sampler = samplers.AnnealedSampler(sizes, total_steps=5, alpha_end=alpha)
    sampler.configure(names(len(sizes)))
    counts = counts_of(sampler, 1, first_step=10, seed=seed)
    probabilities = sampler.probabilities(10).numpy()
    assert _fit_p_value(counts, probabilities) > 1e-4, (counts / DRAWS, probabilities)


@settings(max_examples=6)
@given(num_tasks=st.integers(3, 6), data=st.data(), seed=st.integers(0, 2**20))
def test_uniform_k_of_t_draws_include_every_task_k_over_t_of_the_time(num_tasks, data, seed):
    tasks_per_step = data.draw(st.integers(2, num_tasks - 1))
    sampler = samplers.UniformSampler()
    sampler.configure(names(num_tasks))
    counts = counts_of(sampler, tasks_per_step, first_step=0, seed=seed)
    # each task is in a draw with probability k / T; the counts sum to k * DRAWS
    assert counts.sum() == tasks_per_step * DRAWS
    assert _fit_p_value(counts, np.full(num_tasks, 1.0 / num_tasks)) > 1e-4, counts / DRAWS


def test_the_frequency_test_rejects_a_wrong_distribution():
    """The chi-square check above has power: it rejects draws from p ∝ n against p ∝ √n."""
    sampler = samplers.ProportionalSampler([1, 30], alpha=1.0)
    sampler.configure(names(2))
    counts = counts_of(sampler, 1, first_step=0, seed=0)
    wrong = samplers.ProportionalSampler([1, 30], alpha=0.5)
    wrong.configure(names(2))
    assert _fit_p_value(counts, wrong.probabilities(0).numpy()) < 1e-10
    assert _fit_p_value(counts, sampler.probabilities(0).numpy()) > 1e-4
