"""`ResidualBlock` (the zoo's ResNet block, in `mtl_keras.layers`) against its closed form.

Its Keras contract (and `TaskStack`'s) is checked with the other layers in `test_layer_contract.py`.
"""

import numpy as np

from mtl_keras import layers


def test_residual_block_computes_the_basic_block():
    """Identity shortcut: relu(x + BN(conv2(relu(BN(conv1(x)))))), inference BN at init = x / sqrt(1 + eps)."""
    block = layers.ResidualBlock(2)
    x = np.random.default_rng(0).normal(size=(1, 4, 4, 2)).astype("float32")
    out = np.asarray(block(x, training=False))
    scale = 1.0 / np.sqrt(1.0 + block.bn1.epsilon)
    h = np.maximum(np.asarray(block.conv1(x)) * scale, 0)
    want = np.maximum(x + np.asarray(block.conv2(h)) * scale, 0)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    assert block.shortcut is None


def test_residual_block_projects_when_shape_changes():
    block = layers.ResidualBlock(4, strides=2)
    out = block(np.ones((2, 6, 6, 3), "float32"), training=False)
    assert tuple(out.shape) == (2, 3, 3, 4) and block.shortcut is not None
    assert tuple(block.shortcut.kernel.shape) == (1, 1, 3, 4)
