"""Multi-task benchmark data sets: offline generated sets and real data sets through TFDS.

Every loader returns a `MultiTaskBenchmark` (tasks, input shape, mode and train / validation /
test splits in the format of `mtl_keras.data`). Load by name with `load_benchmark(name, seed=0,
**options)`; `list_benchmarks()` lists the names.

Offline (generated, deterministic by seed): `mmoe_synthetic`, `gradnorm_scales`, `multi_digits`,
also available as TFDS builders (`mtl_keras.benchmarks.datasets.tfds_builders`), and
`planted_groups` (six tasks with a known group structure).
Real (TFDS, the data must be on the machine): `multi_mnist_tfds`, `celeba_attributes`,
`mnist_fashion`.
"""

from .base import (
    SPLITS,
    DatasetNotAvailableError,
    MultiTaskBenchmark,
    to_multi_input,
)
from .celeba_attributes import load_celeba_attributes
from .gradnorm_scales import load_gradnorm_scales
from .mmoe_synthetic import load_mmoe_synthetic
from .mnist_fashion import load_mnist_fashion
from .multi_digits import load_multi_digits
from .multi_mnist_tfds import load_multi_mnist_tfds
from .planted_groups import load_planted_groups
from .registry import BENCHMARKS, list_benchmarks, load_benchmark

__all__ = [
    "BENCHMARKS",
    "SPLITS",
    "DatasetNotAvailableError",
    "MultiTaskBenchmark",
    "list_benchmarks",
    "load_benchmark",
    "load_celeba_attributes",
    "load_gradnorm_scales",
    "load_mmoe_synthetic",
    "load_mnist_fashion",
    "load_multi_digits",
    "load_multi_mnist_tfds",
    "load_planted_groups",
    "to_multi_input",
]
