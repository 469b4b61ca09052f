"""The `bench` sub-command: `mtl-keras bench ...` runs the benchmark runner from the command line.

Wire into a parent parser with `add_parser(subparsers)`; the parsed arguments go to `run(args)`.
Standalone: `python -m mtl_keras.benchmarks.cli bench --preset quick`.

Examples:

    mtl-keras bench --preset quick
    mtl-keras bench --preset offline --out runs/offline
    mtl-keras bench --preset sweep --out runs/sweep
    mtl-keras bench --benchmarks multi_digits --models hard_sharing_mlp --train-sizes 50,200,full \\
        --steps-per-epoch 8 --monitor val_score --patience 10 --param-matched --tuned-baseline --seeds 0,1,2
    mtl-keras bench --benchmarks multi_digits,mmoe_synthetic:p=0.9 --models hard_sharing_mlp,mmoe_mlp \\
        --weightings static,uncertainty --seeds 0,1 --epochs 10 --out runs/bench
    mtl-keras bench --list
"""

import argparse
import os
import shlex
import sys

from mtl_keras import cli_arguments as types

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def add_parser(subparsers):
    """Adds the `bench` sub-command to an `argparse` sub-parsers object and returns its parser.

    Args:
        subparsers: the result of `parser.add_subparsers(...)`.

    Example:

    >>> commands = parser.add_subparsers(dest="command")
    >>> add_parser(commands)
    """
    parser = subparsers.add_parser(
        "bench",
        help="benchmark zoo models x weightings x seeds against single-task baselines (tables, Δm, plots)",
        description=(
            "Trains every benchmark x model x weighting x seed, and the single-task (independent) baseline "
            "of each model, then writes results.md / results.csv (per-task test metrics, mean ± std over "
            "seeds, Δm %, negative transfer flagged), results.json (all raw numbers; a re-run skips finished "
            "runs) and PNG plots to --out. Lists are comma-separated; a benchmark takes loader options as "
            "name:key=value (e.g. mmoe_synthetic:p=0.9)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--preset", default=None, help="a named configuration: quick, offline, sweep, correlation, tiny")
    parser.add_argument("--benchmarks", default=None, help="e.g. multi_digits,mmoe_synthetic:p=0.9")
    parser.add_argument("--models", default=None, help="zoo model names, e.g. hard_sharing_mlp,mmoe_mlp")
    parser.add_argument("--weightings", default=None, help="weighting names, each optionally with options: name:key=value[:key=value], "
        "e.g. cagrad:c=0.4,pcgrad:uses_representation=True (default: static)")
    parser.add_argument("--seeds", type=_seeds, default=None, help="non-negative integers, e.g. 0,1,2 (default: 0)")
    parser.add_argument(
        "--epochs", type=types.integer(minimum=1), default=None, help="training epochs per run, >= 1 (default: 10)"
    )
    parser.add_argument(
        "--batch-size", type=types.integer(minimum=1), default=None, help="training batch size, >= 1 (default: 64)"
    )
    parser.add_argument(
        "--learning-rate", type=types.number(exclusive_minimum=0), default=None, help="Adam learning rate (default: 1e-3)"
    )
    parser.add_argument(
        "--patience",
        type=types.integer(minimum=1),
        default=None,
        help="early stopping patience on val_loss, >= 1 (default: off)",
    )
    parser.add_argument("--monitor", default=None, choices=("val_loss", "val_score"),
                        help="what early stopping watches: val_loss (default) or val_score (mean relative change of every "
                        "task's main validation metric since epoch one; scale-free)")
    parser.add_argument("--steps-per-epoch", type=types.integer(minimum=1), default=None,
                        help="fixed steps per epoch, the training set repeating (default: one pass over it)")
    parser.add_argument("--train-sizes", default=None,
                        help="data-size sweep: training examples per task, e.g. 25,100,400,full (each benchmark at each size)")
    parser.add_argument("--param-matched", action="store_true", default=None,
                        help="also train a single-task baseline with the parameter count of each model")
    parser.add_argument("--tuned-baseline", action="store_true", default=None,
                        help="also train each model with equal weights and a learning rate and weight decay tuned by KerasTuner")
    parser.add_argument("--tuning-trials", type=types.integer(minimum=1), default=None, help="trials of that search (default: 8)")
    parser.add_argument(
        "--baseline", default=None,
        help="single-task baseline: 'matched' (default: the independent model of each model's size), a zoo name, or 'none'",
    )
    parser.add_argument(
        "--out", type=types.output_folder, default=os.path.join("runs", "bench"), help="output folder (default: runs/bench)"
    )
    parser.add_argument("--no-plots", action="store_true", help="do not write PNG figures")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only the final tables")
    parser.add_argument("--list", action="store_true", help="list benchmarks, models, weightings and presets, and exit")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's logs and Python warnings")
    parser.set_defaults(func=run, command_parser=parser)
    return parser


def _seeds(text):
    """`--seeds`: comma-separated non-negative integers without repeats, kept as the text `0,1,2`."""
    return ",".join(str(s) for s in types.integer_list(minimum=0)(text))


def build_config(args):
    """The `BenchmarkRun` described by parsed `bench` arguments (a preset updated by the given options)."""
    from .runner.config import BenchmarkConfigError, BenchmarkRun, split_list
    from .runner.presets import get_preset

    fields = {}
    for name in ("benchmarks", "models", "weightings"):
        value = getattr(args, name)
        if value is not None:
            fields[name] = split_list(value)
    if args.seeds is not None:
        try:
            fields["seeds"] = [int(s) for s in split_list(args.seeds)]
        except ValueError:
            raise BenchmarkConfigError(f"--seeds must be comma-separated integers. Received: {args.seeds!r}") from None
    for name in ("epochs", "batch_size", "learning_rate", "patience", "monitor", "steps_per_epoch", "param_matched",
                 "tuned_baseline", "tuning_trials"):
        if getattr(args, name, None) is not None:
            fields[name] = getattr(args, name)
    if getattr(args, "train_sizes", None) is not None:
        try:
            fields["train_sizes"] = [None if s.lower() in ("full", "none", "all") else int(s) for s in split_list(args.train_sizes)]
        except ValueError:
            raise BenchmarkConfigError(
                f"--train-sizes must be comma-separated integers or 'full'. Received: {args.train_sizes!r}"
            ) from None
    if args.baseline is not None:
        fields["baseline"] = None if args.baseline.lower() == "none" else args.baseline
    if args.preset:
        return get_preset(args.preset, **fields)
    missing = [f"--{name}" for name in ("benchmarks", "models") if name not in fields]
    if missing:
        raise BenchmarkConfigError(f"Give {' and '.join(missing)} (or --preset quick|offline|correlation).")
    return BenchmarkRun(**fields)


def run(args):
    """Runs the `bench` sub-command; exits with status 2 on a bad input, with a message and no traceback.

    Returns:
        The `BenchmarkResults` (or `None` with `--list`).
    """
    from .datasets import DatasetNotAvailableError
    from .runner import report, run_benchmarks
    from .runner.config import BenchmarkConfigError

    if args.list:
        _print_names()
        return None
    try:
        config = build_config(args)
        results = run_benchmarks(
            config, args.out, progress=not args.quiet, plots=not args.no_plots, command=command_line(args)
        )
    except (BenchmarkConfigError, DatasetNotAvailableError) as error:
        print(f"mtl-keras bench: error: {error}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        print(
            f"\nmtl-keras bench: interrupted. Finished runs are kept in {os.path.join(args.out, 'results.json')}; "
            "run the same command again to go on from there.",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_INTERRUPTED) from None
    print()
    print(report.markdown_tables(results.rows, config))
    return results


def command_line(args):
    """The canonical command line of parsed `bench` arguments (quoted at the top of the report)."""
    prefix = getattr(args, "command_prefix", "mtl-keras bench")
    parts = []
    for flag in ("preset", "benchmarks", "models", "weightings", "seeds", "epochs", "batch_size",
                 "learning_rate", "patience", "monitor", "steps_per_epoch", "train_sizes", "tuning_trials", "baseline", "out"):
        value = getattr(args, flag, None)
        if value is not None:
            parts += ["--" + flag.replace("_", "-"), str(value)]
    for flag in ("param_matched", "tuned_baseline", "no_plots", "quiet"):
        if getattr(args, flag, False):
            parts.append("--" + flag.replace("_", "-"))
    return prefix + " " + shlex.join(parts)


def _print_names():
    from mtl_keras import weighting, zoo

    from .datasets import list_benchmarks
    from .runner.presets import PRESETS

    print("Benchmarks (offline): " + ", ".join(list_benchmarks(offline=True)))
    print("Benchmarks (TFDS, data must be on this machine): " + ", ".join(list_benchmarks(offline=False)))
    print("Models: " + ", ".join(zoo.list_models()))
    print("Weightings: " + ", ".join(weighting.WEIGHTINGS.names()))
    print("Presets: " + ", ".join(PRESETS))


def main(argv=None):
    """Standalone entry point: `python -m mtl_keras.benchmarks.cli bench ...`. Returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m mtl_keras.benchmarks.cli")
    commands = parser.add_subparsers(dest="command")
    add_parser(commands)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a bad argument (2, message printed)
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    args.command_prefix = "python -m mtl_keras.benchmarks.cli bench"
    try:
        args.func(args)
    except SystemExit as exit_:
        return exit_.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
