"""`mtl-keras tune`: search task weights, λ and more on a benchmark, from the command line.

Wire it into a parser with `add_parser(subparsers)`; the sub-command calls `run(args)`.

Example:

    mtl-keras tune --benchmark gradnorm_scales --model hard_sharing_mlp_small --search weights,lr \\
        --tuner bayesian --max-trials 10 --epochs 5 --out runs/tune
"""

import json
import os
import time

from mtl_keras.tuning.hypermodel import SEARCHABLE, WEIGHT_SPACES
from mtl_keras.tuning.search import TUNERS, describe_values


def _pair(text):
    parts = [p for p in text.replace(":", ",").split(",") if p.strip()]
    if len(parts) != 2:
        raise ValueError(f"expected a range 'LOW,HIGH'. Received: {text!r}")
    return tuple(float(p) for p in parts)


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
    parser.add_argument("--tuner", default="random", choices=sorted(TUNERS))
    parser.add_argument("--max-trials", type=int, default=10, help="trials of random / bayesian search")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per trial (Hyperband: the maximum)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--weight-space", default="log", choices=WEIGHT_SPACES)
    parser.add_argument("--weight-range", type=_pair, default=(1e-4, 1.0), help="log-space weight range LOW,HIGH")
    parser.add_argument("--reference-task", default=None, help="task whose weight is fixed to 1 (log weight space)")
    parser.add_argument("--lambda-range", type=_pair, default=(1e-4, 10.0), help="soft-sharing λ range LOW,HIGH (> 0)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="learning rate when lr is not searched")
    parser.add_argument("--lr-range", type=_pair, default=(1e-4, 1e-2), help="learning-rate range LOW,HIGH")
    parser.add_argument("--weightings", default="static,uncertainty,dwa", help="strategies for --search weighting")
    parser.add_argument(
        "--metric",
        default=None,
        help="objective: a per-task metric (e.g. mae) or '<task>_<metric>'; default: Δm against single-task baselines",
    )
    parser.add_argument(
        "--baselines",
        default=None,
        help="JSON file {task: {metric: value}} of single-task baselines (default: computed and cached)",
    )
    parser.add_argument("--out", default="runs/tune", help="results directory (KerasTuner project and summary.md)")
    parser.add_argument("--project-name", default="mtl_tune")
    parser.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="show KerasTuner's trial logs")
    parser.set_defaults(func=run)
    return parser


def run(args):
    """Runs the search of `args` (from the `tune` parser); prints the best values, writes `summary.md`."""
    from mtl_keras.tuning.objective import MultiTaskObjective
    from mtl_keras.tuning.search import tune

    baselines = "single_task"
    if args.baselines:
        with open(args.baselines) as f:
            baselines = json.load(f)
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
        print("Worker finished: the chief holds the results.")
        return result
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
