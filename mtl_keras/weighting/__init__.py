"""Task-weighting strategies: fixed weights and adaptive / gradient-level methods."""

from mtl_keras.weighting.base import WEIGHTINGS, Weighting, get
from mtl_keras.weighting.static import StaticWeighting

__all__ = ["WEIGHTINGS", "Weighting", "StaticWeighting", "get"]
