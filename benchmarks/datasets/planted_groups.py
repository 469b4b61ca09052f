"""Six regression tasks with a planted group structure: three latent generators and an odd task."""

import numpy as np

from mtl_keras.task import Task

from .base import MultiTaskBenchmark, check_sizes
from .registry import register_benchmark

REFERENCE = (
    "Fifty, Amid, Zhao, Yu, Anil, Finn. Efficiently Identifying Task Groupings for Multi-Task "
    "Learning. NeurIPS 2021 (the grouping problem this set tests)."
)

#: The default planted structure: tasks per latent generator (the last, size 1, is the odd task).
GROUP_SIZES = (3, 2, 1)


def _generator(rng, basis, num_sines):
    """A random smooth function of `x` living in the span of `basis` (`[d, r]`): `f(x) = Σ_m sin(α_m·(x·B c_m) + β_m)`."""
    mix = rng.standard_normal((basis.shape[1], num_sines))
    alphas = rng.uniform(0.5, 1.5, num_sines)
    betas = rng.uniform(0, 2 * np.pi, num_sines)
    return lambda x: np.sin((x @ basis @ mix) * alphas + betas).sum(axis=1) / np.sqrt(num_sines)


@register_benchmark("planted_groups")
def load_planted_groups(
    seed=0,
    group_sizes=GROUP_SIZES,
    input_dim=24,
    rank=4,
    num_sines=8,
    task_noise=0.15,
    noise_std=0.1,
    num_train=2000,
    num_validation=500,
    num_test=1000,
):
    """Loads a regression set whose tasks come from a few latent generators (known groups).

    Generation:

    1. Split `R^d` into orthogonal subspaces `B_g` of rank `rank`, one per group `g`.
    2. Group `g` has a latent generator `f_g(x) = Σ_m sin(α_m · c_mᵀ B_gᵀ x + β_m) / √M`, a random
       smooth function of the projection of `x` on its subspace.
    3. Task `t` of group `g`: `y_t = s_t · f_g(x) + task_noise · h_t(x) + ε`, with a scale
       `s_t ∈ [0.7, 1.3]`, a small task-specific generator `h_t` (own subspace draw) and noise
       `ε ~ N(0, noise_std²)`. Tasks of a group share most of their signal; tasks of different
       groups share none, so a small trunk trained on all of them serves each group worse.
    4. A last group of one task (the odd one) reads every group's subspace at once: its features
       overlap and compete with everybody's.

    With the default `group_sizes=(3, 2, 1)` the six tasks `task_1 … task_6` form the groups
    `{1, 2, 3}`, `{4, 5}` and the odd task `{6}` (in `info["groups"]`).

    Args:
        seed: seed of the task definitions and of every split.
        group_sizes: tasks per latent generator.
        input_dim: input dimension `d` (at least `rank · number of groups`).
        rank: the dimension of each generator's subspace.
        num_sines: sine terms `M` per generator.
        task_noise: the weight of each task's own generator (its difference from its group).
        noise_std: standard deviation of the label noise.
        num_train, num_validation, num_test: examples per split.

    Returns:
        A `MultiTaskBenchmark` (shared-input mode) with regression tasks `task_1 …`, `info` holding
        `groups` (lists of task names) and `group_of` (`{task: group index}`).

    Example:

    >>> bench = load_planted_groups()
    >>> bench.info["groups"]
    [['task_1', 'task_2', 'task_3'], ['task_4', 'task_5'], ['task_6']]
    """
    check_sizes(num_train=num_train, num_validation=num_validation, num_test=num_test, rank=rank, num_sines=num_sines)
    group_sizes = tuple(int(s) for s in group_sizes)
    if not group_sizes or any(s < 1 for s in group_sizes):
        raise ValueError(f"group_sizes must be positive integers. Received: group_sizes={group_sizes!r}")
    if input_dim < rank * len(group_sizes):
        raise ValueError(
            f"input_dim must be >= rank · number of groups = {rank * len(group_sizes)}. Received: input_dim={input_dim!r}"
        )
    rng = np.random.default_rng([seed, 7])
    basis, _ = np.linalg.qr(rng.standard_normal((input_dim, input_dim)))
    generators = [_generator(rng, basis[:, g * rank : (g + 1) * rank], num_sines) for g in range(len(group_sizes))]
    if group_sizes[-1] == 1 and len(group_sizes) > 1:  # the odd task: entangled with every group's inputs
        generators[-1] = _generator(rng, basis[:, : rank * len(group_sizes)], num_sines)
    names, group_of, tasks_fns = [], {}, []
    for g, size in enumerate(group_sizes):
        for _ in range(size):
            name = f"task_{len(names) + 1}"
            names.append(name)
            group_of[name] = g
            scale = rng.uniform(0.7, 1.3)
            own = _generator(rng, np.linalg.qr(rng.standard_normal((input_dim, rank)))[0], num_sines)
            tasks_fns.append(lambda x, f=generators[g], h=own, s=scale: s * f(x) + task_noise * h(x))
    splits = {}
    for sample, (split, count) in enumerate((("train", num_train), ("validation", num_validation), ("test", num_test))):
        split_rng = np.random.default_rng([seed, 8, sample])
        x = split_rng.standard_normal((count, input_dim))
        labels = {n: (fn(x) + noise_std * split_rng.standard_normal(count)).astype("float32") for n, fn in zip(names, tasks_fns)}
        splits[split] = (x.astype("float32"), labels)
    groups = [[n for n in names if group_of[n] == g] for g in range(len(group_sizes))]
    return MultiTaskBenchmark(
        name="planted_groups",
        tasks=[Task(n, kind="regression") for n in names],
        input_shape=(input_dim,),
        mode="shared",
        splits=splits,
        description=f"Regression tasks from {len(group_sizes)} latent generators (planted groups {groups}).",
        reference=REFERENCE,
        info={"groups": groups, "group_of": group_of, "seed": seed},
    )
