"""Small TensorFlow helpers shared by the weighting strategies (pure ops, XLA-friendly).

Most gradient-level methods work on the `[T, T]` Gram matrix `K = G Gᵀ` of the per-task
gradients `G` (`[T, P]`) and return task weights `w` (`[T]`); the update direction is then
`d = Gᵀ w`. Working in `T x T` space is exact for methods whose result is a linear combination
of the rows and costs `O(T² P)` once, whatever the iteration counts.

A row of `G` is *active* when it is not identically zero; rows of absent tasks (not sampled, or
without a labelled example in the batch) are zero and every method leaves them out (their weight
is 0, their state is not updated).
"""

import functools
import math

import keras
import numpy as np
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


def active_rows(grads):
    """Float `[T]` mask of the non-zero rows of a `[T, P]` matrix (without forming its Gram matrix)."""
    return tf.cast(tf.reduce_sum(tf.square(grads), axis=1) > 0, grads.dtype)


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
    value = variable.value if hasattr(variable, "value") else variable
    if keras.backend.backend() != "tensorflow":  # JAX: the value held by the step's stateless scope
        return keras.ops.convert_to_tensor(value)
    return tf.convert_to_tensor(value)


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


# ---------------------------------------------------------------------- gradients in blocks
def gram_from_blocks(blocks):
    """`K = G Gᵀ` `[T, T]` from the per-variable blocks of `G`, without concatenating them.

    `G` `[T, P]` is the row-wise concatenation of the flattened blocks; `K` is the sum of the
    blocks' own Gram matrices, `Σ_b B_b B_bᵀ`, so the `[T, P]` matrix is never formed.

    Args:
        blocks: list of float tensors `[T, ...]` (e.g. one per shared variable: task `i`'s
            gradient of that variable in row `i`), all with the same first dimension.

    Returns:
        Float tensor `[T, T]`.
    """
    total = None
    for block in blocks:
        rows = tf.reshape(block, [tf.shape(block)[0], -1])
        part = tf.matmul(rows, rows, transpose_b=True)
        total = part if total is None else total + tf.cast(part, total.dtype)
    return total


def combine_blocks(weights, blocks):
    """`Gᵀ w` block by block: the list of `Σ_i w_i B_b[i]`, each shaped like one row of its block.

    The inverse of `gram_from_blocks`' split: with `w` from `K = gram_from_blocks(blocks)`, the
    direction for variable `b` is `combine_blocks(w, blocks)[b]`.

    Args:
        weights: float tensor `[T]`.
        blocks: list of float tensors `[T, ...]`.

    Returns:
        List of float tensors, shaped `block.shape[1:]`.
    """
    return [tf.tensordot(tf.cast(weights, block.dtype), block, axes=1) for block in blocks]


# ---------------------------------------------------------------------- small solvers
def renormalise(weights, total, mask=None):
    """Rescales non-negative `weights` `[T]` to sum to `total` (uniform if they sum to 0).

    With `mask` (0/1 `[T]`), only the masked weights are rescaled (to sum to `total` among
    themselves); the others are returned unchanged.
    """
    mask = tf.ones_like(weights) if mask is None else tf.cast(mask, weights.dtype)
    weights = tf.maximum(weights, 0.0)
    count = tf.reduce_sum(mask)
    summed = tf.reduce_sum(weights * mask)
    uniform = tf.math.divide_no_nan(total, count) * tf.ones_like(weights)
    scaled = tf.where(summed > 0, weights * tf.math.divide_no_nan(total, summed), uniform)
    return tf.where(mask > 0, scaled, weights)


def project_to_simplex(values, mask=None, total=1.0):
    """Euclidean projection of `values` `[T]` onto `{x >= 0, Σ x = total}` (sort-based, XLA-friendly).

    With `mask` (0/1 `[T]`), only the masked entries are projected (onto the simplex of mass
    `total` among them); the others are returned unchanged.
    """
    values = tf.convert_to_tensor(values)
    mask = tf.ones_like(values) if mask is None else tf.cast(mask, values.dtype)
    total = tf.cast(total, values.dtype)
    big = tf.reduce_max(tf.abs(values)) + tf.abs(total) + 1.0
    masked = tf.where(mask > 0, values, -big * 4.0 - 1.0)  # out of the way: never in the support
    ordered = tf.sort(masked, direction="DESCENDING")
    ranks = tf.range(1, tf.shape(values)[0] + 1, dtype=values.dtype)
    partial = tf.cumsum(ordered * tf.sort(mask, direction="DESCENDING"))
    in_support = tf.logical_and(ordered - (partial - total) / ranks > 0, ranks <= tf.reduce_sum(mask))
    count = tf.maximum(tf.reduce_sum(tf.cast(in_support, values.dtype)), 1.0)
    threshold = (tf.gather(partial, tf.cast(count, tf.int32) - 1) - total) / count
    projected = tf.maximum(values - threshold, 0.0)
    return tf.where(mask > 0, projected, values)


@xla_compiled
def alpha_fair_weights_from_gram(gram_matrix, alpha=1.0, iterations=30, bound=None):
    """The positive solution `w` of `(K w)_i = w_i^(-1/α)` for every active task: the α-fair weights.

    This is the optimality condition of the α-fair allocation between tasks (FairGrad; `α = 1` is
    the Nash bargaining solution of Nash-MTL): the direction `d = Gᵀ w` gives every task the
    improvement `d · g_i = w_i^(-1/α) > 0`. It is the stationary point of the strictly convex

        f(w) = ½ wᵀ K w - Σ_i φ(w_i),   φ'(w) = w^(-1/α)   (φ = log for α = 1),

    minimised here by damped Newton steps: the step is scaled by `D = diag(w^((1+1/α)/2))`, so its
    system `(D K D + I/α) s = D ∇f` is well conditioned whatever the tasks' gradient norms; the step
    length is the best of a few halvings that keep `w > 0` (monotone descent), which ends in full
    Newton steps (quadratic convergence). `K` is divided by its mean diagonal for the solve and the
    solution mapped back exactly (`w ∝ scale^(-α/(α+1))`). It starts from the exact solution for
    orthogonal gradients, `w_i = K_ii^(-α/(α+1))`.

    When the gradients are (nearly) linearly dependent with some conflict (e.g. exactly opposite),
    no positive solution exists (or it is too large to be represented): the weights grow without
    bound. They are then kept below `bound` times the orthogonal solution (a box constraint handled
    by fixing the capped weights in the Newton system), which leaves every solution below the cap
    exact and gives finite weights otherwise (`d·g_i >= 0` for two tasks). The default bound,
    `ε^(-1/3)` for the dtype's machine epsilon (≈ 203 in float32, 1.7e5 in float64), keeps the
    smallest improvement `1/w_i` far above the rounding error of `Gᵀ w`.

    Zero rows (absent tasks) are left out (weight 0).

    Args:
        gram_matrix: float tensor `[T, T]`, `K = G Gᵀ`.
        alpha: the fairness `α > 0`.
        iterations: number of Newton steps.
        bound: the cap relative to the orthogonal solution (`None`: from the dtype).

    Returns:
        Float tensor `[T]` of non-negative weights.
    """
    num_tasks = num_tasks_of(gram_matrix)
    dtype = gram_matrix.dtype
    alpha = float(alpha)
    inverse_alpha = 1.0 / alpha
    exponent = alpha / (alpha + 1.0)  # w_i = K_ii^(-exponent) for orthogonal gradients
    if bound is None:
        bound = float(np.finfo(dtype.as_numpy_dtype).eps) ** (-1.0 / 3.0)
    active = active_mask(gram_matrix)
    is_active = active > 0
    count = tf.reduce_sum(active)
    scale = tf.math.divide_no_nan(tf.reduce_sum(tf.linalg.diag_part(gram_matrix) * active), count)
    scale = tf.where(scale > 0, scale, tf.ones_like(scale))
    eye = tf.eye(num_tasks, dtype=dtype)
    outer = active[:, tf.newaxis] * active[tf.newaxis, :]
    kernel = gram_matrix / scale * outer + eye * (1.0 - active)[tf.newaxis, :]  # absent rows: identity
    start = tf.pow(tf.linalg.diag_part(kernel), -exponent)
    cap = bound * start

    def phi(w):
        if alpha == 1.0:
            return tf.math.log(w)
        return tf.pow(w, 1.0 - inverse_alpha) / (1.0 - inverse_alpha)

    def objective(w):  # [..., T] -> [...]
        quadratic = 0.5 * tf.reduce_sum(w * tf.linalg.matvec(kernel, w), axis=-1)
        return quadratic - tf.reduce_sum(phi(w) * active, axis=-1)

    halvings = tf.pow(tf.constant(0.5, dtype), tf.range(12, dtype=dtype))  # step lengths 1, ½, ..., 2^-11

    def newton(w):
        gradient = (tf.linalg.matvec(kernel, w) - tf.pow(w, -inverse_alpha)) * active
        # Weights at the cap that would grow further are held (box constraint); absent ones too.
        free = tf.logical_and(is_active, tf.logical_not(tf.logical_and(w >= cap, gradient < 0)))
        free = tf.cast(free, dtype)
        d = tf.pow(w, 0.5 * (1.0 + inverse_alpha)) * free
        system = d[:, tf.newaxis] * kernel * d[tf.newaxis, :] + inverse_alpha * eye
        s = tf.linalg.cholesky_solve(tf.linalg.cholesky(system), (d * gradient)[:, tf.newaxis])[:, 0]
        delta = d * s
        # Longest step that keeps every weight above a tenth of its value, then halvings of it.
        limit = tf.reduce_min(tf.where(delta > 0, 0.9 * w / tf.where(delta > 0, delta, 1.0), tf.ones_like(w)))
        steps = tf.concat([tf.minimum(limit, 1.0) * halvings, tf.zeros([1], dtype)], axis=0)
        candidates = tf.minimum(w[tf.newaxis, :] - steps[:, tf.newaxis] * delta[tf.newaxis, :], cap)
        best = tf.argmin(objective(candidates), output_type=tf.int32)
        # Close to the solution (Newton decrement < ½) the full step is taken: comparing objective
        # values there would stall at √ε relative accuracy, as f is flat to second order.
        decrement = tf.sqrt(tf.maximum(tf.reduce_sum(d * gradient * s), 0.0))
        return tf.where(decrement < 0.5, candidates[0], tf.gather(candidates, best))

    w = fixed_iterations(newton, start, iterations)
    return w * tf.pow(scale, -exponent) * active
