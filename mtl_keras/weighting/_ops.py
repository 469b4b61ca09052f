"""Small TensorFlow helpers shared by the weighting strategies (pure ops, XLA-friendly).

Every gradient-level method here works on the `[T, T]` Gram matrix `K = G Gᵀ` of the per-task
gradients `G` (`[T, P]`) and returns task weights `w` (`[T]`); the update direction is then
`d = Gᵀ w`. Working in `T x T` space is exact for methods whose result is a linear combination
of the rows (all but GradDrop) and costs `O(T² P)` once, whatever the iteration counts.

A row of `G` is *active* when it is not identically zero; rows of tasks that were not sampled in
a step are zero and every method leaves them out (their weight is 0).
"""

import functools
import math

import tensorflow as tf


def gram(grads):
    """`K = G Gᵀ`, the `[T, T]` matrix of inner products of the rows of `grads`."""
    return tf.matmul(grads, grads, transpose_b=True)


def combine(weights, grads):
    """`d = Gᵀ w`: the combination of the rows of `grads` `[T, P]` by `weights` `[T]`."""
    return tf.linalg.matvec(grads, tf.cast(weights, grads.dtype), transpose_a=True)


def active_mask(gram_matrix):
    """Float `[T]` mask of non-zero rows (diagonal of the Gram matrix `> 0`)."""
    diag = tf.linalg.diag_part(gram_matrix)
    return tf.cast(diag > 0, gram_matrix.dtype)


def num_tasks_of(tensor):
    """The static number of tasks (first dimension) of a `[T, ...]` tensor."""
    num_tasks = tensor.shape[0]
    if num_tasks is None:
        raise ValueError(f"The number of tasks (first dimension) must be static. Received shape: {tensor.shape}")
    return int(num_tasks)


def step_seed(seed, step, salt=0):
    """A stateless-random seed `[2]` (int64) derived from an integer seed and the training step."""
    return tf.stack([tf.constant(int(seed) * 1000003 + int(salt), tf.int64), tf.cast(step, tf.int64)])


def random_orders(num_tasks, seed):
    """`[T, T]` int32: row `i` is a random permutation of the tasks (the order task `i` visits them)."""
    noise = tf.random.stateless_uniform([num_tasks, num_tasks], seed=seed)
    return tf.argsort(noise, axis=-1, stable=True)


def xla_compiled(function=None, *, min_tasks=1):
    """Runs a strategy's maths as one XLA computation (`tf.function(jit_compile=True)`).

    The iterative solvers (Frank-Wolfe, mirror descent, coordinate descent, Newton) are loops of
    tiny ops on `[T]` and `[T, T]` tensors, and GradDrop is a dozen element-wise ops on the
    `[T, P]` matrix; executed op by op, each op costs microseconds of dispatch (or a pass over
    memory), far more than its arithmetic. Compiled as one cluster, a 200-step loop or the fused
    element-wise chain costs microseconds in all, inside `train_step` (with or without
    `jit_compile`) and when called eagerly. Python arguments (iteration counts,
    hyper-parameters) are compile-time constants.

    Launching an XLA computation from a training step costs itself about 0.1 ms on a CPU, more than
    a closed form or a handful of ops: with `min_tasks`, problems with fewer tasks (the static
    first dimension of the first argument) run op by op.

    Use as `@xla_compiled` or `@xla_compiled(min_tasks=3)`.
    """
    if function is None:
        return functools.partial(xla_compiled, min_tasks=min_tasks)
    compiled = tf.function(function, jit_compile=True, autograph=False)

    @functools.wraps(function)
    def run(*args, **kwargs):
        if min_tasks > 1 and num_tasks_of(args[0]) < min_tasks:
            return function(*args, **kwargs)
        return compiled(*args, **kwargs)

    return run


def fixed_iterations(body, state, iterations):
    """Runs `state = body(state)` exactly `iterations` times in a `tf.while_loop` (XLA-friendly)."""

    def cond(i, *_):
        return i < iterations

    def loop(i, *values):
        out = body(*values)
        out = out if isinstance(out, (tuple, list)) else (out,)
        return (i + 1, *out)

    state = state if isinstance(state, (tuple, list)) else (state,)
    result = tf.while_loop(cond, loop, (tf.constant(0), *state), maximum_iterations=iterations)
    return result[1] if len(result) == 2 else result[1:]


def adam_update(param, grad, m, v, t, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    """One Adam step on a small tensor; returns `(param, m, v, t)` (all tensors, `t` a float count)."""
    t = t + 1.0
    m = beta_1 * m + (1.0 - beta_1) * grad
    v = beta_2 * v + (1.0 - beta_2) * tf.square(grad)
    m_hat = m / (1.0 - tf.pow(beta_1, t))
    v_hat = v / (1.0 - tf.pow(beta_2, t))
    return param - learning_rate * m_hat / (tf.sqrt(v_hat) + epsilon), m, v, t


def read(variable):
    """The current value of a Keras or TF variable as a tensor."""
    # `.value` is the replica-local tf.Variable under tf.distribute, so gradients reach every replica.
    return tf.convert_to_tensor(variable.value if hasattr(variable, "value") else variable)


# ---------------------------------------------------------------------- argument checks
def check_number(owner, name, value, minimum=None, maximum=None, strict=False):
    """Returns `float(value)` or raises a `ValueError` quoting it (not finite or out of range)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {name} must be a number. Received: {name}={value!r}") from None
    bad = math.isnan(number) or math.isinf(number)
    if minimum is not None:
        bad = bad or (number <= minimum if strict else number < minimum)
    if maximum is not None:
        bad = bad or number > maximum
    if bad:
        low = "" if minimum is None else (f"> {minimum}" if strict else f">= {minimum}")
        high = "" if maximum is None else f"<= {maximum}"
        bounds = " and ".join(b for b in (low, high) if b)
        raise ValueError(f"{owner}: {name} must be a finite number {bounds}. Received: {name}={value!r}")
    return number


def check_int(owner, name, value, minimum=1):
    """Returns `int(value)` or raises a `ValueError` quoting it (not an integer `>= minimum`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)
