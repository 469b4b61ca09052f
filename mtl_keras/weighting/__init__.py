"""Task-weighting strategies: fixed weights and adaptive loss-level / gradient-level methods.

Three base classes decide a strategy's kind: `LossWeighting` (weights or transforms the losses:
`static`, `uncertainty`, `dwa`, `rlw`, `famo`, `gls`, `stch`), `GradientWeighting` (combines the
per-task gradients of the shared part: `graddrop`, `db_mtl`, `excess_mtl`, `moco`) and its special
case `GramWeighting` (direction `Gᵀ w` with `w` from the Gram matrix `G Gᵀ`: `gradnorm`, `pcgrad`,
`mgda`, `mgda_ub`, `cagrad`, `imtl`, `nash_mtl`, `aligned_mtl`, `gradvac`, `upgrad`, `fairgrad`,
`sdmgrad`, `config`).

Every strategy is callable on a `[T, P]` gradient matrix: `PCGrad()(G)` returns a
`Combination(direction, weights)`. The maths of each method is also a function, named by one
rule: `<method>_weights(G, ...)` on the `[T, P]` matrix and `<method>_weights_from_gram(K, ...)`
on its Gram matrix return weights `w` with direction `Gᵀ w`; `<method>_direction(G, ...)` where the
direction is not `Gᵀ w` (GradDrop); `<method>_objective(losses, ...)` for loss-level methods
(objective and effective weights); other building blocks on the Gram matrix end in `_from_gram`.
"""

from mtl_keras.weighting._ops import combine_blocks, gram_from_blocks
from mtl_keras.weighting.aligned_mtl import (
    AlignedMTL,
    aligned_mtl_matrix,
    aligned_mtl_matrix_from_gram,
    aligned_mtl_weights,
    aligned_mtl_weights_from_gram,
)
from mtl_keras.weighting.base import (
    WEIGHTINGS,
    Combination,
    GradientWeighting,
    GramWeighting,
    LossWeighting,
    Weighting,
    get,
)
from mtl_keras.weighting.cagrad import (
    CAGrad,
    cagrad_dual_from_gram,
    cagrad_dual_weights,
    cagrad_weights,
    cagrad_weights_from_gram,
)
from mtl_keras.weighting.config import ConFIG, config_weights, config_weights_from_gram
from mtl_keras.weighting.db_mtl import DBMTL, db_mtl_scales, db_mtl_weights
from mtl_keras.weighting.dwa import DynamicWeightAverage, dwa_weights
from mtl_keras.weighting.excess_mtl import ExcessMTL, excess_mtl_risks, excess_mtl_weight_update
from mtl_keras.weighting.fairgrad import FairGrad, fairgrad_weights, fairgrad_weights_from_gram
from mtl_keras.weighting.famo import FAMO, famo_logit_gradient, famo_objective
from mtl_keras.weighting.gls import GLS, gls_objective
from mtl_keras.weighting.graddrop import GradDrop, graddrop_direction
from mtl_keras.weighting.gradnorm import GradNorm, gradnorm_weight_gradient
from mtl_keras.weighting.gradvac import (
    GradVac,
    gradvac_coefficients,
    gradvac_coefficients_from_gram,
    gradvac_weights,
    gradvac_weights_from_gram,
)
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
from mtl_keras.weighting.moco import MoCo, moco_lambda_update
from mtl_keras.weighting.nash_mtl import (
    NashMTL,
    nash_mtl_weights,
    nash_mtl_weights_from_gram,
    nash_weights,
    nash_weights_from_gram,
)
from mtl_keras.weighting.pcgrad import (
    PCGrad,
    pcgrad_coefficients,
    pcgrad_coefficients_from_gram,
    pcgrad_direction,
    pcgrad_weights,
    pcgrad_weights_from_gram,
)
from mtl_keras.weighting.rlw import RandomLossWeighting, random_loss_weights, rlw_weights
from mtl_keras.weighting.sdmgrad import SDMGrad, sdmgrad_weights, sdmgrad_weights_from_gram
from mtl_keras.weighting.static import StaticWeighting
from mtl_keras.weighting.stch import STCH, stch_objective
from mtl_keras.weighting.uncertainty import UncertaintyWeighting, uncertainty_objective
from mtl_keras.weighting.upgrad import (
    UPGrad,
    dual_cone_projection_from_gram,
    dual_cone_projection_weights,
    upgrad_weights,
    upgrad_weights_from_gram,
)

#: Former names, kept as aliases: `nash_weights`, `nash_weights_from_gram`, `random_loss_weights`,
#: `pcgrad_coefficients`, `gradvac_coefficients`, `cagrad_dual_weights`, `aligned_mtl_matrix`,
#: `dual_cone_projection_weights`, `pcgrad_direction` (importable, not in `__all__`).
ALIASES = {
    "nash_weights": nash_weights,
    "nash_weights_from_gram": nash_weights_from_gram,
    "random_loss_weights": random_loss_weights,
    "pcgrad_coefficients": pcgrad_coefficients,
    "gradvac_coefficients": gradvac_coefficients,
    "cagrad_dual_weights": cagrad_dual_weights,
    "aligned_mtl_matrix": aligned_mtl_matrix,
    "dual_cone_projection_weights": dual_cone_projection_weights,
    "pcgrad_direction": pcgrad_direction,
}

__all__ = [
    # registry and base classes
    "WEIGHTINGS",
    "Combination",
    "Weighting",
    "LossWeighting",
    "GradientWeighting",
    "GramWeighting",
    "get",
    # loss-level strategies
    "StaticWeighting",
    "UncertaintyWeighting",
    "DynamicWeightAverage",
    "RandomLossWeighting",
    "FAMO",
    "GLS",
    "STCH",
    # gradient-level strategies
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
    "FairGrad",
    "DBMTL",
    "ExcessMTL",
    "SDMGrad",
    "ConFIG",
    "MoCo",
    # weights on the [T, P] matrix and on its Gram matrix
    "aligned_mtl_weights",
    "aligned_mtl_weights_from_gram",
    "cagrad_weights",
    "cagrad_weights_from_gram",
    "config_weights",
    "config_weights_from_gram",
    "db_mtl_weights",
    "fairgrad_weights",
    "fairgrad_weights_from_gram",
    "gradvac_weights",
    "gradvac_weights_from_gram",
    "imtl_weights",
    "imtl_weights_from_gram",
    "mgda_weights",
    "mgda_weights_from_gram",
    "nash_mtl_weights",
    "nash_mtl_weights_from_gram",
    "pcgrad_weights",
    "pcgrad_weights_from_gram",
    "sdmgrad_weights",
    "sdmgrad_weights_from_gram",
    "upgrad_weights",
    "upgrad_weights_from_gram",
    "graddrop_direction",
    # loss-level maths
    "dwa_weights",
    "famo_objective",
    "famo_logit_gradient",
    "gls_objective",
    "rlw_weights",
    "stch_objective",
    "uncertainty_objective",
    # building blocks
    "aligned_mtl_matrix_from_gram",
    "cagrad_dual_from_gram",
    "db_mtl_scales",
    "dual_cone_projection_from_gram",
    "excess_mtl_risks",
    "excess_mtl_weight_update",
    "gradnorm_weight_gradient",
    "gradvac_coefficients_from_gram",
    "min_norm_two",
    "min_norm_weights",
    "min_norm_weights_from_gram",
    "moco_lambda_update",
    "pcgrad_coefficients_from_gram",
    "gram_from_blocks",
    "combine_blocks",
]
