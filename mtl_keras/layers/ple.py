"""PLE: progressive layered extraction, stacked CGC levels."""

import keras

from mtl_keras.layers._utils import check_units
from mtl_keras.layers.base import TaskAwareLayer
from mtl_keras.layers.cgc import CGC


@keras.saving.register_keras_serializable(package="mtl_keras")
class PLE(TaskAwareLayer):
    """Progressive layered extraction (Tang et al. 2020): `L` stacked `CGC` levels.

    Level `l` has task experts and shared experts as in `CGC`. Task `i`'s experts and gate at
    level `l` read task `i`'s output of level `l − 1`; the shared experts read the shared output
    of level `l − 1`, which a shared gate mixes from *all* experts of that level:

        y_i^l = Σ_k g_i^l(y_i^{l−1})_k S_i^l,       y_s^l = Σ_k g_s^l(y_s^{l−1})_k S^l,

    with `y_i^0 = y_s^0 = x`, `S_i^l` task `i`'s and the shared experts, `S^l` all experts.
    The last level has no shared gate. Task `i` owns its experts and gates at every level.

    Args:
        num_tasks: the number of tasks `T`.
        num_levels: `L >= 1` (`L = 1` is a `CGC`). Defaults to 2.
        num_task_experts: experts per task and level. Defaults to 1.
        num_shared_experts: shared experts per level. Defaults to 1.
        expert_units: sizes of each expert's dense layers; the output has `expert_units[-1]` features.
        expert_activation: activation of the expert layers. Defaults to `"relu"`.
        kernel_initializer: initializer of the dense kernels.

    Input shape:
        `(batch, ..., features)`: one input seen by every task.

    Output shape:
        `(batch, ..., expert_units[-1])`; a list of `num_tasks` with `task_index=None`.

    Example:

    >>> ple = PLE(num_tasks=2, num_levels=2, expert_units=(8,))
    >>> [tuple(y.shape) for y in ple(keras.ops.ones((4, 6)))]
    [(4, 8), (4, 8)]
    """

    def __init__(
        self,
        num_tasks,
        num_levels=2,
        num_task_experts=1,
        num_shared_experts=1,
        expert_units=(16,),
        expert_activation="relu",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(num_tasks, **kwargs)
        if int(num_levels) != num_levels or num_levels < 1:
            raise ValueError(f"PLE: num_levels must be a positive integer. Received: num_levels={num_levels}")
        self.num_levels = int(num_levels)
        self.num_task_experts = num_task_experts
        self.num_shared_experts = num_shared_experts
        self.expert_units = check_units("PLE", "expert_units", expert_units)
        self.expert_activation = expert_activation
        self.kernel_initializer = keras.initializers.serialize(keras.initializers.get(kernel_initializer))
        self.levels = [
            CGC(
                self.num_tasks,
                num_task_experts=num_task_experts,
                num_shared_experts=num_shared_experts,
                expert_units=self.expert_units,
                expert_activation=expert_activation,
                kernel_initializer=self.kernel_initializer,
                shared_gate=level < self.num_levels - 1,
                name=f"level{level}",
            )
            for level in range(self.num_levels)
        ]
        self.num_task_experts = self.levels[0].num_task_experts
        self.num_shared_experts = self.levels[0].num_shared_experts

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            raise ValueError(f"PLE takes one input shared by all tasks. Received: {len(input_shape)} inputs")
        shape = tuple(input_shape)
        for level in self.levels:
            level.build(shape)
            shape = shape[:-1] + (self.expert_units[-1],)
        self.built = True

    def call(self, inputs, task_index=None):
        if isinstance(inputs, (list, tuple)):
            raise ValueError(f"PLE takes one input shared by all tasks. Received: {len(inputs)} inputs")
        if task_index is not None:
            self.check_task_index(task_index)
        task_inputs, shared = [inputs] * self.num_tasks, inputs
        for level in self.levels[:-1]:
            task_inputs, shared = level.extract(task_inputs, shared)
        outputs, _ = self.levels[-1].extract(task_inputs, shared, task_index=task_index)
        return outputs if task_index is None else outputs[task_index]

    def compute_output_shape(self, input_shape, task_index=None):
        shape = tuple(input_shape[:-1]) + (self.expert_units[-1],)
        return shape if task_index is not None else [shape] * self.num_tasks

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        return [v for level in self.levels for v in level.task_variables(task_index)]

    def get_config(self):
        return {
            **super().get_config(),
            "num_levels": self.num_levels,
            "num_task_experts": self.num_task_experts,
            "num_shared_experts": self.num_shared_experts,
            "expert_units": self.expert_units,
            "expert_activation": self.expert_activation,
            "kernel_initializer": self.kernel_initializer,
        }
