"""Shared pieces of the real-data loaders: reading TFDS offline with a clear error, to numpy."""

import numpy as np

from .base import DatasetNotAvailableError


def load_tfds(name, split, data_dir=None, download=False):
    """Returns `tfds.load(name, split=split)` or raises `DatasetNotAvailableError` with directions.

    Args:
        name: TFDS data set name, e.g. `"mnist"`.
        split: TFDS split, e.g. `"train"`.
        data_dir: folder holding prepared TFDS data (default: TFDS's, `~/tensorflow_datasets`).
        download: let TFDS download and prepare the data if it is missing (needs internet).

    Returns:
        A `tf.data.Dataset` of feature dicts.
    """
    import tensorflow_datasets as tfds

    try:
        return tfds.load(name, split=split, data_dir=data_dir, download=download)
    except Exception as error:  # any TFDS failure here means the data is not usable
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatasetNotAvailableError(_directions(name, data_dir, download, reason)) from None


def _directions(name, data_dir, download, reason):
    where = data_dir or "the TFDS default data_dir (~/tensorflow_datasets or $TFDS_DATA_DIR)"
    how = (
        f"On a machine with internet, run `tfds build {name} --data_dir DIR` (or "
        f"`tfds.builder('{name}', data_dir=DIR).download_and_prepare()`), copy DIR to this machine "
        f"and pass data_dir=DIR; or pass download=True where the internet is reachable."
    )
    if download:
        how = f"Downloading failed; check the network, or prepare it elsewhere: {how}"
    return f"The TFDS data set '{name}' is not available in {where}. {how} (TFDS: {reason})"


def to_numpy(dataset, fn, max_examples=None, batch_size=1024):
    """Maps `fn` over an unbatched data set and gathers the result as (nested dicts of) numpy arrays."""
    import tensorflow as tf

    if max_examples is not None:
        dataset = dataset.take(int(max_examples))
    dataset = dataset.map(fn, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
    parts = list(dataset.as_numpy_iterator())
    if not parts:
        raise DatasetNotAvailableError("The TFDS split is empty: no examples to load.")
    return _concat(parts)


def _concat(parts):
    if isinstance(parts[0], dict):
        return {k: _concat([p[k] for p in parts]) for k in parts[0]}
    if isinstance(parts[0], tuple):
        return tuple(_concat([p[i] for p in parts]) for i in range(len(parts[0])))
    return np.concatenate(parts, axis=0)


def hold_out(count, fraction, seed):
    """Splits `range(count)` into shuffled `(keep, held_out)` index arrays, `fraction` held out."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1). Received: validation_fraction={fraction!r}")
    order = np.random.default_rng([seed, 7]).permutation(count)
    cut = max(1, round(fraction * count)) if count > 1 else 0
    return np.sort(order[cut:]), np.sort(order[:cut])
