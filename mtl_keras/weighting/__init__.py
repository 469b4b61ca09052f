"""Task-weighting strategies: fixed weights and adaptive / gradient-level methods.

Loss-level: `static`, `uncertainty`, `dwa`, `rlw`, `famo`. Gradient-level (they combine the
per-task gradients of the shared parameters): `gradnorm`, `pcgrad`, `mgda`, `mgda_ub`, `cagrad`,
`imtl`, `nash_mtl`, `aligned_mtl`, `graddrop`, `gradvac`, `upgrad`. Each method's maths is also a
standalone function on a `[T, P]` gradient matrix (e.g. `pcgrad_direction`, `min_norm_weights`).
"""

from mtl_keras.weighting.aligned_mtl import AlignedMTL, aligned_mtl_matrix, aligned_mtl_weights
from mtl_keras.weighting.base import WEIGHTINGS, Weighting, get
from mtl_keras.weighting.cagrad import CAGrad, cagrad_dual_weights, cagrad_weights, cagrad_weights_from_gram
from mtl_keras.weighting.dwa import DynamicWeightAverage, dwa_weights
from mtl_keras.weighting.famo import FAMO, famo_logit_gradient, famo_objective
from mtl_keras.weighting.graddrop import GradDrop, graddrop_direction
from mtl_keras.weighting.gradnorm import GradNorm, gradnorm_weight_gradient
from mtl_keras.weighting.gradvac import GradVac, gradvac_coefficients, gradvac_weights
from mtl_keras.weighting.imtl import IMTL, imtl_weights, imtl_weights_from_gram
from mtl_keras.weighting.mgda import (
    MGDA,
    MGDAUB,
    mgda_weights,
    mgda_weights_from_gram,
    min_norm_two,
    min_norm_weights,
    min_norm_weights_from_gram,
)
from mtl_keras.weighting.nash_mtl import NashMTL, nash_weights, nash_weights_from_gram
from mtl_keras.weighting.pcgrad import PCGrad, pcgrad_coefficients, pcgrad_direction, pcgrad_weights
from mtl_keras.weighting.rlw import RandomLossWeighting, random_loss_weights
from mtl_keras.weighting.static import StaticWeighting
from mtl_keras.weighting.uncertainty import UncertaintyWeighting, uncertainty_objective
from mtl_keras.weighting.upgrad import UPGrad, dual_cone_projection_weights, upgrad_weights, upgrad_weights_from_gram

__all__ = [
    "WEIGHTINGS",
    "Weighting",
    "get",
    "StaticWeighting",
    "UncertaintyWeighting",
    "DynamicWeightAverage",
    "RandomLossWeighting",
    "FAMO",
    "GradNorm",
    "PCGrad",
    "MGDA",
    "MGDAUB",
    "CAGrad",
    "IMTL",
    "NashMTL",
    "AlignedMTL",
    "GradDrop",
    "GradVac",
    "UPGrad",
    "aligned_mtl_matrix",
    "aligned_mtl_weights",
    "cagrad_dual_weights",
    "cagrad_weights",
    "cagrad_weights_from_gram",
    "dual_cone_projection_weights",
    "dwa_weights",
    "famo_logit_gradient",
    "famo_objective",
    "graddrop_direction",
    "gradnorm_weight_gradient",
    "gradvac_coefficients",
    "gradvac_weights",
    "imtl_weights",
    "imtl_weights_from_gram",
    "mgda_weights",
    "mgda_weights_from_gram",
    "min_norm_two",
    "min_norm_weights",
    "min_norm_weights_from_gram",
    "nash_weights",
    "nash_weights_from_gram",
    "pcgrad_coefficients",
    "pcgrad_direction",
    "pcgrad_weights",
    "random_loss_weights",
    "uncertainty_objective",
    "upgrad_weights",
    "upgrad_weights_from_gram",
]
