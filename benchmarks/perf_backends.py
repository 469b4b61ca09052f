"""Training speed on the JAX backend against the TensorFlow backend, side by side.

For the MLP of `perf_setup` (64-d inputs, two 256-unit layers, regression heads, Adam, batch 256)
in shared-input mode on a `mtl_keras.data` stream, with T = 4 tasks, this prints the time per
training step on JAX over the time on TensorFlow (medians of per-round ratios) for:

- **static**: every task at every step, fixed weights;
- **sampled**: one task of four per step (per-task optimizer copies, only the sampled task computed);
- **pcgrad**: every task, PCGrad (per-task gradients; on JAX the strategy's maths runs on the host).

One process holds one Keras backend, so every measurement runs in a child process (warm-up epoch
first, then a timed epoch); rounds alternate the backends so that both see the same machine load.

Run: `python -m mtl_keras.benchmarks.perf_backends [--rounds 5 --steps 50]` (needs `jax`: the
`[jax]` extra).
"""

import argparse
import json
import os
import subprocess
import sys

CASES = {"static": {}, "sampled": {"tasks_per_step": 1}, "pcgrad": {"weighting": "pcgrad"}}
BACKENDS = ("tensorflow", "jax")
NUM_TASKS = 4


def child(case, steps):
    """Seconds per training step of `case` on the running backend (one warm-up epoch, one timed epoch)."""
    from mtl_keras.benchmarks import perf_setup as setup

    data = setup.arrays(NUM_TASKS, steps * setup.BATCH, per_task=False)
    model = setup.multitask_model(NUM_TASKS, per_task=False, **CASES[case])
    train = setup.stream(data, per_task=False)
    model.fit(train, epochs=1, verbose=0)
    return setup.seconds(lambda: model.fit(train, epochs=1, verbose=0), steps)


def measure(backend, case, steps):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "mtl_keras.benchmarks.perf_backends", "--child", case, "--steps", str(steps)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{backend} {case} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds_per_step"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50, help="training steps per timed epoch")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps({"seconds_per_step": child(args.child, args.steps)}))
        return
    import numpy as np

    for case in args.cases.split(","):
        ratios, times = [], {b: [] for b in BACKENDS}
        for round_index in range(args.rounds):
            order = BACKENDS if round_index % 2 == 0 else BACKENDS[::-1]
            measured = {backend: measure(backend, case, args.steps) for backend in order}
            for backend, value in measured.items():
                times[backend].append(value)
            ratios.append(measured["jax"] / measured["tensorflow"])
        tf_ms, jax_ms = (1000 * float(np.median(times[b])) for b in BACKENDS)
        print(f"{case:8s} tensorflow {tf_ms:7.2f} ms/step  jax {jax_ms:7.2f} ms/step  jax/tf {float(np.median(ratios)):.2f}x")


if __name__ == "__main__":
    main()
