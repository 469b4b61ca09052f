"""Sharing layers: how and where a multi-task network shares its parameters."""

from mtl_keras.layers.base import TaskAwareLayer
from mtl_keras.layers.heads import TaskHeads

__all__ = ["TaskAwareLayer", "TaskHeads"]
