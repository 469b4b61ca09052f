"""Multi-worker training, kill-and-resume with BackupAndRestore, and determinism.

Each test runs `train_worker.py` in fresh processes (op determinism is process-wide, and
multi-worker training needs one process per worker). Every wait is bounded.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from distributed.ports import free_ports

WORKER = os.path.join(os.path.dirname(__file__), "train_worker.py")
TIMEOUT = 300


def run(out, *flags, env=None):
    result = subprocess.run([sys.executable, WORKER, str(out), *flags], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    return load(out)


def load(out):
    with np.load(str(out) + ".npz") as weights:
        arrays = [weights[k] for k in sorted(weights.files, key=lambda k: int(k.split("_")[1]))]
    with open(str(out) + ".json") as f:
        return arrays, json.load(f)

@pytest.mark.slow
@pytest.mark.parametrize("tasks_per_step", ["2", "1"])
def test_two_workers_follow_the_single_process_loss_curve(tmp_path, tasks_per_step):
    single_weights, single = run(tmp_path / "single", "--tasks-per-step", tasks_per_step)
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen(
            [sys.executable, WORKER, str(tmp_path / f"worker{index}"), "--multi-worker", "--tasks-per-step", tasks_per_step],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        ))
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, err[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for index in range(2):
        weights, history = load(tmp_path / f"worker{index}")
        for key in ("loss", "cls_loss", "reg_loss"):
            np.testing.assert_allclose(history[key], single[key], rtol=1e-4)
        for a, b in zip(weights, single_weights):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def kill_and_resume(tmp_path, flags, kill_at):
    """Trains with a backup, SIGKILLs the process at `kill_at` (epoch:batch), resumes; returns the resumed run."""
    backup = str(tmp_path / "backup")
    out = tmp_path / "resumed"
    proc = subprocess.Popen([sys.executable, WORKER, str(out), *flags, "--backup", backup, "--kill-at", kill_at],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ready = str(out) + ".ready"
    deadline = time.time() + TIMEOUT
    while not os.path.exists(ready):
        assert proc.poll() is None, "the training process ended before the kill point"
        assert time.time() < deadline, "the training process never reached the kill point"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not os.path.exists(str(out) + ".npz")
    return run(out, *flags, "--backup", backup)


@pytest.mark.slow
def test_killed_run_resumes_and_ends_with_the_uninterrupted_weights(tmp_path):
    flags = ["--epochs", "4", "--deterministic", "--tasks-per-step", "1", "--optimizer", "adam"]
    reference, _ = run(tmp_path / "reference", *flags)
    resumed, history = kill_and_resume(tmp_path, flags, "2:5")  # mid-epoch 2, after two backed-up epochs
    assert len(history["loss"]) == 2  # only the epochs that were left: 2 and 3
    for a, b in zip(resumed, reference):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize(
    "save_freq, kill_at, options",
    [
        ("3", "1:7", []),  # last backup after batch 5 of epoch 1: resumes mid-epoch
        ("5", "2:3", []),  # a backup from the previous epoch's middle
        ("4", "1:9", ["--shared-input"]),
        ("2", "2:5", ["--steps-per-execution", "3"]),  # several steps per call: idle steps end the epoch
    ],
    ids=["every-3-batches", "every-5-batches", "shared-input", "steps-per-execution"],
)
def test_resume_is_exact_at_any_save_frequency(tmp_path, save_freq, kill_at, options):
    flags = ["--epochs", "4", "--deterministic", "--tasks-per-step", "1", "--optimizer", "adam", "--save-freq", save_freq, *options]
    reference, reference_history = run(tmp_path / "reference", *flags)
    resumed, history = kill_and_resume(tmp_path, flags, kill_at)
    epoch = int(kill_at.split(":")[0])
    assert len(history["loss"]) == 4 - epoch  # the interrupted epoch (finished) and the ones after it
    for a, b in zip(resumed, reference):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_same_seed_same_weights_including_task_sampling(tmp_path):
    flags = ["--epochs", "2", "--deterministic", "--tasks-per-step", "1", "--optimizer", "adam"]
    first, _ = run(tmp_path / "first", *flags)
    second, _ = run(tmp_path / "second", *flags)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
