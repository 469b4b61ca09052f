from mtl_keras import cli


def test_demo_trains_and_reports_every_task(capsys, tmp_path):
    assert cli.main(["demo", "--epochs", "2", "--save", str(tmp_path / "demo.keras")]) == 0
    out = capsys.readouterr().out
    for task in ("left", "right", "left_parity", "sum_ge_10"):
        assert f"\n{task} " in out
    assert "accuracy=" in out and (tmp_path / "demo.keras").exists()


def test_zoo_list_and_describe(capsys):
    assert cli.main(["zoo", "list", "film_mlp*"]) == 0
    assert capsys.readouterr().out.split() == ["film_mlp", "film_mlp_small"]
    assert cli.main(["zoo", "describe", "test_film_mlp"]) == 0
    assert "params:" in capsys.readouterr().out


def test_bad_input_exits_with_a_message(capsys):
    assert cli.main(["zoo", "describe", "flim_mlp"]) == 2
    assert "Did you mean: film_mlp" in capsys.readouterr().err
    assert cli.main(["demo", "--epochs", "1", "--weighting", "nope"]) == 2
    assert "Unknown weighting strategy" in capsys.readouterr().err
