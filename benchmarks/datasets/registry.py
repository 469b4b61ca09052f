"""The benchmark registry: `load_benchmark(name, ...)` and `list_benchmarks()`."""

from mtl_keras.registry import Registry

BENCHMARKS = Registry("benchmark")


def register_benchmark(name, offline=True):
    """Decorator registering a loader `fn(seed=0, **options) -> MultiTaskBenchmark` under `name`.

    Args:
        name: registry name.
        offline: `True` if the data is generated on the spot (no download ever needed).
    """
    return BENCHMARKS.register(name, offline=offline)


def list_benchmarks(pattern="*", offline=None):
    """Sorted names of the registered benchmarks.

    Args:
        pattern: shell-style pattern, e.g. `"*digits*"`.
        offline: `None` for all, `True` for the generated (offline) sets only, `False` for the
            real data sets loaded through TFDS only.

    Returns:
        A sorted list of names.

    Example:

    >>> list_benchmarks(offline=True)
    ['gradnorm_scales', 'mmoe_synthetic', 'multi_digits']
    """
    names = BENCHMARKS.names(pattern)
    if offline is None:
        return names
    return [n for n in names if BENCHMARKS.metadata(n)["offline"] == offline]


def load_benchmark(name, seed=0, **options):
    """Loads a registered benchmark by name.

    Args:
        name: a name from `list_benchmarks()`.
        seed: seed of every random draw of the data set (generation, pairing, subsets).
        **options: the loader's own options (see each loader, e.g. `p=` for `mmoe_synthetic`).

    Returns:
        A `MultiTaskBenchmark`.

    Raises:
        ValueError: unknown name (the message lists the available names).

    Example:

    >>> bench = load_benchmark("gradnorm_scales", scales=(1.0, 100.0))
    >>> [t.name for t in bench.tasks]
    ['task_1', 'task_2']
    """
    return BENCHMARKS.get(name)(seed=seed, **options)
