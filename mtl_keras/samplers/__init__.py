"""Task samplers: which tasks each training step trains (uniform, proportional, annealed)."""

from mtl_keras.samplers.annealed import AnnealedSampler
from mtl_keras.samplers.base import SAMPLERS, TaskSampler, check_sampling, get
from mtl_keras.samplers.proportional import ProportionalSampler
from mtl_keras.samplers.uniform import UniformSampler

__all__ = ["SAMPLERS", "TaskSampler", "check_sampling", "UniformSampler", "ProportionalSampler", "AnnealedSampler", "get"]
