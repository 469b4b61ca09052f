"""A TF_CONFIG that names a missing worker or a busy port gives a clear error, never an endless wait."""

import json
import socket
import subprocess
import sys
import time

import pytest

import mtl_keras as mk
from distributed.ports import free_ports


def config(ports, index):
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}})

@pytest.mark.parametrize(
    "value, message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"cluster": {}, "task": {"type": "worker", "index": 0}}), "names no workers"),
        (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}), "task="),
        (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}), "index 3 is out of range"),
        (json.dumps({"cluster": {"worker": ["nohost"]}, "task": {"type": "worker", "index": 0}}), "'host:port'"),
    ],
)
def test_malformed_tf_config(value, message):
    with pytest.raises(mk.distribute.ClusterError, match=message):
        mk.distribute.parse_tf_config(value)


def test_busy_port_is_named():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        with pytest.raises(mk.distribute.ClusterError, match=f"127.0.0.1:{port}: the port is busy"):
            mk.distribute.multi_worker_strategy(timeout_seconds=5, tf_config=config([port, port + 1], 0))
    finally:
        listener.close()


SCRIPT = """
import sys, mtl_keras as mk
try:
    mk.distribute.multi_worker_strategy(timeout_seconds=4, tf_config=sys.argv[1])
except mk.distribute.ClusterError as error:
    print("CLUSTER ERROR:", error, flush=True)
    sys.exit(3)
"""


@pytest.mark.slow
@pytest.mark.parametrize("index", [1, 0])
def test_missing_worker_ends_with_a_message_in_bounded_time(index):
    ports = free_ports(2)
    start = time.time()
    result = subprocess.run([sys.executable, "-c", SCRIPT, config(ports, index)], capture_output=True, text=True, timeout=120)
    elapsed = time.time() - start
    missing = f"127.0.0.1:{ports[1 - index]}"
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert missing in output and "Start every worker listed in TF_CONFIG" in output, output[-2000:]
    assert elapsed < 90
