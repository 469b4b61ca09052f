"""CGC: customized gate control, one extraction level with shared and task-specific experts."""

import keras

from mtl_keras.layers._utils import check_units, make_mlp, mix, split_inputs, split_shapes
from mtl_keras.layers.base import TaskAwareLayer


@keras.saving.register_keras_serializable(package="mtl_keras")
class CGC(TaskAwareLayer):
    """Customized gate control (Tang et al. 2020): shared experts plus experts owned by each task.

    Task `i` has `K_i` experts of its own `f_{i,k}`, all tasks share `K_s` experts `f_{s,k}`, and
    task `i`'s gate mixes only its own and the shared experts:

        S_i(x) = [f_{i,1}(x), …, f_{i,K_i}(x), f_{s,1}(x), …, f_{s,K_s}(x)]
        y_i = Σ_k g_i(x)_k S_i(x)_k,       g_i(x) = softmax(W_i x + b_i)

    With `shared_gate=True` (inner levels of `PLE`) a shared gate mixes *all* experts into a
    shared output `y_s` that feeds the next level's shared experts. Task `i` owns its experts and
    its gate; the shared experts and the shared gate are shared.

    Args:
        num_tasks: the number of tasks `T`.
        num_task_experts: experts per task `K_i >= 0`. Defaults to 1.
        num_shared_experts: shared experts `K_s >= 0`. Defaults to 1. At least one expert in total.
        expert_units: sizes of each expert's dense layers; outputs have `expert_units[-1]` features.
        expert_activation: activation of the expert layers. Defaults to `"relu"`.
        kernel_initializer: initializer of the dense kernels.
        shared_gate: whether to also compute the shared output `y_s` (see `extract`). Defaults to `False`.

    Input shape:
        `(batch, ..., features)`, or with `task_index=None` a list of `num_tasks` such tensors
        (one per task; each task then mixes the shared experts applied to its own input).

    Output shape:
        `(batch, ..., expert_units[-1])`; a list of `num_tasks` with `task_index=None`.

    Example:

    >>> cgc = CGC(num_tasks=2, num_task_experts=1, num_shared_experts=2, expert_units=(8,))
    >>> [tuple(y.shape) for y in cgc(keras.ops.ones((4, 6)))]
    [(4, 8), (4, 8)]
    """

    def __init__(
        self,
        num_tasks,
        num_task_experts=1,
        num_shared_experts=1,
        expert_units=(16,),
        expert_activation="relu",
        kernel_initializer="glorot_uniform",
        shared_gate=False,
        **kwargs,
    ):
        super().__init__(num_tasks, **kwargs)
        for name, value in (("num_task_experts", num_task_experts), ("num_shared_experts", num_shared_experts)):
            if int(value) != value or value < 0:
                raise ValueError(f"{type(self).__name__}: {name} must be a non-negative integer. Received: {name}={value}")
        if num_task_experts + num_shared_experts < 1:
            raise ValueError(
                f"{type(self).__name__}: needs at least one expert. "
                f"Received: num_task_experts={num_task_experts}, num_shared_experts={num_shared_experts}"
            )
        self.num_task_experts = int(num_task_experts)
        self.num_shared_experts = int(num_shared_experts)
        self.expert_units = check_units(type(self).__name__, "expert_units", expert_units)
        self.expert_activation = expert_activation
        self.kernel_initializer = keras.initializers.serialize(keras.initializers.get(kernel_initializer))
        self.shared_gate = bool(shared_gate)

        def expert(name):
            return make_mlp(self.expert_units, expert_activation, self.kernel_initializer, name=name)

        def gate(size, name):
            return keras.layers.Dense(size, kernel_initializer=self.kernel_initializer, name=name)

        self.task_experts = [expert(f"task{i}_expert{k}") for i in range(self.num_tasks) for k in range(self.num_task_experts)]
        self.shared_experts = [expert(f"shared_expert{k}") for k in range(self.num_shared_experts)]
        self.gates = [gate(self.num_task_experts + self.num_shared_experts, f"gate{i}") for i in range(self.num_tasks)]
        total = self.num_tasks * self.num_task_experts + self.num_shared_experts
        self.shared_gate_layer = gate(total, "shared_gate") if self.shared_gate else None

    def build(self, input_shape):
        shapes = split_shapes(self, input_shape)
        for i, shape in enumerate(shapes):
            for e in self.own_experts(i):
                e.build(shape)
            self.gates[i].build(shape)
        for e in self.shared_experts:
            e.build(shapes[0])
        if self.shared_gate_layer is not None:
            self.shared_gate_layer.build(shapes[0])
        self.built = True

    def own_experts(self, task_index):
        """The experts of task `task_index`."""
        k = self.num_task_experts
        return self.task_experts[task_index * k : (task_index + 1) * k]

    def extract(self, task_inputs, shared_input=None, task_index=None):
        """One extraction level: `(task outputs, shared output)`.

        Args:
            task_inputs: a list of `num_tasks` tensors, the input of each task's experts and gate.
            shared_input: the input of the shared experts and the shared gate. If `None`, the
                shared experts run on each task's input (one input per task, no shared gate).
            task_index: if an int, only that task's output is computed (the list holds `None`
                for the others).

        Returns:
            `(outputs, shared)`: the list of task outputs, and the shared output `y_s`
            (`None` unless `shared_gate=True`).
        """
        if shared_input is None and self.shared_gate_layer is not None:
            raise ValueError(f"{self.name}: a CGC level with a shared gate needs a shared input.")
        shared = [e(shared_input) for e in self.shared_experts] if shared_input is not None else None
        wanted = range(self.num_tasks) if task_index is None or self.shared_gate_layer is not None else [task_index]
        own = {i: [e(task_inputs[i]) for e in self.own_experts(i)] for i in wanted}
        outputs = [None] * self.num_tasks
        for i in wanted if task_index is None else [task_index]:
            x = task_inputs[i]
            experts = own[i] + (shared if shared is not None else [e(x) for e in self.shared_experts])
            outputs[i] = mix(keras.ops.softmax(self.gates[i](x), axis=-1), experts)
        shared_output = None
        if self.shared_gate_layer is not None:
            everything = [y for i in range(self.num_tasks) for y in own[i]] + shared
            shared_output = mix(keras.ops.softmax(self.shared_gate_layer(shared_input), axis=-1), everything)
        return outputs, shared_output

    def call(self, inputs, task_index=None):
        if task_index is not None:
            self.check_task_index(task_index)
            return self.extract([inputs] * self.num_tasks, inputs, task_index=task_index)[0][task_index]
        if isinstance(inputs, (list, tuple)):
            return self.extract(split_inputs(self, inputs))[0]
        return self.extract([inputs] * self.num_tasks, inputs)[0]

    def compute_output_shape(self, input_shape, task_index=None):
        if task_index is not None:
            return tuple(input_shape[:-1]) + (self.expert_units[-1],)
        return [tuple(s[:-1]) + (self.expert_units[-1],) for s in split_shapes(self, input_shape)]

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        return [w for e in self.own_experts(task_index) for w in e.weights] + list(self.gates[task_index].weights)

    def get_config(self):
        return {
            **super().get_config(),
            "num_task_experts": self.num_task_experts,
            "num_shared_experts": self.num_shared_experts,
            "expert_units": self.expert_units,
            "expert_activation": self.expert_activation,
            "kernel_initializer": self.kernel_initializer,
            "shared_gate": self.shared_gate,
        }
