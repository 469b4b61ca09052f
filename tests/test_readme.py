"""Every Python code block of the README runs, as written, in the test suite.

The ```python blocks of each README are run in order in one namespace (like a notebook), in a fresh
subprocess whose working directory is a temporary folder (files the blocks write land there). A block
fenced as ```python no-run is shown but not run (none is today). The `mtl-keras` commands that the
other blocks show must name an existing sub-command.
"""

import os
import re
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READMES = ["README.md"]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)

RUNNER = textwrap.dedent(
    """
    import json, sys, traceback
    blocks = json.load(open(sys.argv[1]))
    namespace = {"__name__": "__readme__"}
    for number, (line, code) in enumerate(blocks, 1):
        print(f"README-BLOCK {number} (line {line})", flush=True)
        try:
            exec(compile(code, f"README block {number} (line {line})", "exec"), namespace)
        except BaseException:
            traceback.print_exc()
            print(f"README-FAILED {number} line {line}", flush=True)
            sys.exit(1)
    print("README-OK", len(blocks), flush=True)
    """
)


def code_blocks(path, language="python"):
    """`[(line, info, code)]` of the fenced blocks of a Markdown file whose info string starts with `language`."""
    text = open(path, encoding="utf-8").read()
    blocks = []
    for match in FENCE.finditer(text):
        info = match.group(1).strip().split()
        if info and info[0] == language:
            line = text.count("\n", 0, match.start()) + 2
            blocks.append((line, info[1:], match.group(2)))
    return blocks


def test_blocks_are_found():
    blocks = code_blocks(os.path.join(REPO, "README.md"))
    assert len(blocks) >= 4, "the README's quick start, zoo, export and transfer blocks"
    assert any("mk.MultiTaskModel(" in code for _, _, code in blocks)


@pytest.mark.slow
@pytest.mark.parametrize("readme", READMES)
def test_python_blocks_run_as_written(readme, tmp_path):
    import json

    blocks = [(line, code) for line, flags, code in code_blocks(os.path.join(REPO, readme)) if "no-run" not in flags]
    manifest = tmp_path / "blocks.json"
    manifest.write_text(json.dumps(blocks))
    script = tmp_path / "run_readme.py"
    script.write_text(RUNNER)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    proc = subprocess.run(
        [sys.executable, str(script), str(manifest)],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0 and f"README-OK {len(blocks)}" in proc.stdout, (
        f"{readme}: a Python block failed as written\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    )
    assert (tmp_path / "model.keras").is_file() and (tmp_path / "serving" / "digits" / "1" / "saved_model.pb").is_file()


def _shown_commands(readme):
    """`mtl-keras <sub-command>` words shown in the README's bash blocks (and inline in its text)."""
    text = open(os.path.join(REPO, readme), encoding="utf-8").read()
    return sorted(set(re.findall(r"mtl-keras ([a-z][a-z_-]*)", text)))


@pytest.mark.parametrize("readme", READMES)
def test_shown_commands_exist(readme, capsys):
    from mtl_keras import cli

    commands = _shown_commands(readme)
    assert {"bench", "demo", "export", "tune", "zoo"} <= set(commands), commands
    for command in commands:
        assert cli.main([command, "--help"]) == 0, f"{readme} shows `mtl-keras {command}`, which does not exist"
        assert f"usage: mtl-keras {command}" in capsys.readouterr().out


@pytest.mark.parametrize("readme", READMES)
def test_shown_command_lines_parse(readme):
    """Each full `mtl-keras ...` line of a bash block parses (options exist, values are valid)."""
    import shlex

    from mtl_keras import cli

    parser = cli.build_parser()
    for line, _, code in code_blocks(os.path.join(REPO, readme), "bash"):
        for command in re.findall(r"(?:\.venv/bin/)?mtl-keras ((?:[^\n\\]|\\\n)+)", code):
            words = shlex.split(command.replace("\\\n", " "))
            if "|" in " ".join(words):  # a choice written as a|b|c
                continue
            try:
                args = parser.parse_args(words)
            except SystemExit:
                pytest.fail(f"{readme} line {line}: `mtl-keras {command}` does not parse")
            assert args.command == words[0], f"{readme} line {line}: {command}"
