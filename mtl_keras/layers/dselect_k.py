"""DSelect-k: a mixture of experts whose per-task gates select at most `k` experts, differentiably."""

import math

import keras
import numpy as np

from mtl_keras.layers._utils import check_units, make_mlp, mix, split_inputs, split_shapes
from mtl_keras.layers.base import TaskAwareLayer

GATINGS = ("per_example", "static")
#: Added inside the logarithm of the entropy regulariser, so that `0 · log 0` stays 0.
ENTROPY_EPSILON = 1e-6


def smooth_step(t, gamma=1.0):
    """The cubic smooth-step `S(t)` of Hazimeh et al. (2020, 2021), element-wise.

        S(t) = 0                                   if t <= −γ/2
             = −2/γ³ · t³ + 3/(2γ) · t + 1/2       if −γ/2 < t < γ/2
             = 1                                   if t >= γ/2

    `S` is continuously differentiable (`S'(±γ/2) = 0`) and reaches exactly 0 and 1, so a gate
    built on it can become exactly sparse during training while gradients flow inside `(−γ/2, γ/2)`.

    Args:
        t: a tensor.
        gamma: the width `γ > 0` of the cubic region.

    Returns:
        A tensor of the shape of `t`, in `[0, 1]`.

    Example:

    >>> [float(v) for v in smooth_step(keras.ops.convert_to_tensor([-1.0, 0.0, 0.25, 1.0]))]
    [0.0, 0.5, 0.84375, 1.0]
    """
    t = keras.ops.convert_to_tensor(t)
    half = gamma / 2.0
    cubic = -2.0 / gamma**3 * t**3 + 3.0 / (2.0 * gamma) * t + 0.5
    return keras.ops.where(t <= -half, keras.ops.zeros_like(t), keras.ops.where(t >= half, keras.ops.ones_like(t), cubic))


def binary_codes(num_experts):
    """The `(num_experts, m)` 0/1 matrix whose row `l` is the binary encoding of `l`, `m = ⌈log2 n⌉` bits.

    The most significant bit comes first: for 4 experts the rows are `00, 01, 10, 11`.
    """
    bits = max(1, math.ceil(math.log2(num_experts)))
    return np.array([[int(b) for b in np.binary_repr(value, width=bits)] for value in range(num_experts)], dtype="float32")


def selector_outputs(logits, codes, gamma=1.0):
    """The single-expert selectors `r(z)` for logits `z` of shape `(..., k, m)`; returns `(..., k, n)`.

        r(z)_l = Π_j [ c_lj · S(z_j) + (1 − c_lj) · (1 − S(z_j)) ]

    for the binary code `c_l` of expert `l` (`codes`, `(n, m)`). With `n = 2^m` the entries of
    `r(z)` sum to 1 for every `z` (a product of `m` two-way choices); once every `S(z_j)` is 0 or
    1, `r(z)` is the one-hot vector of the expert whose code is `(S(z_1), …, S(z_m))`.
    """
    activations = keras.ops.expand_dims(smooth_step(logits, gamma), -2)  # (..., k, 1, m)
    codes = keras.ops.cast(codes, activations.dtype)  # (n, m)
    factors = codes * activations + (1.0 - codes) * (1.0 - activations)  # (..., k, n, m)
    return keras.ops.prod(factors, axis=-1)


@keras.saving.register_keras_serializable(package="mtl_keras")
class DSelectK(TaskAwareLayer):
    """Mixture of experts with DSelect-k gates (Hazimeh et al., NeurIPS 2021): at most `k` experts per task.

    `n` shared experts `f_1 … f_n`; task `i` mixes them with a gate `q_i` built from `k`
    single-expert selectors. Selector `s` has `m = ⌈log2 n⌉` logits `z^(s)`, one per bit of the
    experts' binary codes, passed through the smooth-step `S` (see `smooth_step`):

        r(z^(s))_l = Π_j [ c_lj S(z^(s)_j) + (1 − c_lj) (1 − S(z^(s)_j)) ]      (one expert, softly)
        q_i = Σ_{s=1..k} softmax(w)_s · r(z^(s)),        y_i = Σ_l q_i,l f_l(x)

    With `gating="per_example"` the logits are functions of the input, `z^(s) = Z_i^(s) x` and
    `w = W_i x` (one gate per example); with `gating="static"` they are free parameters of the
    task. `q_i` is on the simplex (for `n` a power of 2) and, once every `S(z_j)` has saturated at
    0 or 1, has at most `k` non-zero entries: the gate is trained like a softmax gate and ends up
    sparse, without top-k's discontinuity. Logits start in `U(−γ/100, γ/100)` (every expert
    almost equally weighted), as in the authors' code.

    Two regularisers are added as layer losses (`self.losses`, so `MultiTaskModel` adds them to the
    objective) in training calls:

    - with `entropy_weight = λ > 0`, `λ · mean_batch Σ_{tasks, s} H(r(z^(s)))`, the entropy of each
      selector, which pushes the selectors to one expert each (the paper's optional regulariser);
    - when `n` is not a power of 2 some codes name no expert, and `mean_batch Σ_{tasks, s}
      (1 / Σ_l r(z^(s))_l − 1)` keeps every selector's mass on real experts (it is zero once it
      is; the authors' code adds `1 / Σ_l r_l` for the same purpose).

    The experts are shared; the selector parameters of task `i` belong to task `i`.

    Args:
        num_tasks: the number of tasks `T`.
        num_experts: `n >= 2`.
        k: the number of selectors, i.e. the largest number of experts a task's gate ends up
            using, `1 <= k`. Defaults to 2.
        expert_units: sizes of each expert's dense layers; the output has `expert_units[-1]` features.
        expert_activation: activation of the expert layers. Defaults to `"relu"`.
        gamma: the width `γ > 0` of the smooth-step's cubic region. Defaults to 1.
        gating: `"per_example"` (default) or `"static"`.
        entropy_weight: `λ >= 0` of the entropy regulariser. Defaults to 0 (off).
        kernel_initializer: initializer of the experts' dense kernels.

    Input shape:
        `(batch, features)`, or with `task_index=None` a list of `num_tasks` such tensors.

    Output shape:
        `(batch, expert_units[-1])`; a list of `num_tasks` with `task_index=None`.

    Example:

    >>> layer = DSelectK(num_tasks=2, num_experts=4, k=2, expert_units=(8,))
    >>> [tuple(y.shape) for y in layer(keras.ops.ones((3, 5)))]
    [(3, 8), (3, 8)]
    >>> tuple(layer.gate_weights(keras.ops.ones((3, 5)), task_index=0).shape)
    (3, 4)

    Reference: Hazimeh, Zhao, Chowdhery, Sathiamoorthy, Chen, Mazumder, Hong, Chi. DSelect-k:
    Differentiable Selection in the Mixture of Experts with Applications to Multi-Task Learning.
    NeurIPS 2021.
    """

    def __init__(
        self,
        num_tasks,
        num_experts,
        k=2,
        expert_units=(16,),
        expert_activation="relu",
        gamma=1.0,
        gating="per_example",
        entropy_weight=0.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(num_tasks, **kwargs)
        if int(num_experts) != num_experts or num_experts < 2:
            raise ValueError(f"DSelectK: num_experts must be an integer >= 2. Received: num_experts={num_experts}")
        if int(k) != k or k < 1:
            raise ValueError(f"DSelectK: k must be a positive integer. Received: k={k}")
        if not (isinstance(gamma, (int, float)) and gamma > 0 and math.isfinite(gamma)):
            raise ValueError(f"DSelectK: gamma must be a positive number. Received: gamma={gamma!r}")
        if gating not in GATINGS:
            raise ValueError(f"DSelectK: gating must be one of {GATINGS}. Received: gating={gating!r}")
        if not (isinstance(entropy_weight, (int, float)) and entropy_weight >= 0 and math.isfinite(entropy_weight)):
            raise ValueError(f"DSelectK: entropy_weight must be a number >= 0. Received: entropy_weight={entropy_weight!r}")
        self.num_experts = int(num_experts)
        self.k = int(k)
        self.expert_units = check_units("DSelectK", "expert_units", expert_units)
        self.expert_activation = expert_activation
        self.gamma = float(gamma)
        self.gating = gating
        self.entropy_weight = float(entropy_weight)
        self.kernel_initializer = keras.initializers.serialize(keras.initializers.get(kernel_initializer))
        self.codes = binary_codes(self.num_experts)
        self.num_bits = self.codes.shape[1]
        self.power_of_two = self.num_experts == 2**self.num_bits
        self.experts = [
            make_mlp(self.expert_units, expert_activation, self.kernel_initializer, name=f"expert{e}") for e in range(self.num_experts)
        ]
        self.selector_logits, self.selector_weights = [], []
        if self.gating == "per_example":
            for i in range(self.num_tasks):
                self.selector_logits.append(
                    keras.layers.Dense(
                        self.k * self.num_bits,
                        kernel_initializer=self._logit_initializer(),
                        bias_initializer=self._logit_initializer(),
                        name=f"selector_logits{i}",
                    )
                )
                if self.k > 1:  # one selector needs no weights
                    self.selector_weights.append(
                        keras.layers.Dense(
                            self.k, kernel_initializer="random_uniform", bias_initializer="random_uniform", name=f"selector_weights{i}"
                        )
                    )

    def _logit_initializer(self):
        return keras.initializers.RandomUniform(-self.gamma / 100.0, self.gamma / 100.0)

    def build(self, input_shape):
        shapes = split_shapes(self, input_shape)
        for shape in shapes:
            if len(shape) != 2:
                raise ValueError(f"{self.name}: DSelectK takes inputs of shape (batch, features). Received: input_shape={shape}")
        for expert in self.experts:
            expert.build(shapes[0])
        if self.gating == "per_example":
            for layer in self.selector_logits + self.selector_weights:
                layer.build(shapes[0])
        else:
            for i in range(self.num_tasks):
                self.selector_logits.append(
                    self.add_weight(shape=(self.k, self.num_bits), initializer=self._logit_initializer(), name=f"selector_logits{i}")
                )
                if self.k > 1:
                    self.selector_weights.append(
                        self.add_weight(shape=(self.k,), initializer="random_uniform", name=f"selector_weights{i}")
                    )
        self.built = True

    # ------------------------------------------------------------------ gates
    def _selectors_and_gate(self, inputs, task_index):
        """`(r, q)`: the selectors `(batch, k, n)` (or `(k, n)` static) and the gate `(batch, n)` (or `(n,)`)."""
        if self.gating == "per_example":
            logits = keras.ops.reshape(self.selector_logits[task_index](inputs), (-1, self.k, self.num_bits))
        else:
            logits = keras.ops.convert_to_tensor(self.selector_logits[task_index])
        selectors = selector_outputs(logits, self.codes, self.gamma)
        if self.k == 1:
            return selectors, selectors[..., 0, :]
        if self.gating == "per_example":
            mixing = keras.ops.softmax(self.selector_weights[task_index](inputs), axis=-1)  # (batch, k)
        else:
            mixing = keras.ops.softmax(keras.ops.convert_to_tensor(self.selector_weights[task_index]), axis=-1)
        gate = keras.ops.sum(keras.ops.expand_dims(mixing, -1) * selectors, axis=-2)
        return selectors, gate

    def selector_outputs(self, inputs, task_index):
        """The `k` single-expert selectors `r(z^(s))` of task `task_index`, shape `(batch, k, n)`."""
        self.check_task_index(task_index)
        selectors, _ = self._selectors_and_gate(inputs, task_index)
        return self._per_example(selectors, inputs)

    def gate_weights(self, inputs, task_index=None):
        """The gates `q_i` (shape `(batch, n)`, rows on the simplex); a list over tasks with `task_index=None`."""
        if task_index is None:
            return [self.gate_weights(x, i) for i, x in enumerate(split_inputs(self, inputs))]
        self.check_task_index(task_index)
        _, gate = self._selectors_and_gate(inputs, task_index)
        return self._per_example(gate, inputs)

    def _per_example(self, value, inputs):
        if self.gating == "per_example":
            return value
        batch = keras.ops.shape(inputs)[0]
        return keras.ops.broadcast_to(value, (batch,) + tuple(value.shape))

    def regularization(self, selectors):
        """The layer loss of a list of selector tensors (`(batch, k, n)` or `(k, n)`): entropy + unreachable mass."""
        total = 0.0
        for r in selectors:
            per_example = 0.0
            if self.entropy_weight > 0:
                entropy = -keras.ops.sum(r * keras.ops.log(r + ENTROPY_EPSILON), axis=(-2, -1))
                per_example = per_example + self.entropy_weight * entropy
            if not self.power_of_two:
                per_example = per_example + keras.ops.sum(1.0 / keras.ops.sum(r, axis=-1) - 1.0, axis=-1)
            total = total + keras.ops.mean(per_example)
        return total

    # ------------------------------------------------------------------ call
    def call(self, inputs, task_index=None, training=None):
        if task_index is not None:
            self.check_task_index(task_index)
            tasks, task_inputs = [task_index], {task_index: inputs}
        else:
            task_inputs = dict(enumerate(split_inputs(self, inputs)))
            tasks = list(range(self.num_tasks))
        shared = None if isinstance(inputs, (list, tuple)) else [expert(inputs) for expert in self.experts]
        outputs, selectors = [], []
        for i in tasks:
            x = task_inputs[i]
            experts = shared if shared is not None else [expert(x) for expert in self.experts]
            r, gate = self._selectors_and_gate(x, i)
            selectors.append(r)
            outputs.append(mix(gate, experts))
        if training and (self.entropy_weight > 0 or not self.power_of_two):
            self.add_loss(self.regularization(selectors))
        return outputs[0] if task_index is not None else outputs

    def compute_output_shape(self, input_shape, task_index=None):
        if task_index is not None:
            return tuple(input_shape[:-1]) + (self.expert_units[-1],)
        return [tuple(s[:-1]) + (self.expert_units[-1],) for s in split_shapes(self, input_shape)]

    def task_variables(self, task_index):
        self.check_task_index(task_index)
        weights = self.selector_weights[task_index : task_index + 1] if self.k > 1 else []
        if self.gating == "per_example":
            return [w for layer in [self.selector_logits[task_index]] + weights for w in layer.weights]
        return [self.selector_logits[task_index]] + weights

    def get_config(self):
        return {
            **super().get_config(),
            "num_experts": self.num_experts,
            "k": self.k,
            "expert_units": self.expert_units,
            "expert_activation": self.expert_activation,
            "gamma": self.gamma,
            "gating": self.gating,
            "entropy_weight": self.entropy_weight,
            "kernel_initializer": self.kernel_initializer,
        }
