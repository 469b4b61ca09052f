"""Distributed tuning with KerasTuner's chief/worker mode: a chief (gRPC oracle) and two workers
as separate processes on 127.0.0.1 complete one search. Every wait is bounded."""

import json
import os
import socket
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "tune_worker.py")
TIMEOUT = 240


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_chief_and_two_workers_complete_one_search(tmp_path):
    directory, out = tmp_path / "tune", tmp_path / "result.json"
    port = free_port()
    procs = {}
    try:
        for tuner_id in ("chief", "tuner0", "tuner1"):
            env = dict(
                os.environ,
                KERASTUNER_TUNER_ID=tuner_id,
                KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=str(port),
            )
            procs[tuner_id] = subprocess.Popen(
                [sys.executable, SCRIPT, str(directory), str(out)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        for tuner_id in ("tuner0", "tuner1", "chief"):
            _, err = procs[tuner_id].communicate(timeout=TIMEOUT)
            assert procs[tuner_id].returncode == 0, f"{tuner_id}: {err[-3000:]}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    with open(out) as f:
        result = json.load(f)
    assert len(result["trials"]) == 4 and all(t["status"] == "COMPLETED" for t in result["trials"])
    assert set(result["best"]["weights"]) == {"task_1", "task_2"}
    ran = {}
    for tuner_id in ("tuner0", "tuner1"):
        path = f"{out}.{tuner_id}.trials"
        ran[tuner_id] = len(open(path).read().split()) if os.path.exists(path) else 0
    assert sum(ran.values()) == 4, ran  # every trial trained once, by a worker
    assert not os.path.exists(f"{out}.chief.trials")  # the chief only serves the oracle
    assert (directory / "mtl_tune" / "single_task_baselines.json").exists()
    assert (directory / "summary.md").exists()
