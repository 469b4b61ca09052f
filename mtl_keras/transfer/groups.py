"""Layer groups of a multi-task model, bottom to top: the unit of layer-wise rates and unfreezing."""

import keras

from mtl_keras import _compat
from mtl_keras.transfer.remap import TaskRemap


def _has_weights(layer):
    return bool(layer.weights)


def _unwrap(body):
    while isinstance(body, TaskRemap):
        body = body.layer
    return body


def _children(layer):
    return [c for c in _compat.flatten_layers(layer, include_self=False, recursive=False) if _has_weights(c)]


def _expand(layer):
    """Depth-ordered groups inside one layer (each group a list of layers)."""
    if isinstance(layer, keras.Model) and hasattr(layer, "layers") and not _is_multitask(layer):
        inner = [sub for sub in layer.layers if _has_weights(sub)]
        if inner:
            return [[sub] for sub in inner]
    copies = getattr(layer, "copies", None)
    if copies and all(isinstance(c, keras.Model) for c in copies):
        per_copy = [[sub for sub in c.layers if _has_weights(sub)] for c in copies]
        if len({len(p) for p in per_copy}) == 1 and per_copy[0]:
            return [list(group) for group in zip(*per_copy)]
    children = _children(layer)
    if len(children) > 1 and not _has_own_weights(layer, children):
        return [[c] for c in children]
    return [[layer]]


def _has_own_weights(layer, children):
    child_ids = {id(v) for c in children for v in c.weights}
    return any(id(v) not in child_ids for v in layer.weights)


def _is_multitask(layer):
    from mtl_keras.model import MultiTaskModel

    return isinstance(layer, MultiTaskModel)


def body_groups(model):
    """The body's layer groups, bottom (input side) to top.

    The groups are the units of discriminative learning rates and of gradual unfreezing:

    - a Keras `Sequential` or functional body (e.g. a Keras application): one group per layer
      that has weights, in order;
    - copies per task (`TaskSpecific`, `SoftSharing`) of a Sequential: group `k` is layer `k` of
      every copy;
    - any other layer: its direct sub-layers with weights, else the layer itself.

    Args:
        model: a `mtl_keras.MultiTaskModel` (built).

    Returns:
        A list of groups, each a list of Keras layers; empty for a model without body.
    """
    if model.body is None:
        return []
    return _expand(_unwrap(model.body))


def layer_groups(model):
    """All groups of a model, bottom to top: the body's groups (`body_groups`), then the heads.

    Args:
        model: a `mtl_keras.MultiTaskModel` (built).

    Returns:
        A list of groups (lists of Keras layers); the last one is `[model.heads]`.
    """
    return body_groups(model) + [[model.heads]]


def find_layers(model, names):
    """The layers of `model` (searched recursively) with the given names, in the order given.

    Raises:
        ValueError: naming the names that match no layer, with the available names.
    """
    by_name = {}
    for layer in _compat.flatten_layers(model, include_self=False, recursive=True):
        by_name.setdefault(layer.name, layer)
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(
            f"No layer named {missing} in model '{model.name}'. "
            f"Layers with weights: {sorted(n for n, layer in by_name.items() if layer.weights)}"
        )
    return [by_name[n] for n in names]


def set_trainable(layers, trainable):
    """Sets `trainable` on each layer (and so on its weights and sub-layers)."""
    for layer in layers:
        layer.trainable = bool(trainable)
