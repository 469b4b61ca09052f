"""MNIST digits + Fashion-MNIST clothes: two tasks with their own inputs (multi-input mode)."""

from mtl_keras.task import Task

from .base import MultiTaskBenchmark, to_multi_input
from .registry import register_benchmark
from .tfds_common import hold_out, load_tfds, to_numpy

REFERENCE = (
    "LeCun, Bottou, Bengio, Haffner. Gradient-Based Learning Applied to Document Recognition. 1998 (MNIST); "
    "Xiao, Rasul, Vollgraf. Fashion-MNIST. 2017. Paired as a multi-input multi-task benchmark."
)
SOURCES = {"digit": "mnist", "fashion": "fashion_mnist"}


def _images(name, split, data_dir, download, max_examples):
    import tensorflow as tf

    dataset = load_tfds(name, split, data_dir=data_dir, download=download)
    return to_numpy(
        dataset,
        lambda ex: (tf.cast(ex["image"], tf.float32) / 255.0, tf.cast(ex["label"], tf.int32)),
        max_examples,
    )


@register_benchmark("mnist_fashion", offline=False, input_kind="image")
def load_mnist_fashion(
    seed=0,
    data_dir=None,
    download=False,
    train_sizes=None,
    validation_fraction=0.1,
    max_examples=None,
):
    """Loads two 10-way tasks on different inputs: `digit` (MNIST) and `fashion` (Fashion-MNIST).

    Both sets are 28x28 grey images, so one network input fits both, but every task has its own
    examples: the multi-input mode `{task: (x, y)}` of `mtl_keras.data.multitask_dataset`.
    `train_sizes` shrinks a task's training set (a seeded random subset) to study tasks with very
    different data-set sizes. `validation_fraction` of each training set (seeded) is held out.

    Needs the TFDS `mnist` and `fashion_mnist` data prepared on this machine (or `download=True`).

    Args:
        seed: seed of the validation hold-out and of the training subsets.
        data_dir: TFDS data folder holding both data sets (default: TFDS's default).
        download: let TFDS download missing data sets.
        train_sizes: optional dict `{"digit": n, "fashion": m}` of training-set sizes (ints, or
            fractions in `(0, 1]`).
        validation_fraction: fraction of each training set held out for validation.
        max_examples: read at most this many images per TFDS split (quick runs).

    Returns:
        A `MultiTaskBenchmark`, `mode="multi"`, images `(28, 28, 1)` float32 in `[0, 1]`.

    Raises:
        DatasetNotAvailableError: a data set is not prepared in `data_dir` and `download=False`.

    Example:

    >>> bench = load_mnist_fashion(train_sizes={"fashion": 1000})
    >>> bench.num_examples("train")["fashion"]
    1000
    """
    train_sizes = dict(train_sizes or {})
    unknown = sorted(set(train_sizes) - set(SOURCES))
    if unknown:
        raise ValueError(f"train_sizes given for unknown tasks: {unknown}. Tasks: {list(SOURCES)}")
    splits = {"train": {}, "validation": {}, "test": {}}
    for i, (task, source) in enumerate(SOURCES.items()):
        x, y = _images(source, "train", data_dir, download, max_examples)
        keep, held = hold_out(len(x), validation_fraction, seed + i)
        train = (x[keep], y[keep])
        if task in train_sizes:
            train = to_multi_input((train[0], {task: train[1]}), sizes={task: train_sizes[task]}, seed=seed + i)[task]
        splits["train"][task] = train
        splits["validation"][task] = (x[held], y[held])
        splits["test"][task] = _images(source, "test", data_dir, download, max_examples)
    return MultiTaskBenchmark(
        name="mnist_fashion",
        tasks=[Task("digit", num_classes=10), Task("fashion", num_classes=10)],
        input_shape=(28, 28, 1),
        mode="multi",
        splits=splits,
        description="MNIST digit and Fashion-MNIST clothing classification, each task with its own images.",
        reference=REFERENCE,
        info={"sources": dict(SOURCES), "seed": seed},
    )
