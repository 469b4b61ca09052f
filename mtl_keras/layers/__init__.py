"""Sharing layers: how and where a multi-task network shares its parameters."""

from mtl_keras.layers.additive_conditioning import AdditiveConditioning
from mtl_keras.layers.base import TaskAwareLayer
from mtl_keras.layers.cgc import CGC
from mtl_keras.layers.concat_conditioning import ConcatConditioning
from mtl_keras.layers.conditioning import TaskConditioning
from mtl_keras.layers.cross_stitch import CrossStitch
from mtl_keras.layers.dselect_k import DSelectK
from mtl_keras.layers.film import FiLM
from mtl_keras.layers.heads import TaskHeads
from mtl_keras.layers.mmoe import MMoE
from mtl_keras.layers.mtan import MTAN
from mtl_keras.layers.multiplicative_conditioning import MultiplicativeConditioning
from mtl_keras.layers.ple import PLE
from mtl_keras.layers.residual_block import ResidualBlock
from mtl_keras.layers.shared_with_task_id import SharedWithTaskId
from mtl_keras.layers.soft_sharing import SoftSharing
from mtl_keras.layers.task_embedding import TaskEmbedding
from mtl_keras.layers.task_specific import TaskSpecific
from mtl_keras.layers.task_stack import TaskStack

__all__ = [
    "AdditiveConditioning",
    "CGC",
    "ConcatConditioning",
    "CrossStitch",
    "DSelectK",
    "FiLM",
    "MMoE",
    "MTAN",
    "MultiplicativeConditioning",
    "PLE",
    "ResidualBlock",
    "SharedWithTaskId",
    "SoftSharing",
    "TaskAwareLayer",
    "TaskConditioning",
    "TaskEmbedding",
    "TaskHeads",
    "TaskSpecific",
    "TaskStack",
]
