"""GradNorm toy regression tasks with very different label scales (Chen et al., ICML 2018, §4)."""

import numpy as np

from mtl_keras.task import Task

from .base import MultiTaskBenchmark, check_sizes
from .registry import register_benchmark

REFERENCE = (
    "Chen, Badrinarayanan, Lee, Rabinovich. GradNorm: Gradient Normalization for Adaptive Loss "
    "Balancing in Deep Multitask Networks. ICML 2018, section 4."
)


def make_gradnorm_scales(
    num_examples, scales=(1.0, 100.0), input_dim=32, output_dim=8, b_std=10.0, eps_std=3.5, seed=0, sample=0
):
    """Generates `num_examples` GradNorm toy examples: `x` and one label array per task.

    The task definition (`B`, `ε_i`) depends on `seed` only; `sample` picks an independent
    draw of inputs under that definition (used for the splits).

    Returns:
        A tuple `(x, labels, params)`: `x` float32 `(n, input_dim)`, `labels` a list of float32
        `(n, output_dim)` arrays, one per scale, and the generating parameters.
    """
    check_sizes(num_examples=num_examples, input_dim=input_dim, output_dim=output_dim)
    scales = [float(s) for s in scales]
    if not scales or min(scales) <= 0:
        raise ValueError(f"scales must be a non-empty list of positive numbers. Received: scales={scales!r}")
    rng = np.random.default_rng([seed, 1])
    base = b_std * rng.standard_normal((output_dim, input_dim))
    perturbations = eps_std * rng.standard_normal((len(scales), output_dim, input_dim))
    # Normalize so that the pre-activations have unit variance: tanh stays out of saturation.
    norm = np.sqrt(input_dim * (b_std**2 + eps_std**2))
    x = np.random.default_rng([seed, 2, sample]).standard_normal((num_examples, input_dim))
    labels = [
        (s * np.tanh(x @ (base + eps).T / norm)).astype("float32") for s, eps in zip(scales, perturbations, strict=True)
    ]
    params = {"B": base, "epsilons": perturbations, "scales": scales, "normalizer": norm}
    return x.astype("float32"), labels, params


@register_benchmark("gradnorm_scales")
def load_gradnorm_scales(
    seed=0,
    scales=(1.0, 100.0),
    input_dim=32,
    output_dim=8,
    b_std=10.0,
    eps_std=3.5,
    num_train=2000,
    num_validation=500,
    num_test=500,
):
    """Loads GradNorm-style regression tasks that share structure but differ in label scale.

    Generation (Chen et al., ICML 2018, §4): `T = len(scales)` tasks

        y_i = σ_i · tanh((B + ε_i) x / s),

    with a shared base matrix `B` (entries `N(0, b_std²)`), a task-specific perturbation `ε_i`
    (entries `N(0, eps_std²)`), inputs `x ~ N(0, I_d)` and the task scale `σ_i = scales[i]`.
    The paper uses `d = 250` inputs, 100 outputs, `B ~ N(0, 10)`, `ε_i ~ N(0, 3.5)`, and
    `σ = (1, 100)` for two tasks. Here `s = sqrt(d · (b_std² + eps_std²))` makes the
    pre-activations unit-variance so `tanh` does not saturate (a constant rescaling that keeps
    the ratio of shared to task-specific structure). Since every `tanh((B + ε_i) x / s)` has about
    the same spread, the label standard deviations are in the ratio of the scales: with the
    default `scales=(1, 100)`, `task_2`'s labels are 100 times larger than `task_1`'s, and so are
    its squared-error gradients (10⁴ times larger losses) at equal relative error.

    Args:
        seed: seed of the task definition and of every split.
        scales: the task scales `σ_i`; the scale factor between tasks is `max / min`.
        input_dim: input dimension `d`.
        output_dim: outputs per task (the `units` of each regression task).
        b_std: standard deviation of the entries of `B`.
        eps_std: standard deviation of the entries of `ε_i`.
        num_train: training examples.
        num_validation: validation examples.
        num_test: test examples.

    Returns:
        A `MultiTaskBenchmark` with regression tasks `task_1 ... task_T` (`units=output_dim`),
        `mode="shared"`, and `info` holding `B`, `epsilons`, `scales`, `scale_factor`.

    Example:

    >>> bench = load_gradnorm_scales(scales=(1.0, 100.0))
    >>> x, labels = bench.splits["train"]
    >>> round(float(labels["task_2"].std() / labels["task_1"].std()))  # about 100
    """
    check_sizes(num_train=num_train, num_validation=num_validation, num_test=num_test)
    names = [f"task_{i + 1}" for i in range(len(scales))]
    splits, params = {}, None
    for sample, (split, count) in enumerate((("train", num_train), ("validation", num_validation), ("test", num_test))):
        x, labels, params = make_gradnorm_scales(
            count,
            scales,
            input_dim=input_dim,
            output_dim=output_dim,
            b_std=b_std,
            eps_std=eps_std,
            seed=seed,
            sample=sample,
        )
        splits[split] = (x, dict(zip(names, labels, strict=True)))
    factor = max(params["scales"]) / min(params["scales"])
    return MultiTaskBenchmark(
        name="gradnorm_scales",
        tasks=[Task(name, kind="regression", units=output_dim) for name in names],
        input_shape=(input_dim,),
        mode="shared",
        splits=splits,
        description=f"GradNorm toy regression tasks with scales {params['scales']} (scale factor {factor:g}).",
        reference=REFERENCE,
        info={**params, "scale_factor": factor, "seed": seed},
    )
