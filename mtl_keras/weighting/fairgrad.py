"""FairGrad: fair resource allocation between tasks (Ban & Ji, ICML 2024)."""

import keras

from mtl_keras.weighting._ops import alpha_fair_weights_from_gram, check_int, check_number, gram
from mtl_keras.weighting.base import WEIGHTINGS, GramWeighting


def fairgrad_weights_from_gram(gram_matrix, alpha=2.0, iterations=25):
    """FairGrad weights `w` `[T]`: the positive solution of `(K w)_i = w_i^(-1/α)`, `K = G Gᵀ`.

    The update `d = Gᵀ w` maximises the α-fair utility `Σ_i (g_i·d)^(1-α) / (1-α)` (`Σ log` for
    `α = 1`) in a ball, which gives every task the improvement `g_i · d = w_i^(-1/α) > 0`. As in the
    paper and the authors' code, `K` is the raw Gram matrix (no normalisation). Solved by damped
    Newton steps (see `alpha_fair_weights_from_gram`); zero rows (absent tasks) get weight 0.

    Args:
        gram_matrix: float tensor `[T, T]`.
        alpha: the fairness `α > 0`: 0 → utilitarian (total improvement), 1 → proportional fairness
            (Nash-MTL's weights up to scale), ∞ → max-min fairness.
        iterations: number of Newton steps.

    Returns:
        Float tensor `[T]` of non-negative weights.
    """
    return alpha_fair_weights_from_gram(gram_matrix, alpha, iterations)


def fairgrad_weights(grads, alpha=2.0, iterations=25):
    """FairGrad weights `[T]` for per-task gradients `grads` `[T, P]` (see `fairgrad_weights_from_gram`).

    Example: orthogonal rows give `w_i = ||g_i||^(-2α/(α+1))`: for `g_1 = (1, 0)`, `g_2 = (0, 2)` and
    `α = 1`, `w = (1, ½)` and `d = (1, 1)`, with `g_i · d = 1 / w_i`.
    """
    return fairgrad_weights_from_gram(gram(grads), alpha, iterations)


@WEIGHTINGS.register("fairgrad")
@keras.saving.register_keras_serializable(package="mtl_keras")
class FairGrad(GramWeighting):
    """FairGrad: the update that allocates the tasks' improvements by α-fairness.

    Each task's "resource" is its loss decrease along the update, `g_i · d`; FairGrad maximises
    the α-fair utility of these improvements, `Σ_i (g_i·d)^(1-α) / (1-α)`, over a ball. With
    `d = Gᵀ w` the optimality conditions are

        G Gᵀ w = w^(-1/α)   (element-wise),   w > 0,

    solved in the `T x T` Gram space by damped Newton steps (the paper uses SciPy's
    `least_squares`; see `fairgrad_weights_from_gram`). `α = 1` is proportional fairness (the Nash
    bargaining solution of Nash-MTL, without its normalisation); larger `α` favours the tasks that
    improve least (max-min fairness as `α → ∞`); `α → 0` maximises the total improvement.
    Absent tasks (zero rows) are left out.

    Args:
        alpha: the fairness `α > 0`. Defaults to 2.0 (the value of the authors' experiment
            scripts).
        iterations: Newton steps (`>= 1`). Defaults to 25.
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=FairGrad(alpha=2.0))
    >>> FairGrad(alpha=1.0)([[1.0, 0.0], [0.0, 2.0]]).weights  # (1, ½)

    Reference:
        Ban & Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024.
    """

    def __init__(self, alpha=2.0, iterations=25, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_number("FairGrad", "alpha", alpha, minimum=0, strict=True)
        self.iterations = check_int("FairGrad", "iterations", iterations, minimum=1)

    def weights_from_gram(self, gram_matrix, losses, step):
        return fairgrad_weights_from_gram(gram_matrix, self.alpha, self.iterations)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "iterations": self.iterations}
