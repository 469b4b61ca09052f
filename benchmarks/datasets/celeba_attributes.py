"""CelebA face attributes as binary tasks, through the TFDS `celeb_a` data set."""

from mtl_keras.task import Task

from .base import SPLITS, MultiTaskBenchmark
from .registry import register_benchmark
from .tfds_common import load_tfds, to_numpy

REFERENCE = (
    "Liu, Luo, Wang, Tang. Deep Learning Face Attributes in the Wild. ICCV 2015 (CelebA); as a 40-task "
    "benchmark in Sener & Koltun. Multi-Task Learning as Multi-Objective Optimization. NeurIPS 2018."
)
# The 40 attribute names of TFDS `celeb_a`, in its order.
ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby",
    "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male",
    "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair",
    "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)  # fmt: skip


def attribute_task_name(attribute):
    """Task name of a CelebA attribute: lower case, and `5_o_Clock_Shadow` -> `five_o_clock_shadow`."""
    name = attribute.lower()
    return "five" + name[1:] if name.startswith("5") else name


def _resolve(attributes):
    if attributes is None:
        return list(ATTRIBUTES)
    by_name = {attribute_task_name(a): a for a in ATTRIBUTES}
    by_name.update({a.lower(): a for a in ATTRIBUTES})
    chosen = []
    for item in [attributes] if isinstance(attributes, str) else attributes:
        if str(item).lower() not in by_name:
            raise ValueError(f"Unknown CelebA attribute: {item!r}. Available: {', '.join(ATTRIBUTES)}")
        chosen.append(by_name[str(item).lower()])
    if not chosen:
        raise ValueError("attributes must name at least one CelebA attribute. Received: attributes=[]")
    return list(dict.fromkeys(chosen))


@register_benchmark("celeba_attributes", offline=False, input_kind="image")
def load_celeba_attributes(
    seed=0,
    data_dir=None,
    download=False,
    attributes=None,
    image_size=32,
    max_examples=None,
    as_numpy=True,
):
    """Loads CelebA with one binary task per face attribute.

    Each 218x178 RGB face is resized (bilinear, aspect ratio not kept) to `image_size` and scaled to
    `[0, 1]`; each chosen attribute becomes a binary task (label 1 when the attribute is present).
    Sener & Koltun (2018) train all 40 attributes at once, as 40 tasks. The official CelebA
    train / validation / test partition of TFDS is used as is.

    Needs the TFDS `celeb_a` data prepared on this machine (or `download=True` with internet;
    TFDS downloads it from Google Drive, which is often rate-limited).

    Args:
        seed: unused (the partition is fixed); kept for the common loader signature.
        data_dir: TFDS data folder holding `celeb_a` (default: TFDS's default).
        download: let TFDS download `celeb_a` if missing.
        attributes: `None` for all 40, or a list of attribute names (TFDS names like
            `"Smiling"` or task names like `"smiling"`, `"five_o_clock_shadow"`).
        image_size: side of the square output images, or a tuple `(height, width)`.
        max_examples: read at most this many examples per split (quick runs; the full train
            split at 32x32 takes about 2 GB as float32).
        as_numpy: `True` gives arrays `(x, {task: y})`; `False` gives each split as a
            `tf.data.Dataset` of unbatched `(x, {task: y})`, read lazily.

    Returns:
        A `MultiTaskBenchmark`, `mode="shared"`, images `(height, width, 3)` float32 in `[0, 1]`,
        binary tasks named by `attribute_task_name` (`info["attributes"]` maps them back).

    Raises:
        DatasetNotAvailableError: `celeb_a` is not prepared in `data_dir` and `download=False`.

    Example:

    >>> bench = load_celeba_attributes(attributes=["Smiling", "Male"], max_examples=1000)
    >>> [t.name for t in bench.tasks]
    ['smiling', 'male']
    """
    import tensorflow as tf

    del seed
    chosen = _resolve(attributes)
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    names = [attribute_task_name(a) for a in chosen]

    def convert(example):
        image = tf.image.resize(tf.cast(example["image"], tf.float32) / 255.0, size)
        labels = {n: tf.cast(example["attributes"][a], tf.float32) for n, a in zip(names, chosen, strict=True)}
        return tf.clip_by_value(image, 0.0, 1.0), labels

    splits = {}
    for split in SPLITS:
        dataset = load_tfds("celeb_a", split, data_dir=data_dir, download=download)
        if as_numpy:
            splits[split] = to_numpy(dataset, convert, max_examples)
        else:
            if max_examples is not None:
                dataset = dataset.take(int(max_examples))
            splits[split] = dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
    return MultiTaskBenchmark(
        name="celeba_attributes",
        tasks=[Task(n, kind="binary") for n in names],
        input_shape=size + (3,),
        mode="shared",
        splits=splits,
        description=f"CelebA faces at {size[0]}x{size[1]}, {len(names)} binary attribute tasks.",
        reference=REFERENCE,
        info={"attributes": dict(zip(names, chosen, strict=True))},
    )
