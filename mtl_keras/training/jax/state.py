"""Keras state inside JAX control flow: a conditional whose branch may update Keras variables.

Keras on JAX runs a step statelessly: variables' values live in a `keras.StatelessScope`, and an
`assign` records the new value in the scope. A branch of `jax.lax.cond` is traced separately, so
a value it records could not be read outside it. `stateful_cond` threads the values of the
variables a branch may update (metrics, moving statistics, optimizer slots) through the
conditional as operands and results, and hands out the branch's call losses (`add_loss`, activity
regularizers) summed.
"""

import jax
import keras
from keras import ops


def current_values(scope, variables):
    """The values of `variables` in `scope` (their own values where the scope has none)."""
    values = []
    for variable in variables:
        value = scope.get_current_value(variable)
        values.append(variable.value if value is None else value)
    return values


def stateful_cond(scope, predicate, true_fn, false_fn, variables, losses=None):
    """`true_fn()` if `predicate` else `false_fn()`, keeping the updates `true_fn` makes to `variables`.

    Args:
        scope: the enclosing `keras.StatelessScope` (the step's state); the new values of
            `variables` are recorded in it.
        predicate: a boolean scalar (traced) or a Python bool (then no conditional is built).
        true_fn, false_fn: functions of no argument returning the same structure of tensors.
        variables: the Keras variables `true_fn` may assign.
        losses: a list to which the sum of the call losses made inside `true_fn` is appended.

    Returns:
        The chosen function's result.
    """
    if isinstance(predicate, bool):
        return true_fn() if predicate else false_fn()

    def run(values):
        inner = keras.StatelessScope(collect_losses=True)
        inner.state_mapping.update(scope.state_mapping)
        inner.state_mapping.update({id(v): value for v, value in zip(variables, values)})
        with inner:
            result = true_fn()
        made = ops.zeros((), "float32")
        for loss in inner.losses:
            made = made + ops.cast(loss, "float32")
        return result, current_values(inner, variables), made

    def skip(values):
        return false_fn(), list(values), ops.zeros((), "float32")

    before = [ops.cast(v, variable.dtype) for v, variable in zip(current_values(scope, variables), variables)]
    result, after, made = jax.lax.cond(predicate, run, skip, before)
    for variable, value in zip(variables, after):
        scope.state_mapping[id(variable)] = value
    if losses is not None:
        losses.append(made)
    return result
