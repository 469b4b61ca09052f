"""The Gram matrix from per-variable gradient blocks, and the direction combined back block by block."""

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import weighting as W


def gram(grads):
    """`G Gᵀ`, computed here rather than with the library's own helper."""
    return tf.matmul(grads, grads, transpose_b=True)


def combine(weights, grads):
    """`Gᵀ w` for weights `[T]` and gradients `[T, P]`."""
    return tf.linalg.matvec(grads, tf.cast(weights, grads.dtype), transpose_a=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_blocks_give_the_gram_matrix_and_direction_of_the_concatenation(dtype):
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,), (3, 2, 2), ()]  # a kernel, a bias, a conv kernel, a scalar
    blocks = [tf.constant(rng.normal(size=(5, *shape)), dtype) for shape in shapes]
    matrix = tf.concat([tf.reshape(b, [5, -1]) for b in blocks], axis=1)  # [T, P]
    np.testing.assert_allclose(W.gram_from_blocks(blocks).numpy(), gram(matrix).numpy(), rtol=1e-5)
    weights = W.upgrad_weights_from_gram(W.gram_from_blocks(blocks))
    directions = W.combine_blocks(weights, blocks)
    assert [tuple(d.shape) for d in directions] == shapes
    flat = tf.concat([tf.reshape(d, [-1]) for d in directions], axis=0)
    np.testing.assert_allclose(flat.numpy(), combine(weights, matrix).numpy(), rtol=1e-5, atol=1e-6)


def test_blocks_work_inside_a_compiled_function():
    blocks = [tf.ones([2, 3, 4]), 2.0 * tf.ones([2, 4])]

    @tf.function(jit_compile=True)
    def run(blocks):
        kernel = W.gram_from_blocks(blocks)
        return kernel, W.combine_blocks(tf.constant([1.0, -1.0]), blocks)

    kernel, directions = run(blocks)
    np.testing.assert_allclose(kernel.numpy(), np.full((2, 2), 12.0 + 16.0))
    np.testing.assert_allclose(directions[0].numpy(), np.zeros((3, 4)))
