"""MMoE synthetic regression pair with controllable task correlation (Ma et al., KDD 2018, §3.2)."""

import numpy as np

from mtl_keras.task import Task

from .base import MultiTaskBenchmark, check_sizes
from .registry import register_benchmark

REFERENCE = (
    "Ma, Zhao, Yi, Chen, Hong, Chi. Modeling Task Relationships in Multi-task Learning with "
    "Multi-gate Mixture-of-Experts. KDD 2018, section 3.2."
)


def mmoe_task_weights(input_dim, p, c=1.0, seed=0):
    """Returns the two task weight vectors `(w1, w2)` of the MMoE synthetic data.

    `u1, u2` are orthogonal unit vectors (from the QR decomposition of a Gaussian matrix), and

        w1 = c · u1,    w2 = c · (p · u1 + sqrt(1 - p²) · u2),

    so that `cos(w1, w2) = p` and `|w1| = |w2| = c`.
    """
    if not -1.0 <= p <= 1.0:
        raise ValueError(f"The task correlation p must be in [-1, 1]. Received: p={p!r}")
    if input_dim < 2:
        raise ValueError(f"input_dim must be >= 2 to hold two orthogonal vectors. Received: input_dim={input_dim!r}")
    rng = np.random.default_rng([seed, 1])
    q, _ = np.linalg.qr(rng.standard_normal((input_dim, 2)))
    u1, u2 = q[:, 0], q[:, 1]
    return c * u1, c * (p * u1 + np.sqrt(1.0 - p**2) * u2)


def make_mmoe_synthetic(num_examples, input_dim=32, p=0.5, c=1.0, num_sines=10, noise_std=0.1, seed=0, sample=0):
    """Generates `num_examples` MMoE synthetic examples: `x` of shape `(n, input_dim)`, `y1`, `y2`.

    The task definition (`w1`, `w2`, `α`, `β`) depends on `seed` only; `sample` picks an
    independent draw of inputs and noise under that definition (used for the splits).

    Returns:
        A tuple `(x, y1, y2, params)` with float32 arrays and the generating parameters.
    """
    check_sizes(num_examples=num_examples, num_sines=num_sines)
    w1, w2 = mmoe_task_weights(input_dim, p, c=c, seed=seed)
    shape_rng = np.random.default_rng([seed, 2])
    alphas = shape_rng.standard_normal(num_sines)
    betas = shape_rng.standard_normal(num_sines)
    rng = np.random.default_rng([seed, 3, sample])
    x = rng.standard_normal((num_examples, input_dim))
    labels = []
    for w in (w1, w2):
        z = x @ w
        y = z + np.sin(np.outer(z, alphas) + betas).sum(axis=1) + noise_std * rng.standard_normal(num_examples)
        labels.append(y.astype("float32"))
    params = {"w1": w1, "w2": w2, "alphas": alphas, "betas": betas, "p": p, "c": c, "noise_std": noise_std}
    return x.astype("float32"), labels[0], labels[1], params


@register_benchmark("mmoe_synthetic")
def load_mmoe_synthetic(
    seed=0,
    p=0.5,
    input_dim=32,
    c=1.0,
    num_sines=10,
    noise_std=0.1,
    num_train=2000,
    num_validation=500,
    num_test=500,
):
    """Loads the MMoE synthetic regression pair, whose task correlation is set by `p`.

    Generation (Ma et al., KDD 2018, §3.2):

    1. Draw two orthogonal unit vectors `u1, u2 ∈ R^d`.
    2. Set `w1 = c·u1` and `w2 = c·(p·u1 + sqrt(1 - p²)·u2)`, so `cos(w1, w2) = p`.
    3. Draw inputs `x ~ N(0, I_d)`.
    4. Labels `y_i = w_iᵀx + Σ_{j=1..m} sin(α_j·w_iᵀx + β_j) + ε_i`, `ε_i ~ N(0, noise_std²)`.

    The paper uses `c = 1`, `m = 10` sine terms and noise `N(0, 0.01)` (read here as a variance,
    so `noise_std = 0.1`); it does not give `α_j, β_j`: here `α_j, β_j ~ N(0, 1)`, drawn once per
    seed and shared by both tasks. Because of the sine terms the Pearson correlation of `y1` and
    `y2` is not exactly `p`, but it falls as `p` falls.

    All three splits share the same task definition (`w1`, `w2`, `α`, `β`) and have independent
    inputs and noise. Shared-input mode: `(x, {"task_1": y1, "task_2": y2})`.

    Args:
        seed: seed of the task definition and of every split.
        p: task correlation, the cosine of `w1` and `w2`, in `[-1, 1]`.
        input_dim: input dimension `d`.
        c: scale of the linear part.
        num_sines: number `m` of sine terms.
        noise_std: standard deviation of the label noise.
        num_train: training examples.
        num_validation: validation examples.
        num_test: test examples.

    Returns:
        A `MultiTaskBenchmark` with two regression tasks `task_1`, `task_2`, `mode="shared"`,
        and `info` holding `w1, w2, alphas, betas`.

    Example:

    >>> bench = load_mmoe_synthetic(p=0.9, input_dim=16)
    >>> x, labels = bench.splits["train"]
    >>> x.shape, labels["task_1"].shape
    ((2000, 16), (2000,))
    """
    check_sizes(num_train=num_train, num_validation=num_validation, num_test=num_test, input_dim=input_dim)
    splits, params = {}, None
    for sample, (split, count) in enumerate((("train", num_train), ("validation", num_validation), ("test", num_test))):
        x, y1, y2, params = make_mmoe_synthetic(
            count, input_dim=input_dim, p=p, c=c, num_sines=num_sines, noise_std=noise_std, seed=seed, sample=sample
        )
        splits[split] = (x, {"task_1": y1, "task_2": y2})
    return MultiTaskBenchmark(
        name="mmoe_synthetic",
        tasks=[Task("task_1", kind="regression"), Task("task_2", kind="regression")],
        input_shape=(input_dim,),
        mode="shared",
        splits=splits,
        description=f"MMoE synthetic regression pair, task correlation p={p} (cosine of the task weight vectors).",
        reference=REFERENCE,
        info={**params, "seed": seed},
    )
