"""Bad arguments of every `mtl-keras` sub-command: exit status 2, a message naming the option and the value.

Numbers, ranges and paths are refused while parsing, before TensorFlow is imported (checked in a
fresh process below); names (benchmarks, models, tasks) are checked before any training.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from mtl_keras import cli


@pytest.fixture
def paths(tmp_path, keras_file):
    """Files and folders the cases refer to as `{name}`."""
    made = {"tmp": tmp_path, "model": keras_file}
    (tmp_path / "a_file.txt").write_text("not a folder")
    made["file"] = tmp_path / "a_file.txt"
    (tmp_path / "folder.keras").mkdir()
    made["folder_keras"] = tmp_path / "folder.keras"
    (tmp_path / "empty.keras").write_bytes(b"")
    made["empty"] = tmp_path / "empty.keras"
    data = keras_file.read_bytes()
    (tmp_path / "truncated.keras").write_bytes(data[: len(data) // 2])
    made["truncated"] = tmp_path / "truncated.keras"
    (tmp_path / "text.keras").write_text("hello")
    made["text"] = tmp_path / "text.keras"
    (tmp_path / "model.txt").write_bytes(data)
    made["txt"] = tmp_path / "model.txt"
    (tmp_path / "w.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    made["weights"] = tmp_path / "w.weights.h5"
    (tmp_path / "bad.json").write_text("{'a': 1")
    made["bad_json"] = tmp_path / "bad.json"
    (tmp_path / "list.json").write_text("[1, 2]")
    made["list_json"] = tmp_path / "list.json"
    (tmp_path / "text_value.json").write_text(json.dumps({"task_1": {"mae": "small"}}))
    made["text_value_json"] = tmp_path / "text_value.json"
    (tmp_path / "nan_value.json").write_text('{"task_1": {"mae": NaN}}')
    made["nan_json"] = tmp_path / "nan_value.json"
    (tmp_path / "served" / "3").mkdir(parents=True)
    made["served"] = tmp_path / "served"
    return {k: str(v) for k, v in made.items()}


# (argv with {placeholders}, what the message must name (the option), the offending value as shown)
PARSE_CASES = {
    "demo_epochs_zero": ("demo --epochs 0", "argument --epochs", "'0'"),
    "demo_epochs_negative": ("demo --epochs -3", "argument --epochs", "'-3'"),
    "demo_epochs_text": ("demo --epochs x", "argument --epochs", "'x'"),
    "demo_epochs_fraction": ("demo --epochs 1.5", "argument --epochs", "'1.5'"),
    "demo_seed_negative": ("demo --seed -1", "argument --seed", "'-1'"),
    "demo_seed_too_large": ("demo --seed 4294967296", "argument --seed", "'4294967296'"),
    "demo_save_missing_folder": ("demo --save {tmp}/missing/m.keras", "argument --save", "missing/m.keras'"),
    "demo_save_wrong_extension": ("demo --save {tmp}/m.h5", "argument --save", "m.h5'"),
    "demo_save_is_a_folder": ("demo --save {folder_keras}", "argument --save", "folder.keras'"),
    "tune_max_trials_zero": ("tune --max-trials 0 --out {tmp}", "argument --max-trials", "'0'"),
    "tune_max_trials_negative": ("tune --max-trials -1 --out {tmp}", "argument --max-trials", "'-1'"),
    "tune_max_trials_text": ("tune --max-trials ten --out {tmp}", "argument --max-trials", "'ten'"),
    "tune_epochs_zero": ("tune --epochs 0 --out {tmp}", "argument --epochs", "'0'"),
    "tune_batch_size_zero": ("tune --batch-size 0 --out {tmp}", "argument --batch-size", "'0'"),
    "tune_weight_range_reversed": ("tune --weight-range 1,0.1 --out {tmp}", "argument --weight-range", "'1,0.1'"),
    "tune_weight_range_zero": ("tune --weight-range 0,1 --out {tmp}", "argument --weight-range", "'0,1'"),
    "tune_weight_range_one_value": ("tune --weight-range 0.5 --out {tmp}", "argument --weight-range", "'0.5'"),
    "tune_lambda_range_negative": ("tune --lambda-range=-1,1 --out {tmp}", "argument --lambda-range", "'-1,1'"),
    "tune_lr_range_nan": ("tune --lr-range nan,1 --out {tmp}", "argument --lr-range", "'nan,1'"),
    "tune_learning_rate_zero": ("tune --learning-rate 0 --out {tmp}", "argument --learning-rate", "'0'"),
    "tune_learning_rate_inf": ("tune --learning-rate inf --out {tmp}", "argument --learning-rate", "'inf'"),
    "tune_baselines_missing": ("tune --baselines {tmp}/missing.json --out {tmp}", "argument --baselines", "missing.json'"),
    "tune_baselines_not_json": ("tune --baselines {bad_json} --out {tmp}", "argument --baselines", "bad.json'"),
    "tune_baselines_a_list": ("tune --baselines {list_json} --out {tmp}", "argument --baselines", "list.json'"),
    "tune_baselines_text_value": ("tune --baselines {text_value_json} --out {tmp}", "argument --baselines", "'small'"),
    "tune_baselines_nan_value": ("tune --baselines {nan_json} --out {tmp}", "argument --baselines", "nan"),
    "tune_out_is_a_file": ("tune --out {file}", "argument --out", "a_file.txt'"),
    "tune_project_name_blank": ("tune --project-name= --out {tmp}", "argument --project-name", "''"),
    "tune_seed_negative": ("tune --seed -5 --out {tmp}", "argument --seed", "'-5'"),
    "tune_model_empty": ("tune --model , --out {tmp}", "--model", "','"),
    "tune_weightings_empty": ("tune --weightings=, --out {tmp}", "--weightings", "','"),
    "tune_unknown_tuner": ("tune --tuner grid --out {tmp}", "argument --tuner", "'grid'"),
    "export_missing_model": ("export {tmp}/missing.keras {tmp}/out", "argument model", "missing.keras'"),
    "export_empty_model": ("export {empty} {tmp}/out", "argument model", "empty.keras' is empty (0 bytes)"),
    "export_truncated_model": ("export {truncated} {tmp}/out", "argument model", "truncated.keras' is truncated"),
    "export_not_a_zip": ("export {text} {tmp}/out", "argument model", "text.keras' (5 bytes) is not a zip archive"),
    "export_folder_model": ("export {folder_keras} {tmp}/out", "argument model", "folder.keras' is a directory"),
    "export_wrong_extension": ("export {txt} {tmp}/out", "argument model", "model.txt' has '.txt'"),
    "export_weights_only": ("export {weights} {tmp}/out", "argument model", "w.weights.h5' holds weights only"),
    "export_version_negative": ("export {model} {tmp}/out --version -1", "argument --version", "'-1'"),
    "export_version_text": ("export {model} {tmp}/out --version v2", "argument --version", "'v2'"),
    "export_output_is_a_file": ("export {model} {file}", "argument output", "a_file.txt'"),
    "export_existing_version": ("export {model} {served} --version 3", "version 3 already exists", "--version=3"),
    "bench_epochs_zero": ("bench --preset tiny --epochs 0 --out {tmp}", "argument --epochs", "'0'"),
    "bench_batch_size_negative": ("bench --preset tiny --batch-size -1 --out {tmp}", "argument --batch-size", "'-1'"),
    "bench_learning_rate_zero": ("bench --preset tiny --learning-rate 0 --out {tmp}", "argument --learning-rate", "'0'"),
    "bench_patience_zero": ("bench --preset tiny --patience 0 --out {tmp}", "argument --patience", "'0'"),
    "bench_seeds_repeated": ("bench --preset tiny --seeds 0,0 --out {tmp}", "argument --seeds", "'0,0'"),
    "bench_seeds_text": ("bench --preset tiny --seeds a --out {tmp}", "argument --seeds", "'a'"),
    "bench_seeds_negative": ("bench --preset tiny --seeds=-1 --out {tmp}", "argument --seeds", "'-1'"),
    "bench_out_is_a_file": ("bench --preset tiny --out {file}", "argument --out", "a_file.txt'"),
    "zoo_describe_without_name": ("zoo describe", "zoo describe needs a model name", "no name"),
    "zoo_unknown_action": ("zoo show", "argument action", "'show'"),
}


@pytest.mark.parametrize("case", sorted(PARSE_CASES))
def test_bad_argument_is_refused_while_parsing(case, paths, capsys):
    argv, option, value = PARSE_CASES[case]
    words = [w.format(**paths) for w in argv.split(" ")]
    assert cli.main(words) == 2
    err = capsys.readouterr().err
    command = words[0]
    assert f"mtl-keras {command}: error:" in err, err
    assert option in err and value in err, f"expected the option ({option}) and the value ({value}) in:\n{err}"
    assert "Traceback" not in err


# Names are checked after TensorFlow is imported, before any training: still exit status 2 and a message.
NAME_CASES = {
    "demo_unknown_weighting": ("demo --epochs 1 --weighting nope", "weighting strategy", "'nope'"),
    "zoo_unknown_model": ("zoo describe flim_mlp", "zoo model", "'flim_mlp'"),
    "tune_unknown_benchmark": ("tune --benchmark nope --metric mae --out {tmp}", "benchmark", "'nope'"),
    "tune_unknown_model": ("tune --benchmark gradnorm_scales --model nope_mlp --metric mae --out {tmp}", "zoo model", "'nope_mlp'"),
    "tune_unknown_search": ("tune --benchmark gradnorm_scales --search weights,depth --metric mae --out {tmp}", "search", "depth"),
    "tune_unknown_metric": ("tune --benchmark gradnorm_scales --metric accuracy --out {tmp}", "metric", "'accuracy'"),
    "bench_unknown_benchmark": ("bench --benchmarks nope --models test_mmoe_mlp --out {tmp}", "enchmark", "'nope'"),
}


@pytest.mark.parametrize("case", sorted(NAME_CASES))
def test_bad_name_is_refused_before_training(case, paths, capsys):
    argv, what, value = NAME_CASES[case]
    words = [w.format(**paths) for w in argv.split(" ")]
    assert cli.main(words) == 2
    err = capsys.readouterr().err
    assert f"mtl-keras {words[0]}" in err and "error" in err, err
    assert what in err and value in err, f"expected {what!r} and {value!r} in:\n{err}"
    assert "Traceback" not in err
    assert not os.path.exists(os.path.join(paths["tmp"], "mtl_tune")), "nothing was searched"


def test_bad_arguments_fail_before_tensorflow_is_imported(paths):
    """Every parse-time refusal happens in a process that never imports TensorFlow."""
    argvs = [[w.format(**paths) for w in PARSE_CASES[c][0].split(" ")] for c in sorted(PARSE_CASES)]
    script = textwrap.dedent(
        """
        import json, sys
        import mtl_keras_cli
        codes = [mtl_keras_cli.main(argv) for argv in json.loads(sys.argv[1])]
        print("CODES", json.dumps(codes), "tensorflow" in sys.modules, "keras" in sys.modules)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(argvs)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = proc.stdout.split("CODES ", 1)[1]
    codes, imported = json.loads(line.split("]")[0] + "]"), line.split("]")[1].split()
    assert codes == [2] * len(argvs)
    assert imported == ["False", "False"], "TensorFlow / Keras were imported to refuse an argument"
