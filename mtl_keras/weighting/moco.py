"""MoCo: multi-objective gradient correction (Fernando, Shen, Liu, Chaudhury, Murugesan & Chen, ICLR 2023)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import active_rows, check_number, combine, gram, project_to_simplex, read
from mtl_keras.weighting.base import WEIGHTINGS, Combination, GradientWeighting

NORMALIZATIONS = ("none", "loss")


def moco_lambda_update(tracked_gram, lam, step_size, rho=0.0, present=None):
    """MoCo's weight step: `λ ← Π_Δ(λ - γ (Y Yᵀ + ρ I) λ)`, one projected gradient step of MGDA's dual.

    `½ λᵀ Y Yᵀ λ` is the squared norm of the combined tracked gradients `Σ_i λ_i y_i`, so the step
    moves `λ` towards the min-norm (MGDA) weights of the tracked gradients; `ρ > 0` regularises.

    Args:
        tracked_gram: float tensor `[T, T]`, `Y Yᵀ` of the tracked gradients.
        lam: float tensor `[T]`, the current weights on the simplex (of the present tasks).
        step_size: `γ > 0`.
        rho: `ρ >= 0`.
        present: optional 0/1 float tensor `[T]`: the step is then the sub-problem of the present
            tasks (`λ` restricted to them, on their simplex), and the other weights are 0.

    Returns:
        Float tensor `[T]` on the simplex (of the present tasks).
    """
    present = tf.ones_like(lam) if present is None else tf.cast(present, lam.dtype)
    lam = lam * present
    moved = lam - step_size * (tf.linalg.matvec(tracked_gram, lam) + rho * lam)
    return project_to_simplex(moved, present) * present


@WEIGHTINGS.register("moco")
@keras.saving.register_keras_serializable(package="mtl_keras")
class MoCo(GradientWeighting):
    """MoCo: MGDA on tracked (bias-corrected) gradients, with slowly moving weights.

    Stochastic MGDA is biased: the min-norm weights of noisy gradients are not the weights of the
    true ones. MoCo tracks each task's gradient with a running estimate `y_i` and moves the
    weights by one projected step per training step, so that neither is a function of one
    batch only (Algorithm 1 of the paper):

        y_i ← y_i - β_t (y_i - g_i),             β_t = β / t^σβ,
        λ ← Π_Δ(λ - γ_t (Y Yᵀ + ρ I) λ),         γ_t = γ / t^σγ,
        d = Yᵀ λ = Σ_i λ_i y_i.

    The tracked gradients `Y` (`[T, P]`, non-trainable state, starting at 0) make the strategy need
    the gradient size before training (`build((T, P))`); it works on the shared parameters only.
    `gradient_normalization="loss"` first rescales each gradient to the norm `L_i` (the authors'
    code); the paper's algorithm uses the raw gradients (`"none"`, the default; the paper's
    optional projection of `y_i` onto a ball is not applied). `t` counts each task's own updates
    for `β_t` and the strategy's calls for `γ_t`. An absent task (zero row) keeps its `y_i` and
    `λ_i` and is left out of the step and of the direction (the present tasks' weights are
    divided by their total). The reported weights are those `λ_i`.

    Args:
        beta: `β` in `(0, 1]`, the tracking rate. Defaults to 0.5.
        beta_sigma: `σβ >= 0`. Defaults to 0.5.
        gamma: `γ > 0`, the weights' step size. Defaults to 0.1.
        gamma_sigma: `σγ >= 0`. Defaults to 0.5.
        rho: `ρ >= 0`, the regularisation of the weights' step. Defaults to 0.
        gradient_normalization: `"none"` or `"loss"`. Defaults to `"none"`.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=MoCo(beta=0.5, gamma=0.1))

    Reference:
        Fernando, Shen, Liu, Chaudhury, Murugesan & Chen, "Mitigating Gradient Bias in
        Multi-objective Learning: A Provably Convergent Approach", ICLR 2023.
    """

    needs_gradient_size = True
    supports_representation = False

    def __init__(
        self, beta=0.5, beta_sigma=0.5, gamma=0.1, gamma_sigma=0.5, rho=0.0, gradient_normalization="none", **kwargs
    ):
        super().__init__(**kwargs)
        self.beta = check_number("MoCo", "beta", beta, minimum=0, maximum=1, strict=True)
        self.beta_sigma = check_number("MoCo", "beta_sigma", beta_sigma, minimum=0)
        self.gamma = check_number("MoCo", "gamma", gamma, minimum=0, strict=True)
        self.gamma_sigma = check_number("MoCo", "gamma_sigma", gamma_sigma, minimum=0)
        self.rho = check_number("MoCo", "rho", rho, minimum=0)
        if gradient_normalization not in NORMALIZATIONS:
            raise ValueError(
                f"MoCo: gradient_normalization must be one of {NORMALIZATIONS}. "
                f"Received: gradient_normalization={gradient_normalization!r}"
            )
        self.gradient_normalization = gradient_normalization

    @property
    def needs_losses(self):
        """The `"loss"` normalisation rescales the gradients to the losses."""
        return self.gradient_normalization == "loss"

    def build_state(self, gradient_shape):
        self.tracked = self.add_weight(shape=gradient_shape, initializer="zeros", trainable=False, name="tracked")
        # Rows: weights λ (uniform at the start) and per-task update counts.
        initial = [[1.0 / self.num_tasks] * self.num_tasks, [0.0] * self.num_tasks]
        self.task_state = self.add_weight(
            shape=(2, self.num_tasks),
            initializer=keras.initializers.Constant(initial),
            trainable=False,
            name="task_state",
        )
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False, name="calls")

    @property
    def lam(self):
        """MoCo's current weights `λ` `[T]` (on the simplex)."""
        return read(self.task_state)[0]

    def combine_gradients(self, grads, losses, step):
        dtype = grads.dtype
        present = active_rows(grads)
        if self.gradient_normalization == "loss":
            scale = tf.math.divide_no_nan(tf.cast(losses, dtype), tf.norm(grads, axis=1))
            grads = grads * scale[:, tf.newaxis]
        lam, counts = tf.unstack(tf.cast(read(self.task_state), dtype))
        counts = counts + present
        calls = tf.cast(read(self.calls), dtype) + 1.0
        beta = self.beta / tf.pow(tf.maximum(counts, 1.0), self.beta_sigma)
        tracked = tf.cast(read(self.tracked), dtype)
        tracked = tf.where(present[:, tf.newaxis] > 0, tracked - beta[:, tf.newaxis] * (tracked - grads), tracked)
        gamma = self.gamma / tf.pow(calls, self.gamma_sigma)
        # The present tasks' weights, on their own simplex (uniform if they hold no weight yet).
        mass = tf.reduce_sum(lam * present)
        uniform = tf.math.divide_no_nan(present, tf.reduce_sum(present))
        start = tf.where(mass > 0, tf.math.divide_no_nan(lam * present, mass), uniform)
        weights = moco_lambda_update(gram(tracked), start, gamma, self.rho, present)
        mass = tf.where(mass > 0, mass, tf.reduce_sum(present) / self.num_tasks)
        lam = tf.where(present > 0, weights * mass, lam)  # absent tasks keep their weight
        self.tracked.assign(tf.cast(tracked, self.tracked.dtype))
        self.task_state.assign(tf.cast(tf.stack([lam, counts]), self.task_state.dtype))
        self.calls.assign(tf.cast(calls, self.calls.dtype))
        return Combination(combine(weights, tracked), weights)

    def get_config(self):
        return {
            **super().get_config(),
            "beta": self.beta,
            "beta_sigma": self.beta_sigma,
            "gamma": self.gamma,
            "gamma_sigma": self.gamma_sigma,
            "rho": self.rho,
            "gradient_normalization": self.gradient_normalization,
        }
