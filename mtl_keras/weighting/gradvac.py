"""Gradient Vaccine (Wang, Tsvetkov, Firat & Cao, ICLR 2021)."""

import keras
import tensorflow as tf

from mtl_keras.weighting._ops import (
    check_int,
    check_number,
    gram,
    num_tasks_of,
    random_orders,
    read,
    step_seed,
    xla_compiled,
)
from mtl_keras.weighting.base import WEIGHTINGS, GramWeighting


@xla_compiled(min_tasks=3)
def gradvac_coefficients_from_gram(gram_matrix, targets, orders=None, beta=0.01):
    """GradVac in coefficient form, with the update of the EMA similarity targets.

    For task `i` and every other task `j` (in `orders[i]`), with `g_i'` task `i`'s current gradient,
    `φ = cos(g_i', g_j)` and `φ̂ = targets[i, j]`: if `φ < φ̂`,

        g_i' ← g_i' + ||g_i'|| (φ̂ √(1 - φ²) - φ √(1 - φ̂²)) / (||g_j|| √(1 - φ̂²)) g_j,

    which raises the cosine to exactly `φ̂`; then `φ̂ ← (1 - β) φ̂ + β φ`. With all targets 0 this
    is PCGrad. Pairs involving a zero row are skipped and keep their target.

    Args:
        gram_matrix: float tensor `[T, T]`, `K = G Gᵀ`.
        targets: float tensor `[T, T]`, the EMA targets `φ̂`.
        orders: int tensor `[T]` or `[T, T]` of task orders (see `pcgrad_coefficients_from_gram`).
        beta: EMA rate `β` in `[0, 1]`.

    Returns:
        `(C, new_targets)`: `C` `[T, T]` with the modified gradients `C G`, and the targets `[T, T]`.
    """
    num_tasks = num_tasks_of(gram_matrix)
    dtype = gram_matrix.dtype
    if orders is None:
        orders = tf.range(num_tasks)
    orders = tf.cast(orders, tf.int32)
    if orders.shape.rank == 1:
        orders = tf.tile(orders[tf.newaxis], [num_tasks, 1])
    targets = tf.cast(targets, dtype)
    squared_norms = tf.linalg.diag_part(gram_matrix)
    norms = tf.sqrt(tf.maximum(squared_norms, 0.0))
    active = squared_norms > 0
    eye = tf.eye(num_tasks, dtype=dtype)
    rows, target_rows = [], []
    for i in range(num_tasks):
        coefficients = eye[i]
        target_row = targets[i]
        for k in range(num_tasks):
            j = orders[i, k]
            onehot = tf.one_hot(j, num_tasks, dtype=dtype)
            dot = tf.reduce_sum(coefficients * tf.gather(gram_matrix, j, axis=1))
            norm_i = tf.sqrt(tf.maximum(tf.reduce_sum(coefficients * tf.linalg.matvec(gram_matrix, coefficients)), 0.0))
            norm_j = tf.gather(norms, j)
            cosine = tf.clip_by_value(tf.math.divide_no_nan(dot, norm_i * norm_j), -1.0, 1.0)
            target = tf.reduce_sum(target_row * onehot)
            sin_target = tf.sqrt(tf.maximum(1.0 - tf.square(target), 0.0))
            sin_cosine = tf.sqrt(tf.maximum(1.0 - tf.square(cosine), 0.0))
            scale = tf.math.divide_no_nan(norm_i * (target * sin_cosine - cosine * sin_target), norm_j * sin_target)
            valid = tf.logical_and(tf.not_equal(j, i), tf.logical_and(active[i], tf.gather(active, j)))
            scale = tf.where(tf.logical_and(valid, cosine < target), scale, tf.zeros_like(scale))
            coefficients = coefficients + scale * onehot
            new_target = tf.where(valid, (1.0 - beta) * target + beta * cosine, target)
            target_row = target_row + (new_target - target) * onehot
        rows.append(coefficients)
        target_rows.append(target_row)
    return tf.stack(rows), tf.stack(target_rows)


def gradvac_weights_from_gram(gram_matrix, targets, orders=None, beta=0.01):
    """Task weights `w` `[T]` (`Gᵀ w` is the GradVac direction) and the new targets `[T, T]`, from `K = G Gᵀ`."""
    coefficients, new_targets = gradvac_coefficients_from_gram(gram_matrix, targets, orders, beta)
    return tf.reduce_sum(coefficients, axis=0), new_targets


def gradvac_weights(grads, targets, orders=None, beta=0.01):
    """Task weights `w` `[T]` (`Gᵀ w` is the GradVac direction) and the new targets `[T, T]`, for `grads` `[T, P]`."""
    return gradvac_weights_from_gram(gram(grads), targets, orders, beta)


gradvac_coefficients = gradvac_coefficients_from_gram  # former name


@WEIGHTINGS.register("gradvac")
@keras.saving.register_keras_serializable(package="mtl_keras")
class GradVac(GramWeighting):
    """Gradient Vaccine: moves each pair of task gradients towards their usual cosine similarity.

    GradVac keeps, for every ordered pair of tasks, an exponential moving average `φ̂_ij` of the
    cosine similarity of their gradients (non-trainable variables, starting at 0). When the current
    similarity falls below that target, `g_i` is moved along `g_j` until its cosine with `g_j` is
    `φ̂_ij` (see `gradvac_coefficients`); the update is `Σ_i g_i`. PCGrad is the special case of
    targets fixed at 0. Task orders are stateless random from `(seed, step)`. The paper can work per
    layer; here one set of targets is kept for the whole shared gradient vector.

    Args:
        beta: the EMA rate `β` in `[0, 1]`. Defaults to 0.01 (the paper's `1e-2`).
        seed: integer seed of the task orders. Defaults to 0.
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting=GradVac(beta=0.01))

    Reference:
        Wang, Tsvetkov, Firat & Cao, "Gradient Vaccine: Investigating and Improving Multi-task
        Optimization in Massively Multilingual Models", ICLR 2021.
    """

    def __init__(self, beta=0.01, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.beta = check_number("GradVac", "beta", beta, minimum=0, maximum=1)
        self.seed = check_int("GradVac", "seed", seed, minimum=0)

    def build_state(self, gradient_shape):
        self.similarity_targets = self.add_weight(
            shape=(self.num_tasks, self.num_tasks), initializer="zeros", trainable=False, name="similarity_targets"
        )

    def weights_from_gram(self, gram_matrix, losses, step):
        orders = random_orders(num_tasks_of(gram_matrix), step_seed(self.seed, step, salt=71))
        targets = tf.cast(read(self.similarity_targets), gram_matrix.dtype)
        coefficients, new_targets = gradvac_coefficients_from_gram(gram_matrix, targets, orders, self.beta)
        self.similarity_targets.assign(tf.cast(new_targets, self.similarity_targets.dtype))
        return tf.reduce_sum(coefficients, axis=0)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "seed": self.seed}
