"""Training script run as a separate process by the distributed / fault-tolerance tests.

Usage: python train_worker.py OUT_PREFIX [--epochs N] [--backup DIR] [--save-freq epoch|N] [--kill-at EPOCH:BATCH]
       [--tasks-per-step K] [--multi-worker] [--deterministic] [--steps-per-execution N] [--shared-input]

Writes OUT_PREFIX.npz (final weights) and OUT_PREFIX.json (loss history). With --kill-at the
process announces itself in OUT_PREFIX.ready at that batch and waits to be killed. With
--multi-worker, TF_CONFIG (set by the parent) describes the cluster.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mtl_keras as mk  # noqa: E402


class WaitToBeKilled(keras.callbacks.Callback):
    def __init__(self, epoch, batch, ready_path):
        super().__init__()
        self.target = (epoch, batch)
        self.ready_path = ready_path
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.target:
            with open(self.ready_path, "w") as f:
                f.write("ready")
            time.sleep(600)  # the parent sends SIGKILL now


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(192, 8)).astype("float32")
    xb = rng.normal(size=(96, 8)).astype("float32")
    return {
        "cls": (x, (x[:, 0] - x[:, 1] > 0).astype("int32")),
        "reg": (xb, (2.0 * xb[:, 2] + xb[:, 3]).astype("float32")),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--backup", default=None)
    parser.add_argument("--kill-at", default=None)
    parser.add_argument("--tasks-per-step", type=int, default=2)
    parser.add_argument("--multi-worker", action="store_true")
    parser.add_argument("--deterministic", action="store_true")
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--save-freq", default="epoch")
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--shared-input", action="store_true")
    args = parser.parse_args()

    keras.utils.set_random_seed(1)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = mk.distribute.multi_worker_strategy(timeout_seconds=120) if args.multi_worker else tf.distribute.get_strategy()
    tasks = [mk.Task("cls", num_classes=2), mk.Task("reg", kind="regression")]
    with strategy.scope():
        body = keras.Sequential([keras.layers.Dense(16, activation="relu")], name="trunk")
        shape = (8,) if args.shared_input else {"cls": (8,), "reg": (8,)}
        model = mk.MultiTaskModel(tasks, body=body, input_shape=shape, tasks_per_step=args.tasks_per_step, seed=3)
        optimizer = keras.optimizers.SGD(0.05) if args.optimizer == "sgd" else keras.optimizers.Adam(0.01)
        model.compile(optimizer=optimizer, steps_per_execution=args.steps_per_execution)
    if args.shared_input:
        x, y = data()["cls"]
        train = mk.data.shared_input_dataset(x, {"cls": y, "reg": x[:, 2] + x[:, 3]}, batch_size=16, seed=5)
    else:
        train = mk.data.multitask_dataset(data(), batch_size=16, seed=5)
    callbacks = []
    if args.backup:
        save_freq = args.save_freq if args.save_freq == "epoch" else int(args.save_freq)
        callbacks.append(keras.callbacks.BackupAndRestore(args.backup, save_freq=save_freq))
    if args.kill_at:
        epoch, batch = (int(v) for v in args.kill_at.split(":"))
        callbacks.append(WaitToBeKilled(epoch, batch, args.out + ".ready"))
    history = model.fit(train, epochs=args.epochs, callbacks=callbacks, verbose=0)
    np.savez(args.out + ".npz", *[v.numpy() for v in model.weights])
    with open(args.out + ".json", "w") as f:
        json.dump({k: [float(x) for x in v] for k, v in history.history.items()}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
