"""`mtl-keras tune`: search task weights, λ and more on a benchmark, from the command line.

Wire it into a parser with `add_parser(subparsers)`; the sub-command calls `run(args)`.

Example:

    mtl-keras tune --benchmark gradnorm_scales --model hard_sharing_mlp_small --search weights,lr \\
        --tuner bayesian --max-trials 10 --epochs 5 --out runs/tune
"""

import argparse
import os
import sys
import time

from mtl_keras import cli_arguments as types
from mtl_keras.tuning.choices import SEARCHABLE, TUNER_NAMES, WEIGHT_SPACES


def add_parser(subparsers):
    """Adds the `tune` sub-command to an `argparse` sub-parsers object; returns its parser."""
    parser = subparsers.add_parser(
        "tune",
        help="search task weights, the soft-sharing λ, learning rate, weighting or model with KerasTuner",
        description="Searches multi-task hyper-parameters on a benchmark and writes a summary table.",
    )
    parser.add_argument("--benchmark", default="gradnorm_scales", help="benchmark name (default: gradnorm_scales)")
    parser.add_argument(
        "--model",
        default="hard_sharing_mlp_small",
        help="zoo model, or several comma-separated names with --search model",
    )
    parser.add_argument(
        "--search", default="weights", help=f"comma-separated subset of {','.join(SEARCHABLE)} (default: weights)"
    )
    parser.add_argument("--tuner", default="random", choices=sorted(TUNER_NAMES))
    parser.add_argument(
        "--max-trials", type=types.integer(minimum=1), default=10, help="trials of random / bayesian search (>= 1)"
    )
    parser.add_argument(
        "--epochs", type=types.integer(minimum=1), default=5, help="epochs per trial (>= 1; Hyperband: the maximum)"
    )
    parser.add_argument("--batch-size", type=types.integer(minimum=1), default=64)
    parser.add_argument("--weight-space", default="log", choices=WEIGHT_SPACES)
    parser.add_argument(
        "--weight-range", type=types.number_range(), default=(1e-4, 1.0), help="log-space weight range LOW,HIGH (> 0)"
    )
    parser.add_argument(
        "--reference-task", type=types.non_empty, default=None, help="task whose weight is fixed to 1 (log weight space)"
    )
    parser.add_argument(
        "--lambda-range", type=types.number_range(), default=(1e-4, 10.0), help="soft-sharing λ range LOW,HIGH (> 0)"
    )
    parser.add_argument(
        "--learning-rate", type=types.number(exclusive_minimum=0), default=1e-3, help="learning rate when lr is not searched"
    )
    parser.add_argument(
        "--lr-range", type=types.number_range(), default=(1e-4, 1e-2), help="learning-rate range LOW,HIGH (> 0)"
    )
    parser.add_argument("--weightings", default="static,uncertainty,dwa", help="strategies for --search weighting")
    parser.add_argument(
        "--metric",
        default=None,
        help="objective: a per-task metric (e.g. mae) or '<task>_<metric>'; default: Δm against single-task baselines",
    )
    parser.add_argument(
        "--baselines",
        type=types.baselines_file,
        default=None,
        help="JSON file {task: {metric: value}} of single-task baselines (default: computed and cached)",
    )
    parser.add_argument(
        "--out",
        type=types.output_folder,
        default="runs/tune",
        help="results directory (KerasTuner project and summary.md)",
    )
    parser.add_argument("--project-name", type=types.non_empty, default="mtl_tune")
    parser.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming")
    parser.add_argument("--seed", type=types.integer(minimum=0, maximum=2**32 - 1), default=0)
    parser.add_argument(
        "--verbose", action="store_true", help="show KerasTuner's trial logs, TensorFlow's logs and Python warnings"
    )
    parser.set_defaults(func=run, check=check, command_parser=parser)
    return parser


def check(args):
    """Checks arguments that are wrong together, before any TensorFlow work (`argparse.ArgumentTypeError`)."""
    if not [m for m in args.model.split(",") if m.strip()]:
        raise argparse.ArgumentTypeError(f"--model needs at least one zoo model name. Received: --model={args.model!r}")
    if not [w for w in args.weightings.split(",") if w.strip()]:
        raise argparse.ArgumentTypeError(
            f"--weightings needs at least one strategy name. Received: --weightings={args.weightings!r}"
        )


def run(args):
    """Runs the search of `args` (from the `tune` parser); prints the best values, writes `summary.md`."""
    from mtl_keras.tuning.objective import MultiTaskObjective
    from mtl_keras.tuning.search import describe_values, is_worker, tune

    baselines = "single_task"
    if args.baselines:
        baselines = args.baselines  # parsed and checked by cli_arguments.baselines_file
        if isinstance(baselines, str):
            baselines = types.baselines_file(baselines)
    objective = MultiTaskObjective(
        metric=args.metric, baselines=None if args.metric and not args.baselines else baselines
    )
    models = [m.strip() for m in args.model.split(",") if m.strip()]
    start = time.perf_counter()
    result = tune(
        args.benchmark,
        models[0] if len(models) == 1 else models,
        args.search,
        tuner=args.tuner,
        max_trials=args.max_trials,
        epochs=args.epochs,
        batch_size=args.batch_size,
        directory=args.out,
        project_name=args.project_name,
        overwrite=args.overwrite,
        objective=objective,
        seed=args.seed,
        verbose=1 if args.verbose else 0,
        weight_space=args.weight_space,
        weight_range=args.weight_range,
        reference_task=args.reference_task,
        lambda_range=args.lambda_range,
        learning_rate=args.learning_rate,
        lr_range=args.lr_range,
        weightings=[w.strip() for w in args.weightings.split(",") if w.strip()],
    )
    if result.best is None:
        if is_worker():
            print("Worker finished: the chief holds the results.")
            return 0
        statuses = ", ".join(f"{t['trial_id']}: {t['status']}" for t in result.trials) or "none ran"
        print(
            f"mtl-keras tune: error: no trial finished with a score (trials: {statuses}). "
            "Run again with --verbose to see KerasTuner's trial logs.",
            file=sys.stderr,
        )
        return 1
    done = sum(t["status"] == "COMPLETED" for t in result.trials)
    print(
        f"Searched {args.search} on {args.benchmark} with {args.tuner}: {done} trials in "
        f"{time.perf_counter() - start:.1f} s."
    )
    print("Best:")
    for line in describe_values(result.best, result.best_score, result.objective):
        print("  " + line[2:])
    summary = result.write_summary(os.path.join(args.out, "summary.md"))
    print(f"Summary table: {summary}")
    return result
