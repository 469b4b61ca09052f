"""Discriminative (layer-wise) learning rates: smaller steps for earlier, more general layers."""

import math
import re

import keras

from mtl_keras.transfer.groups import layer_groups


@keras.saving.register_keras_serializable(package="mtl_keras")
class DiscriminativeOptimizer(keras.optimizers.Optimizer):
    """An optimizer whose learning rate is scaled per group of variables: `α_g = r_g · α`.

    Fine-tuning wants small steps for the early layers, whose general features (edges, word
    pieces) transfer, and larger ones for the top layers and the fresh head, which must adapt
    to the new task (ULMFiT's discriminative fine-tuning: `θ^l ← θ^l − η^l ∇_{θ^l} L` with
    `η^{l−1} = η^l / 2.6`). A rate `r_g = 0` freezes the group.

    Keras optimizers have one rate for all variables, and scaling a group's gradients would not
    work for adaptive optimizers (Adam's step `m̂ / (√v̂ + ε)` does not change when the gradient
    is scaled). So the variables are split by rate and each group gets its own copy of the
    `optimizer` (same class and settings, own slots) whose learning rate is `r_g` times this
    optimizer's `learning_rate` (a float, a schedule, or what a callback such as
    `ReduceLROnPlateau` sets). Variables with rate 0 are not updated at all.

    A variable's rate is the rate of the first pattern of `rates` that matches its `path`
    (`re.fullmatch`), else `default_rate`. Patterns are strings, so the optimizer serialises
    (`get_config`); `layer_rates(model, ...)` writes them for a model's layer groups. A saved
    model keeps the optimizer's config and step count, not the groups' slots (moments): they
    depend on the order in which variables joined, and restart from zero after reloading.

    Variables can join after the optimizer is built (`add_variables`, called by `build` and by
    `GradualUnfreezing` when layers are unfrozen): they get new copies of the optimizer, whose
    step count starts at 0 (Adam's bias correction then treats them as new).

    Args:
        optimizer: the optimizer to copy per group: a Keras optimizer, its name or config.
            Its learning rate is the base rate `α`. Defaults to `"adam"`.
        rates: a list of `(pattern, rate)` pairs (or a dict `{pattern: rate}`); rates are
            non-negative multipliers of `α`.
        default_rate: the multiplier of variables that no pattern matches. Defaults to 1.
        name: the optimizer's name.

    Example:

    >>> opt = DiscriminativeOptimizer(
    ...     keras.optimizers.Adam(1e-3), rates=layer_rates(model, decay=2.6))
    >>> model.compile(optimizer=opt)

    Reference:
        Howard & Ruder, "Universal Language Model Fine-tuning for Text Classification", ACL 2018.
    """

    def __init__(self, optimizer="adam", rates=(), default_rate=1.0, name="discriminative", **kwargs):
        template = keras.optimizers.get(optimizer)
        if isinstance(template, DiscriminativeOptimizer):
            raise ValueError("DiscriminativeOptimizer: optimizer cannot itself be a DiscriminativeOptimizer.")
        template_config = template.get_config()
        base_rate = template_config["learning_rate"]
        if isinstance(base_rate, dict):
            base_rate = keras.optimizers.schedules.deserialize(base_rate)
        kwargs.pop("learning_rate", None)
        super().__init__(learning_rate=base_rate, name=name, **kwargs)
        pairs = list(rates.items()) if isinstance(rates, dict) else [tuple(p) for p in rates]
        for pair in pairs:
            if len(pair) != 2 or not isinstance(pair[0], str) or not float(pair[1]) >= 0.0:
                raise ValueError(
                    "DiscriminativeOptimizer: rates must be (pattern, rate) pairs with a string pattern and a rate >= 0. "
                    f"Received: {pair!r}"
                )
        if not float(default_rate) >= 0.0:
            raise ValueError(f"DiscriminativeOptimizer: default_rate must be >= 0. Received: default_rate={default_rate}")
        self.template_config = {"class_name": type(template).__name__, "config": template_config}
        self._template_class = type(template)
        self.rates = [(str(p), float(r)) for p, r in pairs]
        self._compiled_rates = [(re.compile(p), r) for p, r in self.rates]
        self.default_rate = float(default_rate)
        self._groups = _Groups()  # a plain holder: Keras saving does not walk into it

    # ------------------------------------------------------------------ rates
    def rate_of(self, variable):
        """The multiplier `r_g` of a variable: its first matching pattern's rate, else `default_rate`."""
        for pattern, rate in self._compiled_rates:
            if pattern.fullmatch(variable.path):
                return rate
        return self.default_rate

    def _scaled_rate(self, rate):
        return lambda: self._get_current_learning_rate() * rate

    # ------------------------------------------------------------------ variables
    def build(self, variables):
        if not self.built:
            super().build([])
        self.add_variables(variables)

    def add_variables(self, variables):
        """Lets variables the optimizer does not know yet be trained (e.g. after unfreezing).

        New variables are grouped by rate; each group gets a fresh copy of the optimizer.
        Variables already known are left as they are.

        Args:
            variables: a list of Keras variables.
        """
        if not self.built:
            super().build([])
        new = [v for v in variables if self._var_key(v) not in self._groups.assignment]
        by_rate = {}
        for v in new:
            by_rate.setdefault(self.rate_of(v), []).append(v)
        for rate, group in by_rate.items():
            if rate == 0.0:
                for v in group:
                    self._groups.assignment[self._var_key(v)] = None
                continue
            config = dict(self.template_config["config"])
            config["learning_rate"] = self._scaled_rate(rate)
            config["name"] = f"{self.name}_{len(self._groups.pairs)}"
            inner = self._template_class.from_config(config)
            inner.build(group)
            for v in group:
                self._groups.assignment[self._var_key(v)] = len(self._groups.pairs)
            self._groups.pairs.append((rate, inner))
        self._groups.known.extend(new)

    def group_optimizers(self):
        """The `(rate, optimizer)` pairs, one per group of variables added together."""
        return list(self._groups.pairs)

    @property
    def variables(self):
        collected = self._variables[:]
        for _, inner in self._groups.pairs:
            collected.extend(inner.variables)
        return collected

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            trainable_variables = self._groups.known
        trainable_variables = list(trainable_variables)
        if not self.built:
            self.build(trainable_variables)
        unknown = [v.path for v in trainable_variables if self._var_key(v) not in self._groups.assignment]
        if unknown:
            raise ValueError(
                f"DiscriminativeOptimizer: unknown variables {unknown}. Variables made trainable after the optimizer "
                "was built must be added with optimizer.add_variables(model.trainable_variables) "
                "(mtl_keras.transfer.GradualUnfreezing does this)."
            )
        buckets = {}
        for grad, variable in zip(grads, trainable_variables, strict=True):
            index = self._groups.assignment[self._var_key(variable)]
            if index is None or grad is None:  # rate 0, or a variable the loss does not reach
                continue
            pair = buckets.setdefault(index, ([], []))
            pair[0].append(grad)
            pair[1].append(variable)
        for index in sorted(buckets):
            self._groups.pairs[index][1].apply(*buckets[index])
        self._iterations.assign_add(1)

    def finalize_variable_values(self, var_list):
        for index, (_, inner) in enumerate(self._groups.pairs):
            mine = [v for v in var_list if self._groups.assignment.get(self._var_key(v)) == index]
            if mine:
                inner.finalize_variable_values(mine)

    def save_own_variables(self, store):
        # Only the step count and base rate: the groups' slots depend on the order in which
        # variables joined (gradual unfreezing), which a reloaded model cannot replay.
        for i, variable in enumerate(self._variables):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store):
        if len(store.keys()) == len(self._variables):
            for i, variable in enumerate(self._variables):
                variable.assign(store[str(i)])

    # ------------------------------------------------------------------ config
    def get_config(self):
        return {
            "name": self.name,
            "optimizer": self.template_config,
            "rates": [[p, r] for p, r in self.rates],
            "default_rate": self.default_rate,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizer"] = keras.optimizers.deserialize(config["optimizer"], custom_objects=custom_objects)
        return cls(**config)


class _Groups:
    """Holds the per-rate optimizers out of sight of Keras's saving traversal."""

    def __init__(self):
        self.pairs = []  # [(rate, optimizer)]
        self.assignment = {}  # variable key -> index in pairs, or None (rate 0)
        self.known = []  # the model variables added so far


def _pattern(layer, variable):
    """A path pattern that survives reloading: the path from the group layer's name on.

    Paths depend on where a variable was built (`model/body/dense/kernel` or `dense/kernel`);
    the part from the layer's own name on is kept in a saved model's config.
    """
    parts = variable.path.split("/")
    if layer.name in parts[:-1]:
        start = len(parts) - 2 - parts[:-1][::-1].index(layer.name)
        return "(.*/)?" + re.escape("/".join(parts[start:]))
    return re.escape(variable.path)


def layer_rates(model, decay=None, rates=None, groups=None):
    """Learning-rate multipliers per layer group, for `DiscriminativeOptimizer`.

    Groups are counted from the top: group 0 is the heads, group 1 the top group of the body,
    and so on (see `layer_groups`). Either

    - `decay=d`: group `k` from the top gets `d^{−k}` (ULMFiT: `η^{l−1} = η^l / d`, `d = 2.6`);
    - or `rates=[r_0, r_1, ...]`: group `k` gets `r_k`; groups below the last rate given get the
      last rate (so `[1, 0.5, 0]` freezes everything below the top body group).

    Args:
        model: a built `mtl_keras.MultiTaskModel`.
        decay: factor `>= 1` by which the rate shrinks per group going down.
        rates: explicit multipliers from the top (non-negative).
        groups: optional list of groups (lists of layers), bottom to top, instead of
            `layer_groups(model)`.

    Returns:
        A list of `(pattern, rate)` pairs for `DiscriminativeOptimizer(rates=...)`.

    Raises:
        ValueError: if both or neither of `decay` and `rates` are given, if `rates` has more
            entries than the model has groups, or if two groups' variables cannot be told apart
            by their paths (give the layers distinct names).

    Example:

    >>> layer_rates(model, decay=2.6)   # heads 1, top body layer 1/2.6, next 1/2.6², ...
    """
    if (decay is None) == (rates is None):
        raise ValueError(f"layer_rates: give exactly one of decay and rates. Received: decay={decay}, rates={rates}")
    groups = list(groups) if groups is not None else layer_groups(model)
    top_down = groups[::-1]
    if decay is not None:
        if not 1.0 <= float(decay) < math.inf:
            raise ValueError(f"layer_rates: decay must be >= 1 and finite (rates shrink going down). Received: decay={decay}")
        multipliers = [float(decay) ** -k for k in range(len(top_down))]
    else:
        rates = [float(r) for r in rates]
        if not rates or not all(0.0 <= r < math.inf for r in rates):
            raise ValueError(f"layer_rates: rates must be a non-empty list of rates >= 0. Received: rates={rates}")
        if len(rates) > len(top_down):
            raise ValueError(
                f"layer_rates: {len(rates)} rates for a model of {len(top_down)} layer groups (heads + "
                f"{len(top_down) - 1} body groups). Received: rates={rates}"
            )
        multipliers = rates + [rates[-1]] * (len(top_down) - len(rates))
    entries = []  # (pattern, rate, group index from the top)
    for k, (group, rate) in enumerate(zip(top_down, multipliers)):
        for layer in group:
            entries.extend((_pattern(layer, v), rate, k) for v in layer.weights)
    compiled = [(re.compile(p), k) for p, _, k in entries]
    for k, group in enumerate(top_down):
        for variable in (v for layer in group for v in layer.weights):
            if next(j for pattern, j in compiled if pattern.fullmatch(variable.path)) != k:
                raise ValueError(
                    f"layer_rates: variable path '{variable.path}' also matches a pattern of another layer group; "
                    "give the layers distinct names."
                )
    return [(p, r) for p, r, _ in entries]
