"""The `mtl-keras` command line: `demo`, `zoo`, `export`, `bench`, `tune`, `pareto`, `affinity`.

Arguments are parsed and checked (numbers, ranges, paths: `mtl_keras.cli_arguments`) before
TensorFlow is imported, so `mtl-keras --help` answers at once and a bad argument fails with a
message naming the option and the value and exit status 2, before any work. A command then runs
with TensorFlow's start-up logs and Python warnings hidden unless `--verbose`, and Ctrl-C stops it
with exit status 130 (`mtl_keras.cli_runtime`).

Each sub-command's parser may set, besides `func`, a `check(args)` default that raises
`argparse.ArgumentTypeError` for arguments that are wrong together (e.g. a missing model name);
it runs right after parsing.
"""

import argparse
import importlib
import sys
import time

from mtl_keras import cli_arguments as types
from mtl_keras.cli_runtime import EXIT_INTERRUPTED, interruptible, quiet_tensorflow

EXIT_ERROR = 2
#: Sub-commands that live with their family: export, bench, tune, pareto, affinity (when present).
COMMAND_MODULES = ("mtl_keras.export.cli", "mtl_keras.benchmarks.cli", "mtl_keras.tuning.cli", "mtl_keras.pareto.cli", "mtl_keras.diagnostics.cli")


def demo(args):
    """Trains a hard-sharing network on the offline two-digit set and prints per-task test results."""
    import keras

    import mtl_keras as mk
    from mtl_keras.benchmarks import datasets

    keras.utils.set_random_seed(args.seed)
    bench = datasets.load_benchmark("multi_digits", seed=args.seed)
    print(f"Benchmark: {bench.name} - {bench.description.splitlines()[0]}")
    print("Tasks: " + ", ".join(f"{t.name} ({t.kind})" for t in bench.tasks), flush=True)
    x_train, y_train = bench.splits["train"]
    x_val, y_val = bench.splits["validation"]
    x_test, y_test = bench.splits["test"]
    train = mk.data.shared_input_dataset(x_train, y_train, batch_size=64, seed=args.seed, tasks=bench.tasks)
    val = mk.data.shared_input_dataset(x_val, y_val, batch_size=256, shuffle=False)
    test = mk.data.shared_input_dataset(x_test, y_test, batch_size=256, shuffle=False)
    body = keras.Sequential(
        [keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(64, activation="relu")],
        name="shared_trunk",
    )
    model = mk.MultiTaskModel(bench.tasks, body=body, input_shape=bench.input_shape, seed=args.seed, name="hard_sharing_demo")
    model.compile(optimizer=keras.optimizers.Adam(2e-3), weighting=args.weighting)
    print(f"Model: shared trunk {body.count_params():,} parameters + {len(bench.tasks)} heads; weighting '{args.weighting}'")
    start = time.perf_counter()
    model.fit(train, validation_data=val, epochs=args.epochs, verbose=2 if args.verbose else 0)
    results = model.evaluate(test, return_dict=True, verbose=0)
    print(f"\nTrained {args.epochs} epochs in {time.perf_counter() - start:.1f} s. Test results per task:")
    print(f"{'task':14} {'kind':15} {'loss':>8}  metrics")
    for task in bench.tasks:
        metrics = model.results_by_task(results)[task.name]
        shown = ", ".join(f"{k}={v:.3f}" for k, v in metrics.items() if k != "loss")
        print(f"{task.name:14} {task.kind:15} {metrics['loss']:8.4f}  {shown}")
    print(f"{'total':14} {'':15} {results['loss']:8.4f}")
    if args.save:
        model.save(args.save)
        print(f"Saved to {args.save}")
    return results


def zoo_command(args):
    """`mtl-keras zoo list [PATTERN]` / `mtl-keras zoo describe NAME`."""
    from mtl_keras import zoo

    if args.action == "list":
        names = zoo.list_models(args.pattern or "*")
        for name in names:
            print(name)
        if not names:
            print(f"No model matches {args.pattern!r}.", file=sys.stderr)
    else:
        zoo.describe_model(args.pattern, print_fn=print)
    return 0


def _check_zoo(args):
    if args.action == "describe" and not (args.pattern or "").strip():
        raise argparse.ArgumentTypeError(
            "zoo describe needs a model name, e.g. `mtl-keras zoo describe film_mlp`. Received: no name"
        )


def add_verbose(parser, what="TensorFlow's logs and Python warnings"):
    """Adds the `--verbose` flag every sub-command has."""
    parser.add_argument("--verbose", action="store_true", help=f"show {what}")


def build_parser():
    """The `mtl-keras` argument parser, with every sub-command (imports no TensorFlow)."""
    parser = argparse.ArgumentParser(prog="mtl-keras", description="Multi-task learning for Keras.")
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("demo", help="a small multi-task training run on built-in data, with per-task results")
    run.add_argument("--epochs", type=types.integer(minimum=1), default=20, help="training epochs (>= 1; default: 20)")
    run.add_argument("--seed", type=types.integer(minimum=0, maximum=2**32 - 1), default=0)
    run.add_argument("--weighting", default="static", help="weighting strategy name (default: static)")
    run.add_argument(
        "--save", type=types.new_file(".keras"), default=None, help="save the trained model to this .keras path"
    )
    add_verbose(run, "Keras's per-epoch logs, TensorFlow's logs and Python warnings")
    run.set_defaults(func=demo, command_parser=run)
    zoo_parser = commands.add_parser("zoo", help="list or describe the named models of the zoo")
    zoo_parser.add_argument("action", choices=["list", "describe"])
    zoo_parser.add_argument("pattern", nargs="?", default=None, help="shell-style pattern (list) or model name (describe)")
    add_verbose(zoo_parser)
    zoo_parser.set_defaults(func=zoo_command, check=_check_zoo, command_parser=zoo_parser)
    for module in _command_modules():
        module.add_parser(commands)
    return parser


def _command_modules():
    modules = []
    for name in COMMAND_MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as error:
            if error.name not in (name, name.rsplit(".", 1)[0]):
                raise
    return modules


def _command_parser(args, parser):
    return getattr(args, "command_parser", None) or parser


def main(argv=None):
    """Runs `mtl-keras` with `argv` (default: `sys.argv[1:]`); returns the exit status.

    0 on success, 2 for a bad argument or input (a message, no traceback), 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        check = getattr(args, "check", None)
        if check is not None:
            try:
                check(args)
            except argparse.ArgumentTypeError as error:
                _command_parser(args, parser).error(str(error))
    except SystemExit as exit_:  # argparse: --help (0) or a bad argument (2, message printed)
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    name = f"mtl-keras {args.command}"
    try:
        with interruptible(name):
            quiet_tensorflow(verbose=getattr(args, "verbose", False))
            import mtl_keras

            mtl_keras.load()
            code = args.func(args)
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    except ValueError as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
