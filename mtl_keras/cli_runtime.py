"""How a `mtl-keras` command runs: TensorFlow's logs kept quiet, and Ctrl-C stopping it promptly.

- `quiet_tensorflow(verbose)`: sets `TF_CPP_MIN_LOG_LEVEL` before TensorFlow is imported and
  imports it with the process's standard error captured, dropping the C++ lines TensorFlow writes
  while it loads (oneDNN, CPU features: absl writes those before it reads any log level), then
  quiets the Python loggers (`tensorflow`, absl) and warnings. `verbose=True` leaves everything on.
- `interruptible(command)`: Ctrl-C (SIGINT) raises `KeyboardInterrupt` in the command (again and
  again if a library drops it), which the caller turns into exit status 130 and a short message;
  if the command has not stopped within a few seconds (a long C++ call), or on a second Ctrl-C,
  the process exits with 130 at once.
"""

import _thread
import contextlib
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import time
import warnings

#: Exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: Seconds a command has, after Ctrl-C, to stop on its own before the process exits anyway.
INTERRUPT_GRACE_SECONDS = 5.0
#: Seconds between two deliveries of the interrupt while the command has not stopped.
_REDELIVERY_SECONDS = 0.25

# Lines TensorFlow's C++ side writes while it loads: absl's preamble and glog-style info/warning lines
# ("I0000 00:00:1700000000.000000  1234 port.cc:153] oneDNN custom operations are on ...").
_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] .*"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.)$"
)


def quiet_tensorflow(verbose=False):
    """Imports TensorFlow (and Keras) with their start-up logs hidden unless `verbose`.

    Call it before anything imports TensorFlow; if TensorFlow is already imported only the Python
    loggers and warnings are quieted. Error lines TensorFlow writes while loading are kept.

    Args:
        verbose: show TensorFlow's logs and Python warnings.
    """
    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
    else:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        warnings.filterwarnings("ignore")
    if "tensorflow" not in sys.modules and not verbose:
        with _stderr_filtered():
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
    import tensorflow as tf

    if not verbose:
        tf.get_logger().setLevel(logging.ERROR)
        with contextlib.suppress(ImportError):
            from absl import logging as absl_logging

            absl_logging.set_verbosity(absl_logging.ERROR)


@contextlib.contextmanager
def _stderr_filtered():
    """Captures file descriptor 2 (C++ writes too) and replays only the lines that are not start-up noise."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real standard error (e.g. an embedded interpreter)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [
                line
                for line in capture.read().decode("utf-8", "replace").splitlines()
                if line.strip() and not _NOISE.match(line)
            ]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


@contextlib.contextmanager
def interruptible(command="mtl-keras"):
    """Within the block, Ctrl-C raises `KeyboardInterrupt` until the command stops; a stuck command exits with 130.

    Python drops an exception raised while it runs a weak-reference callback or a finalizer
    ("Exception ignored in ..."), so a single `KeyboardInterrupt` can be lost in a library's
    clean-up code. After the first Ctrl-C the interrupt is therefore raised again every
    `_REDELIVERY_SECONDS` until the block is left, and after `INTERRUPT_GRACE_SECONDS` (or at a
    second Ctrl-C) the process exits with status 130 at once. Only acts in the main thread;
    restores the previous handler on exit.

    Args:
        command: the command's name, used in the message printed on a forced exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state = {"interrupted": False, "redelivering": False, "done": threading.Event()}

    def force_exit():
        _say(f"\n{command}: interrupted (the command did not stop by itself; exiting).")
        os._exit(EXIT_INTERRUPTED)

    def watchdog():
        deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS
        while not state["done"].wait(_REDELIVERY_SECONDS):
            if time.monotonic() >= deadline:
                force_exit()
            state["redelivering"] = True
            _thread.interrupt_main(signal.SIGINT)

    def handler(signum, frame):
        if state["redelivering"]:
            state["redelivering"] = False
        elif state["interrupted"]:  # a second Ctrl-C from the user
            force_exit()
        else:
            state["interrupted"] = True
            threading.Thread(target=watchdog, name="mtl-keras-interrupt", daemon=True).start()
        raise KeyboardInterrupt

    def quiet_unraisable(unraisable):
        # An interrupt raised where Python cannot propagate it (e.g. inside a garbage-collector
        # callback, as JAX installs) is dropped with a printed traceback; the watchdog delivers it
        # again, so the traceback is only noise.
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            previous_hook(unraisable)

    previous = signal.signal(signal.SIGINT, handler)
    previous_hook, sys.unraisablehook = sys.unraisablehook, quiet_unraisable
    try:
        yield
    finally:
        state["done"].set()
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook


def _say(message):
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
