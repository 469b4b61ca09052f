"""A small two-digit "MultiMNIST" built from scikit-learn's bundled 8x8 digits (no download)."""

import numpy as np

from mtl_keras.task import Task

from .base import MultiTaskBenchmark, check_sizes
from .registry import register_benchmark

REFERENCE = (
    "Sener & Koltun. Multi-Task Learning as Multi-Objective Optimization. NeurIPS 2018 (MultiMNIST, "
    "after Sabour, Frosst, Hinton. Dynamic Routing Between Capsules. NeurIPS 2017)."
)
MERGES = ("max", "sum")
DIGIT = 8  # side of a scikit-learn digit


def source_digits():
    """scikit-learn's 1797 bundled digits as float32 `(1797, 8, 8)` in `[0, 1]` and int labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images / 16.0).astype("float32"), digits.target.astype("int32")


def compose_pairs(images, left, right, left_shift, right_shift, overlap=2, max_shift=2, merge="max"):
    """Places digit `left[k]` on the left and `right[k]` on the right of a canvas and merges them.

    The canvas is `(8 + max_shift) x (16 - overlap)`: the left digit fills columns `[0, 8)`, the
    right digit columns `[8 - overlap, 16 - overlap)`, each moved down by its own row shift.
    Overlapping pixels are merged by `max` or by a sum clipped to 1.

    Returns:
        float32 images `(n, 8 + max_shift, 16 - overlap, 1)` in `[0, 1]`.
    """
    height, width = DIGIT + max_shift, 2 * DIGIT - overlap
    n = len(left)
    canvas_left = np.zeros((n, height, width), "float32")
    canvas_right = np.zeros((n, height, width), "float32")
    for k in range(n):
        canvas_left[k, left_shift[k] : left_shift[k] + DIGIT, :DIGIT] = images[left[k]]
        canvas_right[k, right_shift[k] : right_shift[k] + DIGIT, width - DIGIT :] = images[right[k]]
    if merge == "max":
        merged = np.maximum(canvas_left, canvas_right)
    else:
        merged = np.minimum(canvas_left + canvas_right, 1.0)
    return merged[..., None]


@register_benchmark("multi_digits", input_kind="image")
def load_multi_digits(
    seed=0,
    num_train=2000,
    num_validation=400,
    num_test=400,
    overlap=2,
    max_shift=2,
    merge="max",
    attributes=True,
    source_fractions=(0.6, 0.2, 0.2),
):
    """Loads two overlapping 8x8 digits per image, with one task per digit and attribute tasks.

    Generation: the 1797 scikit-learn digits (pixels scaled to `[0, 1]`) are shuffled and cut
    into disjoint source pools for train / validation / test (`source_fractions`), so no source
    digit is shared between splits. Each example draws a left and a right digit from its split's
    pool (uniformly, with replacement), moves each down by a random `0..max_shift` rows, and
    places them on a `(8 + max_shift) x (16 - overlap)` canvas: the left digit in columns
    `[0, 8)`, the right one in `[8 - overlap, 16 - overlap)`, so they overlap by `overlap`
    columns, merged by pixel-wise `max` (or a sum clipped to 1). This is the MultiMNIST recipe
    (two shifted, overlapping digits, one task per digit) scaled down to the bundled digits.

    Tasks: `left`, `right` (10-way classification) and, with `attributes=True`,
    `left_parity = left mod 2` (binary, 1 = odd) and `sum_ge_10 = [left + right >= 10]` (binary).

    Args:
        seed: seed of the pools, the pairs and the shifts.
        num_train: training images.
        num_validation: validation images.
        num_test: test images.
        overlap: columns shared by the two digits, in `[0, 8]`.
        max_shift: largest random downward shift of a digit, in rows (canvas height `8 + max_shift`).
        merge: `"max"` or `"sum"` (clipped sum).
        attributes: add the binary tasks `left_parity` and `sum_ge_10`.
        source_fractions: fractions of the source digits in the train / validation / test pools.

    Returns:
        A `MultiTaskBenchmark`, `mode="shared"`, images `(8 + max_shift, 16 - overlap, 1)` float32
        in `[0, 1]`; `info[split]` holds the source indices (`left_index`, `right_index` into
        `sklearn.datasets.load_digits()`) and row shifts of every example.

    Example:

    >>> bench = load_multi_digits(num_train=500)
    >>> x, labels = bench.splits["train"]
    >>> x.shape, sorted(labels)
    ((500, 10, 14, 1), ['left', 'left_parity', 'right', 'sum_ge_10'])
    """
    check_sizes(num_train=num_train, num_validation=num_validation, num_test=num_test)
    if int(overlap) != overlap or not 0 <= overlap <= DIGIT:
        raise ValueError(f"overlap must be an integer in [0, {DIGIT}]. Received: overlap={overlap!r}")
    if int(max_shift) != max_shift or max_shift < 0:
        raise ValueError(f"max_shift must be an integer >= 0. Received: max_shift={max_shift!r}")
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {MERGES}. Received: merge={merge!r}")
    if len(source_fractions) != 3 or abs(sum(source_fractions) - 1.0) > 1e-6 or min(source_fractions) <= 0:
        raise ValueError(f"source_fractions must be 3 positive fractions summing to 1. Received: {source_fractions!r}")
    images, targets = source_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    bounds = np.cumsum([0] + [round(f * len(images)) for f in source_fractions])
    bounds[-1] = len(images)
    splits, info = {}, {"overlap": overlap, "max_shift": max_shift, "merge": merge, "seed": seed}
    for k, (split, count) in enumerate((("train", num_train), ("validation", num_validation), ("test", num_test))):
        pool = order[bounds[k] : bounds[k + 1]]
        left, right = rng.choice(pool, count), rng.choice(pool, count)
        left_shift, right_shift = rng.integers(0, max_shift + 1, (2, count))
        x = compose_pairs(images, left, right, left_shift, right_shift, overlap, max_shift, merge)
        labels = {"left": targets[left], "right": targets[right]}
        if attributes:
            labels["left_parity"] = (targets[left] % 2).astype("float32")
            labels["sum_ge_10"] = (targets[left] + targets[right] >= 10).astype("float32")
        splits[split] = (x, labels)
        info[split] = {"left_index": left, "right_index": right, "left_shift": left_shift, "right_shift": right_shift}
    tasks = [Task("left", num_classes=10), Task("right", num_classes=10)]
    if attributes:
        tasks += [Task("left_parity", kind="binary"), Task("sum_ge_10", kind="binary")]
    return MultiTaskBenchmark(
        name="multi_digits",
        tasks=tasks,
        input_shape=(DIGIT + max_shift, 2 * DIGIT - overlap, 1),
        mode="shared",
        splits=splits,
        description="Two overlapping scikit-learn 8x8 digits per image (a small offline MultiMNIST).",
        reference=REFERENCE,
        info=info,
    )
