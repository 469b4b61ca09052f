"""MMoE: multi-gate mixture of experts."""

import keras

from mtl_keras.layers._utils import check_units, make_mlp, mix, split_inputs, split_shapes
from mtl_keras.layers.base import TaskAwareLayer


@keras.saving.register_keras_serializable(package="mtl_keras")
class MMoE(TaskAwareLayer):
    """Multi-gate mixture of experts (Ma et al. 2018).

    `E` shared experts `f_e` and one softmax gate per task:

        g_i(x) = softmax(W_i x + b_i)  ∈ Δ^E,        y_i = Σ_e g_i(x)_e · f_e(x)

    The experts are shared; the gate `(W_i, b_i)` belongs to task `i`. Each task learns its own
    mixture of the experts, so tasks that are not related can use different experts.

    Args:
        num_tasks: the number of tasks `T`.
        num_experts: `E >= 1`.
        expert_units: sizes of each expert's dense layers, e.g. `(32, 16)`; the output has
            `expert_units[-1]` features.
        expert_activation: activation of the expert layers. Defaults to `"relu"`.
        kernel_initializer: initializer of the dense kernels.

    Input shape:
        `(batch, ..., features)`, or with `task_index=None` a list of `num_tasks` such tensors.

    Output shape:
        `(batch, ..., expert_units[-1])`; a list of `num_tasks` with `task_index=None`.

    Example:

    >>> mmoe = MMoE(num_tasks=2, num_experts=4, expert_units=(16,))
    >>> [tuple(y.shape) for y in mmoe(keras.ops.ones((8, 10)))]
    [(8, 16), (8, 16)]
    >>> [tuple(g.shape) for g in mmoe.gate_weights(keras.ops.ones((8, 10)))]
    [(8, 4), (8, 4)]
    """

    def __init__(self, num_tasks, num_experts, expert_units=(16,), expert_activation="relu", kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(num_tasks, **kwargs)
        if int(num_experts) != num_experts or num_experts < 1:
            raise ValueError(f"MMoE: num_experts must be a positive integer. Received: num_experts={num_experts}")
        self.num_experts = int(num_experts)
        self.expert_units = check_units("MMoE", "expert_units", expert_units)
        self.expert_activation = expert_activation
        self.kernel_initializer = keras.initializers.serialize(keras.initializers.get(kernel_initializer))
        self.experts = [
            make_mlp(self.expert_units, expert_activation, self.kernel_initializer, name=f"expert{e}") for e in range(self.num_experts)
        ]
        self.gates = [
            keras.layers.Dense(self.num_experts, kernel_initializer=self.kernel_initializer, name=f"gate{i}") for i in range(self.num_tasks)
        ]

    def build(self, input_shape):
        shapes = split_shapes(self, input_shape)
        for expert in self.experts:
            expert.build(shapes[0])
        for gate, shape in zip(self.gates, shapes, strict=True):
            gate.build(shape)
        self.built = True

    def gate_weights(self, inputs, task_index=None):
        """The gates `g_i(x)` (softmax over the experts, shape `(batch, ..., E)`); a list with `task_index=None`."""
        if task_index is not None:
            self.check_task_index(task_index)
            return keras.ops.softmax(self.gates[task_index](inputs), axis=-1)
        return [keras.ops.softmax(gate(x), axis=-1) for gate, x in zip(self.gates, split_inputs(self, inputs), strict=True)]

    def call(self, inputs, task_index=None):
        if task_index is not None:
            self.check_task_index(task_index)
            return mix(self.gate_weights(inputs, task_index), [expert(inputs) for expert in self.experts])
        if isinstance(inputs, (list, tuple)):
            return [self.call(x, task_index=i) for i, x in enumerate(split_inputs(self, inputs))]
        experts = [expert(inputs) for expert in self.experts]  # one pass for all tasks
        return [mix(gate, experts) for gate in self.gate_weights(inputs)]

    def compute_output_shape(self, input_shape, task_index=None):
        if task_index is not None:
            return tuple(input_shape[:-1]) + (self.expert_units[-1],)
        return [tuple(s[:-1]) + (self.expert_units[-1],) for s in split_shapes(self, input_shape)]

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        return list(self.gates[task_index].weights)

    def get_config(self):
        return {
            **super().get_config(),
            "num_experts": self.num_experts,
            "expert_units": self.expert_units,
            "expert_activation": self.expert_activation,
            "kernel_initializer": self.kernel_initializer,
        }
