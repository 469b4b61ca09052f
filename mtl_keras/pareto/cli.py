"""The `mtl-keras pareto` command: a Pareto-front sweep on a built-in benchmark.

Usage:

    mtl-keras pareto OUTPUT [--benchmark multi_digits] [--tasks left,right] [--model hard_sharing_mlp_small]
        [--points 11 | --weights 0.2,0.8;0.5,0.5] [--strategies uncertainty,mgda] [--epochs 5]
        [--batch-size 64] [--seeds 0] [--num-train 2000] [--no-resume] [--no-plot] [--quiet]

Trains one zoo model per weight vector (a grid for 2 or 3 tasks, Dirichlet draws beyond) and per
strategy, evaluates each on the benchmark's test split, and writes `pareto_results.json`,
`pareto.csv`, `pareto.md` and `pareto_front.png` under OUTPUT. Re-running with the same OUTPUT
skips the runs already done (unless `--no-resume`). Arguments are checked before TensorFlow loads.
"""

import argparse

from mtl_keras import cli_arguments as types


def _names(text):
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"must be comma-separated names. Received: {text!r}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"lists a name twice. Received: {text!r}")
    return names


def add_parser(subparsers):
    """Adds the `pareto` sub-command to an `argparse` sub-parsers object and returns its parser."""
    parser = subparsers.add_parser(
        "pareto",
        help="sweep task weights (and strategies) on a benchmark and trace the test-loss Pareto front",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("output", type=types.output_folder, help="folder of the results (created; a re-run resumes)")
    parser.add_argument("--benchmark", type=types.non_empty, default="multi_digits", help="benchmark name (default: multi_digits)")
    parser.add_argument("--tasks", type=_names, default=None, help="the benchmark's tasks to keep, e.g. left,right (default: all)")
    parser.add_argument("--model", type=types.non_empty, default=None,
                        help="zoo model (default: hard_sharing_mlp_small for vector inputs, hard_sharing_conv for images)")
    parser.add_argument("--points", type=types.integer(minimum=2), default=11,
                        help="number of weight vectors (a grid for 2-3 tasks, Dirichlet draws beyond; default: 11)")
    parser.add_argument("--weights", type=types.weight_vectors, default=None, help="explicit weight vectors, e.g. '0.2,0.8;0.5,0.5'")
    parser.add_argument("--strategies", type=_names, default=[], help="weighting strategies to place on the front, e.g. uncertainty,mgda")
    parser.add_argument("--epochs", type=types.integer(minimum=1), default=5, help="training epochs per run (default: 5)")
    parser.add_argument("--batch-size", type=types.integer(minimum=1), default=64, help="batch size (default: 64)")
    parser.add_argument("--lr", type=types.number(exclusive_minimum=0), default=2e-3, help="Adam learning rate (default: 0.002)")
    parser.add_argument("--seeds", type=types.integer_list(minimum=0), default=[0], help="seeds, e.g. 0,1,2 (default: 0)")
    parser.add_argument("--num-train", type=types.integer(minimum=1), default=None, help="training examples of the benchmark")
    parser.add_argument("--no-resume", dest="resume", action="store_false", help="start over instead of skipping finished runs")
    parser.add_argument("--no-plot", dest="plot", action="store_false", help="do not draw the figure")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's logs and Python warnings")
    parser.set_defaults(func=run, check=check, command_parser=parser)
    return parser


def check(args):
    """Arguments wrong together: `--weights` with `--points` set, or explicit weights of one task."""
    if args.weights is not None and len(args.weights[0]) < 2:
        raise argparse.ArgumentTypeError(f"--weights needs one weight per task (at least 2). Received: --weights={args.weights}")


def run(args):
    """Runs the sweep; prints a line per run and the front's table. Returns 0."""
    import keras

    from mtl_keras import zoo
    from mtl_keras.benchmarks import datasets
    from mtl_keras.pareto.sweep import sweep

    options = {"num_train": args.num_train} if args.num_train is not None else {}
    bench = datasets.load_benchmark(args.benchmark, seed=args.seeds[0], **options)
    if bench.mode != "shared":
        raise ValueError(f"mtl-keras pareto takes benchmarks with one shared input. Received: --benchmark={args.benchmark}")
    tasks, (x, y), (x_test, y_test) = bench.tasks, bench.splits["train"], bench.splits["test"]
    if args.tasks is not None:
        unknown = [t for t in args.tasks if t not in bench.task_names]
        if unknown:
            raise ValueError(f"--tasks names tasks the benchmark '{bench.name}' does not have: {unknown}. Tasks: {bench.task_names}")
        tasks = [t for t in tasks if t.name in args.tasks]
        y, y_test = {t: y[t] for t in args.tasks}, {t: y_test[t] for t in args.tasks}
    model_name = args.model or ("hard_sharing_mlp_small" if len(bench.input_shape) == 1 else "hard_sharing_conv")
    zoo.MODELS.get(model_name)  # unknown: ValueError with close matches
    if args.weights is not None and len(args.weights[0]) != len(tasks):
        raise ValueError(
            f"--weights has vectors of {len(args.weights[0])} weights for {len(tasks)} tasks {[t.name for t in tasks]}. "
            f"Received: --weights={args.weights}"
        )
    print(f"Pareto sweep: {bench.name}, tasks {[t.name for t in tasks]}, model {model_name}, {args.epochs} epochs, seeds {args.seeds}", flush=True)
    result = sweep(
        tasks,
        lambda seed: zoo.create_model(model_name, tasks=tasks, input_shape=bench.input_shape, seed=seed),
        (x, y),
        (x_test, y_test),
        weights=args.weights,
        strategies=args.strategies,
        num_weights=args.points,
        seeds=args.seeds,
        optimizer=lambda: keras.optimizers.Adam(args.lr),
        fit_kwargs={"epochs": args.epochs, "batch_size": args.batch_size},
        out_dir=args.output,
        resume=args.resume,
        plot=args.plot,
        progress=not args.quiet,
    )
    with open(result.files["markdown"], encoding="utf-8") as f:
        print(f.read())
    return 0
