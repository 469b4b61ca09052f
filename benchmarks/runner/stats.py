"""Is a difference from a baseline more than seed noise? A paired test over seeds.

Every comparison of the runner is paired by seed: a model and its reference (the single-task
baseline, the parameter-matched one or tuned equal weights) share the seed, hence the data draw,
the subset of a data-size sweep and the shuffles. Each seed gives one paired difference
`d_s = Δm_s` (the relative change of the model against the reference of the same seed, in
percent), and the question is whether their mean differs from zero.

The test is the two-sided one-sample t-test on the `d_s` (the paired t-test, Student 1908;
`scipy.stats.ttest_1samp`): `t = mean(d) / (std(d) / sqrt(n))` with `n − 1` degrees of freedom.
A difference whose p-value is at least the level (0.05 by default) is *within noise*. With three
seeds the t-test can reach p < 0.05 (`|t| > 4.30`); a sign-flip permutation test could not
(its smallest two-sided p-value is `2 / 2^n = 0.25`), which is why the runner uses the t-test.
The t-test assumes roughly normal seed-to-seed variation; with few seeds, read "within noise" as
"not shown to differ", never as "equal".
"""

import math


def paired_test(differences, alpha=0.05):
    """The paired t-test over seeds of per-seed differences (e.g. per-seed Δm against the same-seed baseline).

    Args:
        differences: one paired difference per seed.
        alpha: the level; a p-value of at least `alpha` is within noise.

    Returns:
        A dict: `n`, `mean`, `std` (sample standard deviation), `t`, `p_value` and
        `within_noise` (`None` for fewer than two seeds, where nothing can be tested). Equal
        non-zero differences (no spread) give `p_value = 0`; all-zero differences give 1.

    Example:

    >>> paired_test([1.0, 2.0, 3.0])["p_value"]   # t = 2 / (1 / sqrt(3)) = 3.46, 2 d.o.f.
    0.0742...
    """
    values = [float(d) for d in differences]
    n = len(values)
    mean = sum(values) / n if n else float("nan")
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    result = {"n": n, "mean": mean, "std": std, "t": None, "p_value": None, "within_noise": None}
    if n < 2:
        return result
    if std == 0.0:
        result["t"] = math.copysign(math.inf, mean) if mean else 0.0
        result["p_value"] = 0.0 if mean else 1.0
    else:
        from scipy import stats

        test = stats.ttest_1samp(values, 0.0)
        result["t"], result["p_value"] = float(test.statistic), float(test.pvalue)
    result["within_noise"] = result["p_value"] >= alpha
    return result
