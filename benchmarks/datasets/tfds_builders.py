"""The offline benchmarks as TFDS dataset builders, generated locally (no download ever).

Importing this module registers three TFDS data sets: `mtl_mmoe_synthetic`, `mtl_gradnorm_scales`
and `mtl_multi_digits`. Each writes the train / validation / test splits of the matching loader
(`load_benchmark(name, seed, **options)`), one feature per task plus the input `"x"`:

>>> import tensorflow_datasets as tfds
>>> from mtl_keras.benchmarks.datasets import tfds_builders
>>> ds = tfds.load("mtl_multi_digits", split="train", data_dir="/tmp/tfds")
>>> ds = tfds_builders.as_shared_input(ds, ["left", "right"])  # unbatched (x, {task: y})

Other seeds or options go through a `BenchmarkConfig` (its `name` names the folder):

>>> config = tfds_builders.BenchmarkConfig(name="p_0_9", seed=1, options={"p": 0.9})
>>> builder = tfds_builders.MtlMmoeSynthetic(config=config, data_dir="/tmp/tfds")
>>> builder.download_and_prepare()
"""

import dataclasses

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from .base import SPLITS
from .registry import load_benchmark


@dataclasses.dataclass(eq=False)
class BenchmarkConfig(tfds.core.BuilderConfig):
    """Builder config: the loader's `seed` and keyword `options` (e.g. `{"p": 0.9}`)."""

    seed: int = 0
    options: dict = dataclasses.field(default_factory=dict)


def task_feature(task):
    """The TFDS feature of a task's label: a `ClassLabel` or a float32 `Tensor`."""
    if task.kind == "classification":
        return tfds.features.ClassLabel(num_classes=task.num_classes)
    shape = () if task.output_units == 1 else (task.output_units,)
    return tfds.features.Tensor(shape=shape, dtype=np.float32)


def as_shared_input(dataset, task_names):
    """Maps a data set of feature dicts to unbatched `(x, {task: y})` pairs."""
    return dataset.map(lambda example: (example["x"], {name: example[name] for name in task_names}))


class _BenchmarkBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Writes the splits of the registered benchmark `BENCHMARK` as a TFDS data set."""

    BENCHMARK = None
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First version, generated from mtl_keras.benchmarks.datasets."}
    BUILDER_CONFIGS = [BenchmarkConfig(name="default", description="seed 0, default options")]
    # TFDS derives `code_path` from the top-level package, which needs the `importlib_resources`
    # backport on Python >= 3.9 and misses the `mtl_keras.benchmarks` -> `benchmarks/` mapping.
    code_path = epath.Path(__file__)

    def _benchmark(self):
        if getattr(self, "_loaded", None) is None:
            config = self.builder_config
            self._loaded = load_benchmark(self.BENCHMARK, seed=config.seed, **config.options)
        return self._loaded

    def _info(self):
        bench = self._benchmark()
        features = {"x": tfds.features.Tensor(shape=bench.input_shape, dtype=np.float32)}
        features.update({task.name: task_feature(task) for task in bench.tasks})
        # `tfds.core.DatasetInfo` directly: `dataset_info_from_configs` looks for metadata files
        # next to the module's import path, which the `mtl_keras.benchmarks` mapping breaks.
        return tfds.core.DatasetInfo(
            builder=self,
            description=f"{bench.description} Tasks: {', '.join(bench.task_names)}.",
            features=tfds.features.FeaturesDict(features),
            citation=bench.reference,
            disable_shuffling=True,  # keep the loader's example order
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # generated locally, nothing to download
        return {split: self._generate_examples(split) for split in SPLITS}

    def _generate_examples(self, split):
        x, labels = self._benchmark().splits[split]
        for i in range(len(x)):
            yield i, {"x": x[i], **{name: y[i] for name, y in labels.items()}}


class MtlMmoeSynthetic(_BenchmarkBuilder):
    """MMoE synthetic regression pair with controllable task correlation (Ma et al., KDD 2018)."""

    BENCHMARK = "mmoe_synthetic"


class MtlGradnormScales(_BenchmarkBuilder):
    """GradNorm toy regression tasks of very different label scales (Chen et al., ICML 2018)."""

    BENCHMARK = "gradnorm_scales"


class MtlMultiDigits(_BenchmarkBuilder):
    """Two overlapping scikit-learn 8x8 digits per image: a small offline MultiMNIST."""

    BENCHMARK = "multi_digits"
