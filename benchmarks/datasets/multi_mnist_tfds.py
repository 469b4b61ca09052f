"""MultiMNIST built from the TFDS `mnist` data set (Sabour et al. 2017; Sener & Koltun 2018)."""

import numpy as np

from mtl_keras.task import Task

from .base import MultiTaskBenchmark
from .registry import register_benchmark
from .tfds_common import hold_out, load_tfds, to_numpy

REFERENCE = (
    "Sener & Koltun. Multi-Task Learning as Multi-Objective Optimization. NeurIPS 2018 (MultiMNIST "
    "of Sabour, Frosst, Hinton. Dynamic Routing Between Capsules. NeurIPS 2017)."
)
SIDE = 28  # side of an MNIST digit


def overlay_pairs(images, left, right, shifts, max_shift=4, image_size=28, chunk=4096):
    """Puts `images[left]` at the top-left and `images[right]` at the bottom-right of a canvas.

    The canvas is `(28 + 2·max_shift)` pixels square. The left digit's corner is at
    `(dy_l, dx_l)` and the right digit's at `(2·max_shift - dy_r, 2·max_shift - dx_r)`, with the
    four shifts of each example in `[0, max_shift]` (columns of `shifts`); the digits overlap and
    are merged by pixel-wise max, then the canvas is resized (bilinear) to `image_size`.

    Returns:
        float32 images `(n, image_size, image_size, 1)` in `[0, 1]`.
    """
    import tensorflow as tf

    side = SIDE + 2 * max_shift
    out = []
    for start in range(0, len(left), chunk):
        stop = min(start + chunk, len(left))
        canvas = np.zeros((stop - start, side, side), "float32")
        for k in range(start, stop):
            dy_l, dx_l, dy_r, dx_r = shifts[k]
            top, col = 2 * max_shift - dy_r, 2 * max_shift - dx_r
            canvas[k - start, dy_l : dy_l + SIDE, dx_l : dx_l + SIDE] = images[left[k]]
            window = canvas[k - start, top : top + SIDE, col : col + SIDE]
            np.maximum(window, images[right[k]], out=window)
        if image_size != side:
            canvas = tf.image.resize(canvas[..., None], (image_size, image_size)).numpy()[..., 0]
        out.append(np.clip(canvas, 0.0, 1.0))
    return np.concatenate(out)[..., None]


def _mnist(split, data_dir, download, max_examples):
    import tensorflow as tf

    dataset = load_tfds("mnist", split, data_dir=data_dir, download=download)
    images, labels = to_numpy(
        dataset,
        lambda ex: (tf.cast(ex["image"][..., 0], tf.float32) / 255.0, tf.cast(ex["label"], tf.int32)),
        max_examples,
    )
    return images, labels


@register_benchmark("multi_mnist_tfds", offline=False, input_kind="image")
def load_multi_mnist_tfds(
    seed=0,
    data_dir=None,
    download=False,
    image_size=28,
    max_shift=4,
    pairs_per_image=1,
    validation_fraction=0.1,
    max_examples=None,
    distinct_classes=True,
):
    """Loads MultiMNIST: two overlapping MNIST digits per image, tasks `left` and `right`.

    Generation (Sabour et al. 2017, as used by Sener & Koltun 2018): for each source image of a
    split (times `pairs_per_image`) a second digit is drawn at random from the same split (of a
    different class with `distinct_classes`). On a `(28 + 2·max_shift)²` canvas the first digit
    sits at the top-left and the second at the bottom-right, each moved by up to `max_shift`
    pixels in each direction, so they overlap; pixels are merged by max and the canvas is resized
    to `image_size` (Sener & Koltun: 36x36 canvas resized to 28x28). `validation_fraction` of the
    MNIST training images (a seeded random subset) forms the validation pool, so no digit image
    is shared between splits.

    Needs the TFDS `mnist` data prepared on this machine (or `download=True` with internet).

    Args:
        seed: seed of the validation hold-out, the pairs and the shifts.
        data_dir: TFDS data folder holding `mnist` (default: TFDS's default).
        download: let TFDS download `mnist` if missing.
        image_size: side of the output images.
        max_shift: largest shift of a digit from its corner, in pixels.
        pairs_per_image: examples made per source image.
        validation_fraction: fraction of the MNIST training images held out for validation.
        max_examples: read at most this many MNIST images per TFDS split (quick runs).
        distinct_classes: pair digits of different classes only.

    Returns:
        A `MultiTaskBenchmark`, `mode="shared"`, images `(image_size, image_size, 1)` float32 in
        `[0, 1]`, tasks `left`, `right` (10-way classification).

    Raises:
        DatasetNotAvailableError: `mnist` is not prepared in `data_dir` and `download=False`.

    Example:

    >>> bench = load_multi_mnist_tfds(data_dir="/data/tfds")
    >>> x, labels = bench.splits["train"]
    """
    if int(pairs_per_image) != pairs_per_image or pairs_per_image < 1:
        raise ValueError(f"pairs_per_image must be a positive integer. Received: pairs_per_image={pairs_per_image!r}")
    train_images, train_labels = _mnist("train", data_dir, download, max_examples)
    test_images, test_labels = _mnist("test", data_dir, download, max_examples)
    keep, held = hold_out(len(train_images), validation_fraction, seed)
    pools = {
        "train": (train_images[keep], train_labels[keep]),
        "validation": (train_images[held], train_labels[held]),
        "test": (test_images, test_labels),
    }
    rng = np.random.default_rng([seed, 11])
    splits, info = {}, {"seed": seed, "max_shift": max_shift, "image_size": image_size}
    for split, (images, labels) in pools.items():
        left = np.repeat(np.arange(len(images)), pairs_per_image)
        right = _partners(rng, labels, left, distinct_classes)
        shifts = rng.integers(0, max_shift + 1, (len(left), 4))
        x = overlay_pairs(images, left, right, shifts, max_shift=max_shift, image_size=image_size)
        splits[split] = (x, {"left": labels[left], "right": labels[right]})
        info[split] = {"left_index": left, "right_index": right, "shifts": shifts}
    return MultiTaskBenchmark(
        name="multi_mnist_tfds",
        tasks=[Task("left", num_classes=10), Task("right", num_classes=10)],
        input_shape=(image_size, image_size, 1),
        mode="shared",
        splits=splits,
        description="MultiMNIST: two overlapping MNIST digits (top-left, bottom-right) per image.",
        reference=REFERENCE,
        info=info,
    )


def _partners(rng, labels, left, distinct_classes):
    right = rng.integers(0, len(labels), len(left))
    if not distinct_classes or len(np.unique(labels)) < 2:
        return right
    for _ in range(100):  # redraw the clashes; each round fixes about 90% of them
        clash = labels[right] == labels[left]
        if not clash.any():
            break
        right[clash] = rng.integers(0, len(labels), int(clash.sum()))
    return right
