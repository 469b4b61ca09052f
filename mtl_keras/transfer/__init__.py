"""Transfer learning: fine-tune a trained multi-task model on new tasks, without the source data.

The notes' recipe: after solving source tasks `T_a`, reach a target task `T_b` from the
pre-trained parameters `θ` with `φ ← θ − α ∇_θ L(θ, D^tr)`, with no access to the source data
`D_a`. The common practices are options: a smaller learning rate, discriminative (layer-wise)
rates (`DiscriminativeOptimizer`, `layer_rates`), frozen early layers and gradual unfreezing
(`GradualUnfreezing`), a re-initialised last layer (fresh heads), and cross-validated
hyper-parameter search (`CrossValidatedSearch`).
"""

from mtl_keras.transfer.backbones import backbone_from_keras_application, backbone_from_keras_hub
from mtl_keras.transfer.fine_tune import FineTuner, clone_model, fine_tune, reinitialize_layers
from mtl_keras.transfer.groups import body_groups, layer_groups
from mtl_keras.transfer.layer_rates import DiscriminativeOptimizer, layer_rates
from mtl_keras.transfer.remap import StackedHeads, TaskRemap
from mtl_keras.transfer.search import CrossValidatedSearch
from mtl_keras.transfer.unfreezing import GradualUnfreezing

__all__ = [
    "CrossValidatedSearch",
    "DiscriminativeOptimizer",
    "FineTuner",
    "GradualUnfreezing",
    "StackedHeads",
    "TaskRemap",
    "backbone_from_keras_application",
    "backbone_from_keras_hub",
    "body_groups",
    "clone_model",
    "fine_tune",
    "layer_groups",
    "layer_rates",
    "reinitialize_layers",
]
