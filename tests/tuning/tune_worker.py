"""One process of a distributed search: run as chief or worker by KerasTuner's environment variables.

Usage: python tune_worker.py DIRECTORY RESULT_JSON

`KERASTUNER_TUNER_ID` (`chief`, `tuner0`, ...), `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`
come from the environment. Every process records the trials it trained in `RESULT_JSON.<id>.trials`;
the chief writes the search's results to `RESULT_JSON`.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from mtl_keras import tuning  # noqa: E402
from mtl_keras.benchmarks import datasets  # noqa: E402


class RecordTrial(keras.callbacks.Callback):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_train_begin(self, logs=None):
        with open(self.path, "a") as f:
            f.write("trial\n")


def main(directory, out):
    tuner_id = os.environ["KERASTUNER_TUNER_ID"]
    bench = datasets.load_benchmark("gradnorm_scales", num_train=256, num_validation=128)
    result = tuning.tune(
        bench,
        "test_hard_sharing_mlp",
        "weights",
        tuner="random",
        max_trials=4,
        epochs=1,
        batch_size=64,
        directory=directory,
        seed=0,
        learning_rate=1e-2,
        callbacks=[RecordTrial(f"{out}.{tuner_id}.trials")],
    )
    if result.best is not None:
        with open(out, "w") as f:
            json.dump({"best": result.best, "best_score": result.best_score, "trials": result.trials}, f)
        result.write_summary(os.path.join(directory, "summary.md"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
