"""`mtl-keras affinity`: trains, prints the matrix and the groups, writes the heat map; bad arguments exit 2."""

import pytest

from mtl_keras import cli


def test_affinity_command_prints_matrix_groups_and_writes_heatmap(capsys, tmp_path):
    heatmap = tmp_path / "z.png"
    argv = ["affinity", "--benchmark", "planted_groups", "--epochs", "1", "--train-examples", "256",
            "--every", "2", "--groups", "3", "--hidden", "16", "--heatmap", str(heatmap)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "Z[i -> j]" in out and "with 2 affinity measurements" in out  # 4 steps, every 2
    rows = [line for line in out.splitlines() if line.startswith("task_")]
    assert len(rows) == 6 and all(len(r.split()) == 7 for r in rows)
    assert "group(s) (exact search, total affinity" in out
    assert heatmap.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--every", "0"], "argument --every: must be an integer >= 1. Received: '0'"),
        (["--groups", "0"], "argument --groups: must be an integer >= 1. Received: '0'"),
        (["--heatmap", "z.txt"], "must end with .png"),
    ],
)
def test_bad_arguments_fail_before_training(capsys, argv, message):
    assert cli.main(["affinity", *argv]) == 2
    assert message in capsys.readouterr().err


def test_too_many_groups_and_unknown_benchmark(capsys, tmp_path):
    heatmap = str(tmp_path / "z.png")
    assert cli.main(["affinity", "--benchmark", "mmoe_synthetic", "--groups", "3", "--heatmap", heatmap]) == 2
    assert "--groups must be at most the number of tasks of 'mmoe_synthetic' (2). Received: --groups=3" in capsys.readouterr().err
    assert cli.main(["affinity", "--benchmark", "planted_grups", "--heatmap", heatmap]) == 2
    assert "Did you mean: planted_groups" in capsys.readouterr().err
