"""Building blocks of the zoo, now in `mtl_keras.layers` (kept here so existing imports work).

`TaskStack` chains plain Keras layers (shared) and `mtl_keras.layers.TaskAwareLayer`s into one
task-aware body for `MultiTaskModel`; `ResidualBlock` is the basic block of the small ResNet
backbones. Both are registered for serialization under `mtl_keras>...` and defined in
`mtl_keras.layers`, so zoo models reload from `.keras` files after `import mtl_keras` alone.
"""

from mtl_keras.layers.residual_block import ResidualBlock
from mtl_keras.layers.task_stack import MODES, TaskStack

__all__ = ["MODES", "ResidualBlock", "TaskStack"]
