"""The benchmark registry: `load_benchmark(name, ...)` and `list_benchmarks()`."""

from mtl_keras.registry import Registry

BENCHMARKS = Registry("benchmark")


#: Kinds of benchmark inputs, as zoo models name theirs: rank-1 vectors or `(height, width, channels)` images.
INPUT_KINDS = ("vector", "image")


def register_benchmark(name, offline=True, input_kind="vector"):
    """Decorator registering a loader `fn(seed=0, **options) -> MultiTaskBenchmark` under `name`.

    Args:
        name: registry name.
        offline: `True` if the data is generated on the spot (no download ever needed).
        input_kind: `"vector"` or `"image"`, the inputs' kind; the runner gives image benchmarks
            to every zoo model (vector models see flattened images) and vector benchmarks to
            vector models only.
    """
    if input_kind not in INPUT_KINDS:
        raise ValueError(f"register_benchmark('{name}'): input_kind must be one of {INPUT_KINDS}. Received: {input_kind!r}")
    return BENCHMARKS.register(name, offline=offline, input_kind=input_kind)


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
