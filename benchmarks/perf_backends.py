"""The same `MultiTaskModel.fit` on the JAX and on the TensorFlow backend, side by side.

A Keras process runs one backend, so this script keeps one worker process per backend and times
them in alternating blocks (TF, JAX, JAX, TF, ...: these machines drift between fast and slow
phases). Each worker runs `fit` on the library's own stream — the path a user runs — for the
hard-sharing MLP of `perf_setup` (64-d inputs, two 256-unit layers, Adam, batch 256 per task) in
the shapes of `perf_train_step`: T = 2 tasks on a shared input and T = 8 tasks with an input each,
with static weights and with PCGrad on the parameters, and T = 8 with one sampled task per step.
A worker trains one warm-up epoch (compilation) before the first timed block.

Prints, per configuration, milliseconds per step on each backend (median over rounds) and the
ratio JAX / TensorFlow (median of the per-round ratios, ± half the interquartile range); a
configuration a backend cannot run shows the error it gave.

Run: `python -m mtl_keras.benchmarks.perf_backends [--rounds 5 --steps 100]` (needs JAX: the
`jax` or `test` extra; about 10 minutes on 2 cores).
"""

import argparse
import json
import os
import subprocess
import sys

#: (tasks, an input per task, weighting, tasks per step)
CONFIGS = [
    (2, False, "static", None),
    (2, False, "pcgrad", None),
    (8, True, "static", None),
    (8, True, "pcgrad", None),
    (8, True, "static", 1),
]
BACKENDS = ("tensorflow", "jax")


def _worker():
    """Reads configurations as JSON lines; answers seconds per step of `fit` (or the error) for each."""
    from mtl_keras.benchmarks import perf_setup as setup

    built = {}
    for line in sys.stdin:
        request = json.loads(line)
        key = (request["tasks"], request["per_task"], request["weighting"], request["tasks_per_step"], request["steps"])
        tasks, per_task, weighting, tasks_per_step, steps = key
        try:
            if key not in built:
                data = setup.arrays(tasks, steps * setup.BATCH, per_task)
                model = setup.multitask_model(tasks, per_task, tasks_per_step=tasks_per_step, weighting=weighting)
                train = setup.stream(data, per_task)

                def fit(model=model, train=train):
                    model.fit(train, epochs=1, verbose=0)

                fit()  # compiles
                built[key] = fit
            answer = {"seconds": setup.seconds(built[key], steps)}
        except Exception as error:  # shown in the table; the other configurations go on
            answer = {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:100]}"}
        print(json.dumps(answer), flush=True)


def _start(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "mtl_keras.benchmarks.perf_backends", "--worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def _ask(worker, config, steps):
    tasks, per_task, weighting, tasks_per_step = config
    request = {"tasks": tasks, "per_task": per_task, "weighting": weighting, "tasks_per_step": tasks_per_step, "steps": steps}
    worker.stdin.write(json.dumps(request) + "\n")
    worker.stdin.flush()
    line = worker.stdout.readline()
    return json.loads(line) if line else {"error": "the worker process ended"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)
    from mtl_keras.benchmarks import perf_setup as setup

    workers = {backend: _start(backend) for backend in BACKENDS}
    rows = []
    try:
        for config in CONFIGS:
            print(f"{_label(config)}: warming up, then {args.rounds} rounds ...", flush=True)
            times, errors = {b: [] for b in BACKENDS}, {}
            for backend in BACKENDS:
                answer = _ask(workers[backend], config, args.steps)
                if "error" in answer:
                    errors[backend] = answer["error"]
            for r in range(args.rounds):
                for backend in BACKENDS if r % 2 == 0 else BACKENDS[::-1]:
                    if backend not in errors:
                        answer = _ask(workers[backend], config, args.steps)
                        if "error" in answer:
                            errors[backend] = answer["error"]
                        else:
                            times[backend].append(answer["seconds"])
            rows.append((config, times, errors))
    finally:
        for worker in workers.values():
            worker.stdin.close()
            worker.wait(timeout=120)
    print("\n| configuration | TensorFlow | JAX | JAX / TensorFlow |")
    print("|---|---:|---:|---:|")
    for config, times, errors in rows:
        cells = [errors.get(b) or f"{1000 * sorted(times[b])[len(times[b]) // 2]:.2f} ms" for b in BACKENDS]
        ratio = "—"
        if not errors:
            value, spread = setup.median_ratio(times["jax"], times["tensorflow"])
            ratio = f"{value:.2f}× (±{spread:.2f})"
        print(f"| {_label(config)} | {cells[0]} | {cells[1]} | {ratio} |")
    return rows


def _label(config):
    tasks, per_task, weighting, tasks_per_step = config
    mode = "an input per task" if per_task else "shared input"
    sampled = f", {tasks_per_step} task per step" if tasks_per_step else ""
    return f"T = {tasks}, {mode}, `{weighting}`{sampled}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker()
    else:
        main()
