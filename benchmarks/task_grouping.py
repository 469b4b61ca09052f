"""Task grouping benchmark: does TAG-style affinity recover planted groups, and do its groups train better?

On `planted_groups` (six regression tasks from three latent generators: groups {1,2,3}, {4,5}
and an odd task {6}), for each seed:

1. train a hard-sharing MLP on all tasks with `TaskAffinity` and average the affinity matrix;
2. `group_tasks(Z, 3)`: recovered if the tasks each group serves are the planted groups;
3. train one model per suggested group, one model for all tasks and one model per task
   (single-task baselines), all the same size and for the same epochs; report Δm (test MAE)
   of "one per group" and "one for all" against the single-task models.

Then the affinity matrix of `multi_digits`' four tasks (one seed).

Run: `python -m mtl_keras.benchmarks.task_grouping [--seeds 0,1,2] [--epochs 10] [--out runs/grouping]`.
Prints markdown tables; writes heat maps (PNG) to `--out`.
"""

import argparse
import os
import time

import numpy as np


def _format(matrix, names):
    head = "| Z[i → j] | " + " | ".join(names) + " |"
    rule = "|---" * (len(names) + 1) + "|"
    rows = [f"| **{n}** | " + " | ".join(f"{matrix[i, j]:+.4f}" for j in range(len(names))) + " |" for i, n in enumerate(names)]
    return "\n".join([head, rule, *rows])


def _describe(group, served):
    helpers = [t for t in group if t not in served]
    return "{" + ", ".join(served) + "}" + (f" (helped by {', '.join(helpers)})" if helpers else "")


def _served_partition(grouping):
    return sorted(sorted(s) for s in grouping.served)


def planted(seed, epochs, every, lookahead_lr, out, hidden):
    from mtl_keras.benchmarks import datasets
    from mtl_keras.diagnostics import group_tasks, save_heatmap
    from mtl_keras.diagnostics.experiment import measure_affinity, train_and_test
    from mtl_keras.evaluation import delta_m

    bench = datasets.load_benchmark("planted_groups", seed=seed)
    truth = sorted(sorted(g) for g in bench.info["groups"])
    run = measure_affinity(bench, epochs=epochs, every=every, learning_rate=lookahead_lr, seed=seed, hidden=hidden)
    grouping = group_tasks(run.matrix, len(truth), run.task_names)
    save_heatmap(run.matrix, os.path.join(out, f"affinity_planted_groups_seed{seed}.png"), run.task_names,
                 title=f"planted_groups, seed {seed}", row_label="step on task i", column_label="loss of task j")
    single = {}
    for name in bench.task_names:
        single.update(train_and_test(bench, [name], epochs=epochs, seed=seed, hidden=hidden))
    together = train_and_test(bench, bench.task_names, epochs=epochs, seed=seed, hidden=hidden)
    grouped = {}
    for group, served in zip(grouping.groups, grouping.served):
        results = train_and_test(bench, list(group), epochs=epochs, seed=seed, hidden=hidden)
        grouped.update({t: results[t] for t in served})
    metric = lambda results: {t: {"mae": m["mae"]} for t, m in results.items()}  # noqa: E731
    return {
        "seed": seed,
        "matrix": run.matrix,
        "names": run.task_names,
        "grouping": grouping,
        "recovered": _served_partition(grouping) == truth,
        "dm_grouped": delta_m(metric(grouped), metric(single))[0],
        "dm_all": delta_m(metric(together), metric(single))[0],
        "seconds": run.seconds,
        "measurements": run.measurements,
    }


def digits(epochs, every, lookahead_lr, out, seed=0):
    from mtl_keras.benchmarks import datasets
    from mtl_keras.diagnostics import group_tasks, save_heatmap
    from mtl_keras.diagnostics.experiment import measure_affinity

    bench = datasets.load_benchmark("multi_digits", seed=seed)
    run = measure_affinity(bench, epochs=epochs, every=every, learning_rate=lookahead_lr, seed=seed, hidden=(128, 64))
    save_heatmap(run.matrix, os.path.join(out, "affinity_multi_digits.png"), run.task_names,
                 title="multi_digits", row_label="step on task i", column_label="loss of task j")
    return run, group_tasks(run.matrix, 2, run.task_names)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--lookahead-lr", type=float, default=0.05)
    parser.add_argument("--hidden", default="64,16", help="trunk layer sizes of every model")
    parser.add_argument("--digits-epochs", type=int, default=5)
    parser.add_argument("--out", default="runs/grouping")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        result = planted(seed, args.epochs, args.every, args.lookahead_lr, args.out, [int(u) for u in args.hidden.split(",")])
        rows.append(result)
        print(f"\n### planted_groups, seed {seed} ({result['measurements']} measurements, {result['seconds']:.1f} s)\n")
        print(_format(result["matrix"], result["names"]))
        groups = "; ".join(_describe(g, s) for g, s in zip(result["grouping"].groups, result["grouping"].served))
        print(f"\nsuggested (served): {groups} — recovered: {result['recovered']}", flush=True)
    print("\n| seed | suggested groups (served) | planted recovered | Δm one model per group | Δm one model for all |")
    print("|---|---|---|---|---|")
    for r in rows:
        groups = " ".join("{" + ",".join(t.replace("task_", "") for t in s) + "}" for s in r["grouping"].served)
        print(f"| {r['seed']} | {groups} | {'yes' if r['recovered'] else 'no'} | {r['dm_grouped']:+.2f} % | {r['dm_all']:+.2f} % |")
    print(f"\nrecovered in {sum(r['recovered'] for r in rows)} of {len(rows)} seeds; "
          f"mean Δm per group {np.mean([r['dm_grouped'] for r in rows]):+.2f} % vs all {np.mean([r['dm_all'] for r in rows]):+.2f} %")
    if args.digits_epochs > 0:
        run, grouping = digits(args.digits_epochs, args.every, args.lookahead_lr, args.out)
        print(f"\n### multi_digits ({run.measurements} measurements, {run.seconds:.1f} s)\n")
        print(_format(run.matrix, run.task_names))
        print("\n2 groups: " + "; ".join(_describe(g, s) for g, s in zip(grouping.groups, grouping.served)))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
