"""Transfer benchmark on the offline digits set: fine-tuning vs training from scratch vs frozen features.

Pre-train a small conv net on the source tasks `left`, `right` and `left_parity` of
`multi_digits` (first 1600 training images), then solve the held-back target task `sum_ge_10`
(is the sum of the two digits at least 10?) from a few labelled images (`--target-examples`,
taken from the other training images) without the source data. Compared, on the test split:

- scratch: the same network, randomly initialised, trained on the target examples only;
- frozen: the pre-trained body as a frozen feature extractor, only a fresh head trained;
- fine-tune: everything trained from the pre-trained weights with a smaller learning rate;
- fine-tune + ULMFiT: discriminative rates (decay 2.6 per layer group) and gradual unfreezing.

Run: `python benchmarks/transfer_digits.py [--target-examples 50] [--seeds 3]`.
"""

import argparse
import time

import keras
import numpy as np

import mtl_keras as mk
from mtl_keras import transfer
from mtl_keras.benchmarks import datasets

SOURCE = ("left", "right", "left_parity")
TARGET = "sum_ge_10"


def trunk():
    return keras.Sequential(
        [
            keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(32, 3, activation="relu", padding="same", name="conv2"),
            keras.layers.MaxPooling2D(2, name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="relu", name="dense"),
        ],
        name="trunk",
    )


def run(target_examples, seed, source_epochs, target_epochs):
    keras.utils.set_random_seed(seed)
    bench = datasets.load_benchmark("multi_digits")
    x, labels = bench.splits["train"]
    x_test, labels_test = bench.splits["test"]
    tasks = {t.name: t for t in bench.tasks}
    source_x = x[:1600]
    heads = mk.layers.TaskHeads([tasks[n].output_units for n in SOURCE], hidden_units=(32,), name="heads")
    source = mk.MultiTaskModel([tasks[n] for n in SOURCE], body=trunk(), heads=heads, input_shape=bench.input_shape)
    source.compile(keras.optimizers.Adam(2e-3))
    source.fit(
        mk.data.shared_input_dataset(source_x, {n: labels[n][:1600] for n in SOURCE}, batch_size=64, seed=seed),
        epochs=source_epochs,
        verbose=0,
    )
    pick = np.random.default_rng(seed).choice(np.arange(1600, len(x)), target_examples, replace=False)
    target = tasks[TARGET]
    train = mk.data.shared_input_dataset(x[pick], {TARGET: labels[TARGET][pick]}, batch_size=16, seed=seed)
    test = mk.data.shared_input_dataset(x_test, {TARGET: labels_test[TARGET]}, batch_size=400, shuffle=False)

    def accuracy(model):
        return model.evaluate(test, verbose=0, return_dict=True)[f"{TARGET}_accuracy"]

    results = {}
    scratch_heads = mk.layers.TaskHeads([target.output_units], hidden_units=(32,), name="heads")
    scratch = mk.MultiTaskModel([target], body=trunk(), heads=scratch_heads, input_shape=bench.input_shape)
    scratch.compile(keras.optimizers.Adam(1e-3))
    scratch.fit(train, epochs=target_epochs, verbose=0)
    results["scratch"] = accuracy(scratch)
    results["frozen features"] = accuracy(
        transfer.fine_tune(source, target, train, epochs=target_epochs, learning_rate=1e-3, freeze="body", verbose=0)
    )
    results["fine-tune (lr 3e-4)"] = accuracy(
        transfer.fine_tune(source, target, train, epochs=target_epochs, learning_rate=3e-4, verbose=0)
    )
    results["fine-tune + ULMFiT"] = accuracy(
        transfer.fine_tune(
            source, target, train, epochs=target_epochs, learning_rate=1e-3, decay=2.6, unfreeze="top_down", verbose=0
        )
    )
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-examples", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--source-epochs", type=int, default=12)
    parser.add_argument("--target-epochs", type=int, default=30)
    args = parser.parse_args(argv)
    start = time.time()
    runs = [run(args.target_examples, seed, args.source_epochs, args.target_epochs) for seed in range(args.seeds)]
    print(f"Target task '{TARGET}' from {args.target_examples} examples; source tasks {', '.join(SOURCE)}; "
          f"test accuracy, mean ± std over {args.seeds} seeds\n")
    print("| method | test accuracy |")
    print("|---|---|")
    for method in runs[0]:
        values = np.array([r[method] for r in runs])
        print(f"| {method} | {values.mean():.3f} ± {values.std():.3f} |")
    print(f"\n({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
