"""The `mtl-keras` command line."""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def demo(args):
    """Trains a hard-sharing network on the offline two-digit set and prints per-task test results."""
    import keras

    import mtl_keras as mk
    from mtl_keras.benchmarks import datasets

    keras.utils.set_random_seed(args.seed)
    bench = datasets.load_benchmark("multi_digits", seed=args.seed)
    print(f"Benchmark: {bench.name} - {bench.description.splitlines()[0]}")
    print("Tasks: " + ", ".join(f"{t.name} ({t.kind})" for t in bench.tasks))
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
        if not args.pattern:
            raise ValueError("zoo describe needs a model name, e.g. `mtl-keras zoo describe film_mlp`.")
        zoo.describe_model(args.pattern, print_fn=print)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="mtl-keras", description="Multi-task learning for Keras.")
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("demo", help="a small multi-task training run on built-in data, with per-task results")
    run.add_argument("--epochs", type=int, default=20)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--weighting", default="static", help="weighting strategy name (default: static)")
    run.add_argument("--save", default=None, help="save the trained model to this .keras path")
    run.add_argument("--verbose", action="store_true", help="show Keras's per-epoch logs")
    run.set_defaults(func=demo)
    zoo_parser = commands.add_parser("zoo", help="list or describe the named models of the zoo")
    zoo_parser.add_argument("action", choices=["list", "describe"])
    zoo_parser.add_argument("pattern", nargs="?", default=None, help="shell-style pattern (list) or model name (describe)")
    zoo_parser.set_defaults(func=zoo_command)
    for module in _command_modules():
        module.add_parser(commands)
    return parser


def _command_modules():
    """Sub-commands that live with their family: export, bench, tune (when present)."""
    import importlib

    modules = []
    for name in ("mtl_keras.export.cli", "mtl_keras.benchmarks.cli", "mtl_keras.tuning.cli"):
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as error:
            if error.name not in (name, name.rsplit(".", 1)[0]):
                raise
    return modules


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        code = args.func(args)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    except ValueError as error:
        print(f"mtl-keras: error: {error}", file=sys.stderr)
        return 2
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
