"""Aligned-MTL (Senushkin, Patakin, Kuznetsov & Konushin, CVPR 2023)."""

import keras
import numpy as np
import tensorflow as tf

from mtl_keras.weighting._ops import gram, num_tasks_of
from mtl_keras.weighting.base import WEIGHTINGS, GramWeighting


def aligned_mtl_matrix_from_gram(gram_matrix):
    """The `[T, T]` matrix `B` such that `B G` is the aligned gradient matrix of Aligned-MTL.

    With the eigen-decomposition `G Gᵀ = V Λ Vᵀ` (so `G = V Σ Uᵀ` with `Σ = Λ^½`), the aligned matrix
    `Ĝ = σ_min V Uᵀ` has orthogonal rows of equal norm (condition number 1) and is the closest such
    matrix to `G`; it equals `B G` with `B = σ_min V Σ⁻¹ Vᵀ`. Eigenvalues below
    `λ_max · T · ε` (`ε` the dtype's machine epsilon) are treated as zero (rank-deficient `G`, zero rows), and `σ_min` is the
    smallest *retained* singular value. All-zero input gives `B = 0`.

    Args:
        gram_matrix: float tensor `[T, T]`.

    Returns:
        Float tensor `[T, T]`.
    """
    num_tasks = num_tasks_of(gram_matrix)
    eigenvalues, eigenvectors = tf.linalg.eigh(gram_matrix)
    epsilon = float(np.finfo(gram_matrix.dtype.as_numpy_dtype).eps)
    tolerance = tf.reduce_max(eigenvalues) * num_tasks * epsilon
    keep = tf.logical_and(eigenvalues > tolerance, eigenvalues > 0)
    safe = tf.where(keep, eigenvalues, tf.ones_like(eigenvalues))
    inverse_sqrt = tf.where(keep, tf.math.rsqrt(safe), tf.zeros_like(eigenvalues))
    smallest = tf.reduce_min(
        tf.where(keep, eigenvalues, tf.fill(tf.shape(eigenvalues), tf.constant(np.inf, eigenvalues.dtype)))
    )
    sigma_min = tf.where(tf.reduce_any(keep), tf.sqrt(tf.where(tf.reduce_any(keep), smallest, 0.0)), 0.0)
    return sigma_min * tf.matmul(eigenvectors * inverse_sqrt[tf.newaxis, :], eigenvectors, transpose_b=True)


def aligned_mtl_weights_from_gram(gram_matrix, task_weights=None):
    """Task weights `B w` `[T]` from `K = G Gᵀ` (`w` = `task_weights`, ones by default): the direction is `Ĝᵀ w = Gᵀ (B w)`."""
    matrix = aligned_mtl_matrix_from_gram(gram_matrix)
    if task_weights is None:
        task_weights = tf.ones([num_tasks_of(gram_matrix)], gram_matrix.dtype)
    return tf.linalg.matvec(matrix, tf.cast(task_weights, gram_matrix.dtype))


def aligned_mtl_weights(grads, task_weights=None):
    """Task weights `B w` `[T]` for `grads` `[T, P]` (see `aligned_mtl_weights_from_gram`)."""
    return aligned_mtl_weights_from_gram(gram(grads), task_weights)


aligned_mtl_matrix = aligned_mtl_matrix_from_gram  # former name


@WEIGHTINGS.register("aligned_mtl")
@keras.saving.register_keras_serializable(package="mtl_keras")
class AlignedMTL(GramWeighting):
    """Aligned-MTL: aligns the principal components of the task gradients to remove conflict and dominance.

    The gradient matrix `G` (`T` rows) is replaced by the closest matrix whose condition number is
    1 (orthogonal rows, all singular values equal to the smallest one `σ_min`), computed from the
    eigen-decomposition of the Gram matrix `G Gᵀ = V Λ Vᵀ`:

        Ĝ = σ_min V Λ^{-½} Vᵀ G,   d = Ĝᵀ w,

    with `w` the tasks' own weights (`Task.weight`, 1 by default). Stable on rank-deficient or
    zero rows (those directions are dropped). Reported task weights are `σ_min V Λ^{-½} Vᵀ w`.

    Args:
        uses_representation: see `Weighting`. Defaults to False.
        **kwargs: forwarded to `Weighting`.

    Example:

    >>> model.compile(optimizer="adam", weighting="aligned_mtl")

    Reference:
        Senushkin, Patakin, Kuznetsov & Konushin, "Independent Component Alignment for Multi-Task
        Learning", CVPR 2023.
    """

    def weights_from_gram(self, gram_matrix, losses, step):
        return aligned_mtl_weights_from_gram(gram_matrix, tf.constant(self.task_weights, gram_matrix.dtype))
