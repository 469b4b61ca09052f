"""`mtl-keras affinity`: measure inter-task affinity on a benchmark, suggest groups, draw a heat map.

Wire it into a parser with `add_parser(subparsers)`; the sub-command calls `run(args)`.

Example:

    mtl-keras affinity --benchmark planted_groups --epochs 5 --groups 3 --heatmap affinity.png
"""

import time

from mtl_keras import cli_arguments as types


def add_parser(subparsers):
    """Adds the `affinity` sub-command to an `argparse` sub-parsers object; returns its parser."""
    parser = subparsers.add_parser(
        "affinity",
        help="which tasks to train together: inter-task affinity (TAG) on a benchmark and suggested groups",
        description="Trains a hard-sharing model on a benchmark while measuring the inter-task affinity "
        "Z[i, j] = 1 - L_j(after a step on task i) / L_j(before), prints the averaged matrix and the "
        "task groups that maximise total affinity, and writes a heat map.",
    )
    parser.add_argument("--benchmark", type=types.non_empty, default="planted_groups", help="benchmark name (default: planted_groups)")
    parser.add_argument("--epochs", type=types.integer(minimum=1), default=5, help="training epochs (>= 1; default: 5)")
    parser.add_argument("--every", type=types.integer(minimum=1), default=10, help="steps between measurements (>= 1; default: 10)")
    parser.add_argument(
        "--groups", type=types.integer(minimum=1), default=2, help="number of groups (networks) to suggest (>= 1; default: 2)"
    )
    parser.add_argument(
        "--lookahead-lr", type=types.number(exclusive_minimum=0), default=None, help="lookahead step size (default: the optimizer's)"
    )
    parser.add_argument("--learning-rate", type=types.number(exclusive_minimum=0), default=2e-3, help="Adam learning rate")
    parser.add_argument("--batch-size", type=types.integer(minimum=1), default=64)
    parser.add_argument("--hidden", type=types.integer_list(minimum=1), default=[64, 32], help="trunk layer sizes, e.g. 64,32")
    parser.add_argument("--train-examples", type=types.integer(minimum=1), default=None, help="limit the training examples")
    parser.add_argument("--heatmap", type=types.new_file(".png"), default="affinity.png", help="heat-map PNG path (default: affinity.png)")
    parser.add_argument("--seed", type=types.integer(minimum=0, maximum=2**32 - 1), default=0)
    parser.add_argument("--verbose", action="store_true", help="show Keras's epoch logs, TensorFlow's logs and Python warnings")
    parser.set_defaults(func=run, command_parser=parser)
    return parser


def format_matrix(matrix, names):
    """The affinity matrix as a text table (rows: the task stepped on; columns: the task measured)."""
    width = max(8, max(len(str(n)) for n in names) + 1)
    lines = ["Z[i -> j]".ljust(width) + "".join(str(n).rjust(width) for n in names)]
    for i, name in enumerate(names):
        lines.append(str(name).ljust(width) + "".join(f"{matrix[i, j]:{width}.4f}" for j in range(len(names))))
    return "\n".join(lines)


def run(args):
    """Runs `mtl-keras affinity` (from the parser's `args`); returns the `Grouping`."""
    from mtl_keras.benchmarks import datasets
    from mtl_keras.diagnostics.experiment import measure_affinity
    from mtl_keras.diagnostics.grouping import group_tasks
    from mtl_keras.diagnostics.heatmap import save_heatmap

    options = {} if args.train_examples is None else {"num_train": args.train_examples}
    bench = datasets.load_benchmark(args.benchmark, seed=args.seed, **options)
    if args.groups > len(bench.tasks):
        raise ValueError(f"--groups must be at most the number of tasks of '{bench.name}' ({len(bench.tasks)}). Received: --groups={args.groups}")
    print(f"Benchmark: {bench.name} - tasks: {', '.join(bench.task_names)}", flush=True)
    start = time.perf_counter()
    result = measure_affinity(
        bench, epochs=args.epochs, every=args.every, learning_rate=args.lookahead_lr, batch_size=args.batch_size,
        hidden=args.hidden, optimizer_lr=args.learning_rate, seed=args.seed, verbose=2 if args.verbose else 0,
    )
    print(f"Trained {args.epochs} epochs with {result.measurements} affinity measurements in {time.perf_counter() - start:.1f} s.\n")
    print(format_matrix(result.matrix, result.task_names))
    grouping = group_tasks(result.matrix, args.groups, result.task_names)
    print(f"\nSuggested {len(grouping.groups)} group(s) ({grouping.method} search, total affinity {grouping.score:.4f}):")
    for group, served in zip(grouping.groups, grouping.served):
        helpers = [t for t in group if t not in served]
        print("  " + ", ".join(group) + (f"   (serves {', '.join(served)}; helpers {', '.join(helpers)})" if helpers else ""))
    save_heatmap(result.matrix, args.heatmap, result.task_names, title=f"Inter-task affinity, {bench.name}", row_label="step on task i", column_label="loss of task j")
    print(f"\nHeat map written to {args.heatmap}")
    return grouping
