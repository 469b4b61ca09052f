"""Multi-worker launch helpers: check `TF_CONFIG` and the cluster before TensorFlow waits on it.

`tf.distribute.MultiWorkerMirroredStrategy` reads the cluster from the `TF_CONFIG` environment
variable and then waits for every worker, without end, when one is missing. `multi_worker_strategy`
checks first — the JSON, this worker's own port, and that every other worker answers within a
time limit — and raises an error that names the worker.

Launching two workers on one machine (each in its own process)::

    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:20001", "127.0.0.1:20002"]},
                "task": {"type": "worker", "index": 0}}' python train.py   # and index 1 for the other

with, in `train.py`::

    strategy = mtl_keras.distribute.multi_worker_strategy(timeout_seconds=120)
    with strategy.scope():
        model = mtl_keras.zoo.create_model(...); model.compile(...)
    model.fit(mtl_keras.data.multitask_dataset(data, batch_size=GLOBAL_BATCH), epochs=...)

Give the data set the *global* batch size: each step's batch is split across the workers, so the
run follows the loss curve of one process with the same batch.
"""

import json
import os
import socket


class ClusterError(RuntimeError):
    """`TF_CONFIG` is malformed or the cluster it names cannot be reached."""


def parse_tf_config(value=None):
    """Parses and checks a `TF_CONFIG` JSON string (default: the environment variable).

    Returns:
        `(workers, index)`: the list of `"host:port"` worker addresses and this task's index.
    """
    value = os.environ.get("TF_CONFIG") if value is None else value
    if not value:
        raise ClusterError("TF_CONFIG is not set; it must describe the cluster and this task (see mtl_keras.distribute).")
    try:
        config = json.loads(value)
    except json.JSONDecodeError as error:
        raise ClusterError(f"TF_CONFIG is not valid JSON ({error}). Received: {value!r}") from None
    cluster = config.get("cluster", {})
    workers = list(cluster.get("worker", [])) + list(cluster.get("chief", []))
    task = config.get("task", {})
    if not workers:
        raise ClusterError(f"TF_CONFIG names no workers. Received: cluster={cluster!r}")
    if task.get("type") not in ("worker", "chief") or not isinstance(task.get("index"), int):
        raise ClusterError(f"TF_CONFIG needs task {{'type': 'worker', 'index': i}}. Received: task={task!r}")
    if task["type"] == "chief":
        index = len(cluster.get("worker", [])) + task["index"]
    else:
        index = task["index"]
    if not 0 <= index < len(workers):
        raise ClusterError(f"TF_CONFIG task index {task['index']} is out of range for {len(workers)} worker(s).")
    for address in workers:
        host, _, port = str(address).rpartition(":")
        if not host or not port.isdigit():
            raise ClusterError(f"TF_CONFIG worker address must be 'host:port'. Received: {address!r}")
    return workers, index


def check_cluster(workers, index, timeout_seconds=0.0):
    """Checks that this worker's own port is free.

    Raises:
        ClusterError: the port is taken (another process listens on it).
    """
    host, _, port = workers[index].rpartition(":")
    probe = socket.socket()
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does: TIME_WAIT is no conflict
        probe.bind((host, int(port)))
    except OSError as error:
        raise ClusterError(f"Worker {index} cannot listen on {workers[index]}: the port is busy ({error.strerror}).") from None
    finally:
        probe.close()


def multi_worker_strategy(timeout_seconds=60.0, tf_config=None):
    """Creates a `tf.distribute.MultiWorkerMirroredStrategy`, or fails with the missing workers named.

    TensorFlow's constructor waits for every worker of `TF_CONFIG` to register (an hour by
    default). Here the registration deadline of TensorFlow's coordination service is set to
    `timeout_seconds`; if the cluster has not formed by then a `ClusterError` names the workers
    that do not answer. Collective operations get the same timeout.

    Args:
        timeout_seconds: how long to wait for the other workers (and for each collective).
        tf_config: a `TF_CONFIG` JSON string; defaults to the environment variable.

    Returns:
        The strategy.
    """
    from mtl_keras.training import backend

    if backend.name() != "tensorflow":
        raise backend.unavailable("multi_worker_strategy", "tf.distribute.MultiWorkerMirroredStrategy")
    import tensorflow as tf

    from mtl_keras import _compat

    workers, index = parse_tf_config(tf_config)
    check_cluster(workers, index)  # this worker's own port must be free
    if tf_config is not None:
        os.environ["TF_CONFIG"] = tf_config
    cluster = json.loads(os.environ["TF_CONFIG"])["cluster"]
    spec = tf.train.ClusterSpec(cluster)
    # The same coordination service MultiWorkerMirroredStrategy configures, with a deadline.
    _compat.configure_coordination_service(spec, [job for job in ("chief", "worker") if job in spec.jobs], timeout_seconds)
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_seconds)
    # The coordination leader (worker 0) can still wait past the deadline inside TensorFlow, holding
    # the interpreter; a watchdog process then reports the missing workers and ends this process.
    watchdog = _start_watchdog(workers, index, timeout_seconds + 15)
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError, tf.errors.InternalError) as error:
        missing = check_cluster_peers(workers, index)
        raise ClusterError(
            f"Worker {index} waited {timeout_seconds:g} s for the cluster {workers} to form; "
            f"no answer from {missing or 'some workers'}. Start every worker listed in TF_CONFIG "
            f"(each with its own task index), or fix the addresses. ({type(error).__name__})"
        ) from None
    finally:
        watchdog.kill()
        watchdog.wait()


_WATCHDOG = """
import os, signal, socket, sys, time
parent, deadline, index = int(sys.argv[1]), time.time() + float(sys.argv[2]), int(sys.argv[3])
workers = sys.argv[4:]
while time.time() < deadline:
    time.sleep(0.5)
    try:
        os.kill(parent, 0)
    except OSError:
        sys.exit(0)
missing = []
for i, address in enumerate(workers):
    host, _, port = address.rpartition(":")
    if i != index:
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
        except OSError:
            missing.append(address)
sys.stderr.write(
    f"mtl_keras.distribute: worker {index} gave up after {sys.argv[2]} s waiting for the cluster {workers}; "
    f"no answer from {missing or 'some workers'}. Start every worker listed in TF_CONFIG, or fix the addresses.\\n"
)
sys.stderr.flush()
os.kill(parent, signal.SIGKILL)
"""


def _start_watchdog(workers, index, seconds):
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(seconds), str(index), *workers],
        stdin=subprocess.DEVNULL,
    )


def check_cluster_peers(workers, index, timeout=0.5):
    """The addresses of other workers that do not accept a connection now."""
    missing = []
    for i, address in enumerate(workers):
        if i == index:
            continue
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
        except OSError:
            missing.append(address)
    return missing
