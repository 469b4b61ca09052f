"""`split`: per-task train / validation / test parts of in-memory data."""

import numpy as np

from mtl_keras.data import checks


def split(data, fractions=(0.8, 0.2), seed=0):
    """Splits per-task arrays `{task: (x, y[, w])}` into parts by `fractions`, shuffling each task.

    Every example of every task lands in exactly one part; part sizes are the fractions of each
    task's size, rounded (the last part takes what is left).

    Args:
        data: dict `{task_name: (x, y)}` or `{task_name: (x, y, sample_weight)}` of arrays (`x`
            may be a dict of arrays).
        fractions: the parts' shares, each in `(0, 1]`, summing to 1.
        seed: seed of the shuffles.

    Returns:
        A list of dicts `{task: (x, y[, w])}`, one per fraction.

    Example:

    >>> train, test = split({"a": (x_a, y_a), "b": (x_b, y_b)}, fractions=(0.8, 0.2))
    """
    fractions = checks.check_fractions(fractions)
    if not isinstance(data, dict) or not data:
        raise ValueError(f"split expects a non-empty dict {{task_name: (x, y)}}. Received: {type(data).__name__}")
    rng = np.random.default_rng(checks.check_seed(seed))
    parts = [{} for _ in fractions]
    for name, arrays in data.items():
        if not isinstance(arrays, (tuple, list)) or len(arrays) not in (2, 3):
            raise ValueError(f"Task '{name}': expected (x, y) or (x, y, sample_weight) arrays. Received: {type(arrays).__name__}")
        arrays = [
            {k: checks.as_array(name, v, f"x[{k!r}]") for k, v in a.items()} if isinstance(a, dict) else checks.as_array(name, a, what)
            for a, what in zip(arrays, ("x", "y", "sample_weight"))
        ]
        n = checks.num_examples(arrays[0])
        lengths = [checks.num_examples(a) for a in arrays]
        if len(set(lengths)) > 1:
            raise ValueError(f"Task '{name}': x, y (and sample_weight) have different numbers of examples: {lengths}")
        order = rng.permutation(n)
        bounds = np.cumsum([0] + [round(f * n) for f in fractions])
        bounds[-1] = n
        for k in range(len(fractions)):
            index = order[bounds[k] : bounds[k + 1]]
            parts[k][name] = tuple(_take(a, index) for a in arrays)
    return parts


def _take(array, index):
    if isinstance(array, dict):
        return {k: np.asarray(v)[index] for k, v in array.items()}
    return np.asarray(array)[index]
