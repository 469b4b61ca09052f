"""`ResidualBlock`: the basic block of the zoo's small ResNet backbones."""

import numbers

import keras


@keras.saving.register_keras_serializable(package="mtl_keras")
class ResidualBlock(keras.layers.Layer):
    """The basic block of a ResNet (He et al. 2016): `y = relu(x' + BN(conv(relu(BN(conv(x))))))`.

    Two 3x3 convolutions with batch normalisation; the shortcut `x'` is `x`, or a strided 1x1
    convolution (with batch normalisation) when the stride or the channel count changes.

    Args:
        filters: output channels.
        strides: stride of the first convolution (and of the shortcut). Defaults to 1.
        activation: activation after the first convolution and after the sum. Defaults to `"relu"`.

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        `(batch, height / strides, width / strides, filters)`.

    Example:

    >>> tuple(ResidualBlock(8, strides=2)(keras.ops.ones((2, 16, 16, 3))).shape)
    (2, 8, 8, 8)
    """

    def __init__(self, filters, strides=1, activation="relu", **kwargs):
        super().__init__(**kwargs)
        for name, value in (("filters", filters), ("strides", strides)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or int(value) != value or value < 1:
                raise ValueError(f"ResidualBlock: {name} must be a positive integer. Received: {name}={value!r}")
        self.filters = int(filters)
        self.strides = int(strides)
        self.activation = activation
        self.conv1 = keras.layers.Conv2D(self.filters, 3, strides=self.strides, padding="same", use_bias=False, name="conv1")
        self.bn1 = keras.layers.BatchNormalization(name="bn1")
        self.conv2 = keras.layers.Conv2D(self.filters, 3, padding="same", use_bias=False, name="conv2")
        self.bn2 = keras.layers.BatchNormalization(name="bn2")
        self.act = keras.layers.Activation(activation, name="act")
        self.shortcut = None
        self.shortcut_bn = None

    def build(self, input_shape):
        shape = tuple(input_shape)
        self.conv1.build(shape)
        mid = self.conv1.compute_output_shape(shape)
        self.bn1.build(mid)
        self.conv2.build(mid)
        self.bn2.build(mid)
        if self.strides != 1 or shape[-1] != self.filters:
            self.shortcut = keras.layers.Conv2D(self.filters, 1, strides=self.strides, use_bias=False, name="shortcut")
            self.shortcut_bn = keras.layers.BatchNormalization(name="shortcut_bn")
            self.shortcut.build(shape)
            self.shortcut_bn.build(mid)
        self.built = True

    def call(self, inputs, training=None):
        h = self.act(self.bn1(self.conv1(inputs), training=training))
        h = self.bn2(self.conv2(h), training=training)
        skip = inputs if self.shortcut is None else self.shortcut_bn(self.shortcut(inputs), training=training)
        return self.act(h + skip)

    def compute_output_shape(self, input_shape):
        return self.conv1.compute_output_shape(tuple(input_shape))[:-1] + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides, "activation": self.activation}
