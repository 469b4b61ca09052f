"""The benchmark object every loader returns, and split helpers shared by the loaders."""

import dataclasses

import numpy as np

SPLITS = ("train", "validation", "test")
MODES = ("shared", "multi")


class DatasetNotAvailableError(RuntimeError):
    """Raised when a real (TFDS) data set is not on this machine and may not be downloaded."""


@dataclasses.dataclass
class MultiTaskBenchmark:
    """A multi-task data set with its tasks and its train / validation / test splits.

    Each split is in the format of `mtl_keras.data`:

    - `mode="shared"`: one input with a label per task, `(x, {task_name: y})`;
    - `mode="multi"`: one data set per task, `{task_name: (x, y)}`, sizes may differ.

    Args:
        name: the registry name of the benchmark.
        tasks: list of `mtl_keras.Task`, one per label, with `kind` set.
        input_shape: shape of one input example (without the batch axis).
        mode: `"shared"` or `"multi"`.
        splits: dict `{"train": ..., "validation": ..., "test": ...}` in the format of `mode`.
            Splits of TFDS loaders with `as_numpy=False` are `tf.data.Dataset`s of unbatched
            `(x, {task: y})` (shared) or dicts `{task: tf.data.Dataset}` of `(x, y)` (multi).
        description: how the data is made and what it tests.
        reference: the paper the benchmark comes from.
        info: extra facts about the generation (e.g. generating parameters, source indices).

    Example:

    >>> bench = load_benchmark("mmoe_synthetic", p=0.5)
    >>> x, labels = bench.splits["train"]
    >>> model.fit(mtl_keras.data.shared_input_dataset(x, labels), ...)
    """

    name: str
    tasks: list
    input_shape: tuple
    mode: str
    splits: dict
    description: str = ""
    reference: str = ""
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}. Received: mode={self.mode!r}")
        missing = [s for s in SPLITS if s not in self.splits]
        if missing:
            raise ValueError(f"A benchmark needs the splits {SPLITS}. Missing: {missing}")
        self.input_shape = tuple(self.input_shape)

    @property
    def task_names(self):
        """Names of the tasks, in order."""
        return [t.name for t in self.tasks]

    def num_examples(self, split="train"):
        """Number of examples of a split: an int (shared mode) or a dict by task (multi mode)."""
        data = self.splits[split]
        if self.mode == "shared":
            return len(data[0])
        return {name: len(xy[0]) for name, xy in data.items()}

    def multi_input(self, split="train", sizes=None, seed=0):
        """Returns a split in multi-input form `{task: (x, y)}`; see `to_multi_input`."""
        if self.mode == "multi":
            return self.splits[split]
        return to_multi_input(self.splits[split], sizes=sizes, seed=seed)


def to_multi_input(split, sizes=None, seed=0):
    """Turns a shared-input split `(x, {task: y})` into multi-input form `{task: (x_i, y_i)}`.

    Each task gets its own random subset of the examples (drawn without replacement,
    independently per task), so tasks may have different data-set sizes: this exercises the
    multi-input mode of `mtl_keras.data.multitask_dataset`, where a small task is cycled more often.

    Args:
        split: a tuple `(x, {task_name: y})` of arrays with `n` examples.
        sizes: `None` (every task keeps all `n` examples, in order), or a dict
            `{task_name: size}` where a size is an int `<= n` or a fraction in `(0, 1]`.
            Tasks left out of the dict keep all examples.
        seed: seed of the subset draws.

    Returns:
        A dict `{task_name: (x_i, y_i)}`.

    Example:

    >>> x = np.zeros((10, 3)); labels = {"a": np.arange(10), "b": np.arange(10)}
    >>> data = to_multi_input((x, labels), sizes={"a": 4, "b": 0.5})
    >>> len(data["a"][0]), len(data["b"][0])
    (4, 5)
    """
    if not (isinstance(split, tuple) and len(split) == 2 and isinstance(split[1], dict)):
        raise ValueError(f"Expected a shared-input split (x, {{task: y}}). Received: {type(split).__name__}")
    x, labels = split
    n = len(x)
    sizes = dict(sizes or {})
    unknown = sorted(set(sizes) - set(labels))
    if unknown:
        raise ValueError(f"sizes given for unknown tasks: {unknown}. Tasks: {list(labels)}")
    rng = np.random.default_rng(seed)
    out = {}
    for name, y in labels.items():
        size = sizes.get(name)
        if size is None:
            out[name] = (x, y)
            continue
        count = _count(name, size, n)
        index = np.sort(rng.choice(n, size=count, replace=False))
        out[name] = (x[index], np.asarray(y)[index])
    return out


def _count(name, size, n):
    if isinstance(size, float) and 0 < size <= 1:
        return max(1, round(size * n))
    if int(size) != size or not 1 <= size <= n:
        raise ValueError(
            f"Task '{name}': size must be an int in [1, {n}] or a fraction in (0, 1]. Received: size={size!r}"
        )
    return int(size)


def check_sizes(**sizes):
    """Raises a `ValueError` quoting the first size that is not a positive integer."""
    for key, value in sizes.items():
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{key} must be a positive integer. Received: {key}={value!r}")
