"""Pre-trained parameters from outside: Keras applications and KerasHub backbones as shared trunks."""

import keras


def backbone_from_keras_application(name, input_shape, weights_path=None, weights=None, pooling="avg", trainable=True, **kwargs):
    """A Keras application (ResNet, MobileNet, EfficientNet, ...) without its top, as a shared body.

    Where pre-trained parameters come from, in the notes: ImageNet classifiers, language models
    trained on large corpora, any large and diverse data set. Put such a network under the
    heads of a `MultiTaskModel` (`body=...`, or a zoo model's trunk) and fine-tune it.

    The weights are read from a local file (`weights_path`, e.g. a `.weights.h5` file saved
    with `backbone.save_weights`), or fetched by Keras (`weights="imagenet"`; needs a network
    connection). By default the network is randomly initialised (`weights=None`).

    Args:
        name: the class name in `keras.applications`, e.g. `"MobileNetV3Small"`, `"ResNet50"`.
        input_shape: image shape without batch, e.g. `(96, 96, 3)`.
        weights_path: a local weights file to load (after building).
        weights: passed to the application (`None` or `"imagenet"`); ignored with `weights_path`.
        pooling: `"avg"` (default), `"max"` or `None` (feature maps).
        trainable: whether the backbone starts trainable. Defaults to True.
        **kwargs: more arguments of the application (e.g. `alpha`, `minimalistic`).

    Returns:
        A functional `keras.Model` mapping images to features (`include_top=False`).

    Example:

    >>> backbone = backbone_from_keras_application("MobileNetV3Small", (96, 96, 3),
    ...                                            weights_path="mobilenet.weights.h5")
    >>> model = mk.MultiTaskModel(tasks, body=backbone, input_shape=(96, 96, 3))
    """
    factory = getattr(keras.applications, name, None)
    if factory is None or not callable(factory) or isinstance(factory, type(keras)):
        available = sorted(n for n in dir(keras.applications) if n[:1].isupper())
        raise ValueError(f"Unknown Keras application '{name}'. Available: {available}")
    backbone = factory(
        include_top=False,
        weights=None if weights_path is not None else weights,
        input_shape=tuple(input_shape),
        pooling=pooling,
        **kwargs,
    )
    if weights_path is not None:
        backbone.load_weights(weights_path)
    backbone.trainable = bool(trainable)
    return backbone


def backbone_from_keras_hub(preset, load_weights=True, **kwargs):
    """A KerasHub backbone (e.g. a BERT-like text encoder or an image backbone) from a preset.

    `preset` is a KerasHub preset name or a local preset directory (offline use: save one with
    `backbone.save_to_preset(path)`). The backbone's output may be a dict (e.g.
    `sequence_output`, `pooled_output` for text encoders): wrap it in a small layer that picks
    the feature the heads should see before using it as a `MultiTaskModel` body.

    Args:
        preset: preset name or local directory.
        load_weights: load the preset's weights. Defaults to True.
        **kwargs: forwarded to `keras_hub.models.Backbone.from_preset`.

    Returns:
        A `keras_hub.models.Backbone`.
    """
    try:
        import keras_hub
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("backbone_from_keras_hub needs the keras-hub package: pip install keras-hub") from error
    return keras_hub.models.Backbone.from_preset(preset, load_weights=load_weights, **kwargs)
