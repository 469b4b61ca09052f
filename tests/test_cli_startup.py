"""How `mtl-keras` and `import mtl_keras` start: no TensorFlow for `--help`, lazy families, quiet logs, Ctrl-C.

Each check runs in a fresh process (what is imported depends on the process's history). No timing
is asserted; `python -X importtime` and the wall-clock figures belong in reports, not tests.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from mtl_keras import cli_runtime

COMMANDS = ["demo", "zoo", "export", "bench", "tune", "pareto", "affinity"]
CONSOLE_SCRIPT = os.path.join(os.path.dirname(sys.executable), "mtl-keras")


def _python(code, env=None, timeout=300):
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def test_help_of_every_command_imports_no_tensorflow():
    out = _python(
        f"""
        import contextlib, io, json, sys
        import mtl_keras_cli
        codes, texts = [], []
        for argv in [["--help"]] + [[c, "--help"] for c in {COMMANDS!r}]:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                codes.append(mtl_keras_cli.main(argv))
            texts.append(buffer.getvalue())
        heavy = [m for m in ("tensorflow", "keras", "keras_tuner", "tensorflow_datasets", "numpy") if m in sys.modules]
        print("RESULT", json.dumps({{"codes": codes, "heavy": heavy, "usage": [t.split(chr(10))[0] for t in texts]}}))
        """
    )
    result = json.loads(out.split("RESULT ", 1)[1])
    assert result["codes"] == [0] * (len(COMMANDS) + 1)
    assert result["heavy"] == [], f"--help imported {result['heavy']}"
    assert result["usage"][0].startswith("usage: mtl-keras")
    for command, usage in zip(COMMANDS, result["usage"][1:]):
        assert usage.startswith(f"usage: mtl-keras {command}"), usage


def test_console_script_help():
    proc = subprocess.run([CONSOLE_SCRIPT, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "usage: mtl-keras" in proc.stdout and proc.stderr == ""
    for command in COMMANDS:
        assert command in proc.stdout


def test_import_is_lazy_for_the_heavy_families():
    out = _python(
        """
        import json, sys
        import keras
        from_keras = {m for m in ("matplotlib", "sklearn") if m in sys.modules}  # Keras 3 imports these itself
        import mtl_keras as mk
        heavy = ("keras_tuner", "tensorflow_datasets", "matplotlib", "sklearn")
        after_import = [m for m in heavy if m in sys.modules and m not in from_keras]
        listed = [n for n in ("export", "zoo", "tuning", "transfer", "evaluation", "saving") if n in dir(mk)]
        loaded = [
            mk.export.export_saved_model.__name__, mk.zoo.create_model.__name__, mk.tuning.tune.__name__,
            mk.transfer.FineTuner.__name__, mk.evaluation.delta_m.__name__, mk.saving.load_model.__name__,
        ]
        print("RESULT", json.dumps({"after_import": after_import, "listed": listed, "loaded": loaded,
                                    "tuner_after_use": "keras_tuner" in sys.modules}))
        """
    )
    result = json.loads(out.split("RESULT ", 1)[1])
    assert result["after_import"] == [], f"import mtl_keras imported {result['after_import']}"
    assert result["listed"] == ["export", "zoo", "tuning", "transfer", "evaluation", "saving"]
    assert result["loaded"] == ["export_saved_model", "create_model", "tune", "FineTuner", "delta_m", "load_model"]
    assert result["tuner_after_use"] is True


def test_unknown_attribute_is_an_attribute_error():
    import mtl_keras as mk

    with pytest.raises(AttributeError, match="module 'mtl_keras' has no attribute 'exports'"):
        mk.exports  # noqa: B018


def test_deferred_import_loads_on_first_use():
    out = _python(
        """
        import sys
        import mtl_keras as mk
        before = "tensorflow" in sys.modules
        task = mk.Task("a", num_classes=3)
        mk.load()
        import keras
        print("RESULT", before, "tensorflow" in sys.modules, keras.saving.get_registered_object("mtl_keras>TaskStack").__name__)
        """,
        env={"MTL_KERAS_DEFER_IMPORTS": "1"},
    )
    assert out.split("RESULT ", 1)[1].split() == ["False", "True", "TaskStack"]


def test_commands_are_quiet_unless_verbose():
    proc = subprocess.run([CONSOLE_SCRIPT, "zoo", "list", "test_film*"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.split() == ["test_film_conv", "test_film_mlp", "test_film_resnet"]
    assert proc.stderr == "", f"TensorFlow's start-up logs leaked:\n{proc.stderr}"


def test_start_up_noise_filter_keeps_errors():
    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796195003.647272    5099 port.cc:153] oneDNN custom operations are on. You may see ...",
        "W0000 00:00:1796195003.647272    5099 cuda_executor.cc:1] could not open file",
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.",
    ]
    kept = ["E0000 00:00:1796195003.647272    5099 op_kernel.cc:1] a real error", "Traceback (most recent call last):"]
    assert all(cli_runtime._NOISE.match(line) for line in noise)
    assert not any(cli_runtime._NOISE.match(line) for line in kept)


def test_interrupt_is_raised_again_when_a_library_swallows_it():
    """A `KeyboardInterrupt` dropped by library code (e.g. in a weakref callback) is delivered again."""
    swallowed, started = [], time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with cli_runtime.interruptible("test"):
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(2)
            except KeyboardInterrupt:
                swallowed.append(time.monotonic() - started)
            while time.monotonic() - started < 4:  # keeps "working"
                time.sleep(0.01)
    assert swallowed and time.monotonic() - started < 3, "the second delivery came within the grace period"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "the previous handler is restored"


def _interrupt(argv, ready, wait_after_ready=2.0, timeout=180):
    """Runs the console script, sends SIGINT once `ready(stdout_line_or_None)` says so; returns (code, seconds, stderr)."""
    proc = subprocess.Popen(
        [CONSOLE_SCRIPT, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while not ready(lines) and time.monotonic() < deadline:
        assert proc.poll() is None, "the command ended before it could be interrupted: " + proc.stderr.read()[-2000:]
        time.sleep(0.2)
    time.sleep(wait_after_ready)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("Ctrl-C did not stop the command within 60 s")
    return proc.returncode, time.monotonic() - sent, proc.stderr.read()


@pytest.mark.slow
def test_ctrl_c_stops_a_long_demo_with_status_130():
    code, _, err = _interrupt(["demo", "--epochs", "100000"], lambda lines: any(line.startswith("Model:") for line in lines))
    assert code == 130 and "mtl-keras demo: interrupted." in err and "Traceback" not in err, err


@pytest.mark.slow
def test_ctrl_c_stops_a_long_search_with_status_130(tmp_path):
    out = tmp_path / "tune"
    argv = ["tune", "--benchmark", "gradnorm_scales", "--model", "test_hard_sharing_mlp", "--metric", "mae",
            "--max-trials", "1000", "--epochs", "1000", "--out", str(out)]  # fmt: skip
    code, _, err = _interrupt(argv, lambda lines: any((out / "mtl_tune").glob("trial_*")))
    assert code == 130 and "mtl-keras tune: interrupted" in err and "Traceback" not in err, err
