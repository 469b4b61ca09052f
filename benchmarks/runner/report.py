"""Results tables of a benchmark run: mean ± std over seeds, Δm and negative transfer (Markdown, CSV)."""

import csv
import datetime
import math

from mtl_keras.evaluation import delta_m, higher_is_better

#: Marker of a task with negative transfer (worse than its single-task baseline, mean over seeds).
NEGATIVE = "⚠"


def summarize(records, config=None):
    """Groups run records by (benchmark, model, weighting) and compares them with their baselines.

    For every seed, a run is compared with the single-task baseline of the same benchmark and
    seed: `mtl_keras.evaluation.delta_m` gives Δm and the relative change of every task (both in
    percent, positive = better than single-task). Those are then averaged over the seeds. A task
    has *negative transfer* when its mean relative change is below zero.

    Args:
        records: run records (dicts with `benchmark`, `model`, `weighting`, `seed`, `role`,
            `test` = `{task: {metric: value}}`, `tasks`, ...), as in `results.json`.
        config: the `BenchmarkRun` (for the baseline of each model and the row order), or `None`
            to take each record's `role` and the baseline `independent` records as found.

    Returns:
        A list of row dicts, baselines first within each benchmark: `benchmark`, `model`,
        `weighting`, `role`, `baseline` (the baseline model name or `None`), `seeds`, `kinds`
        (`{task: kind}`), `tasks` (`{task: {metric: {"mean", "std", "values"}}}`), `relative`
        (`{task: {"mean", "std", "values"}}`, percent), `delta_m` (`{"mean", "std", "values"}`
        or `None`), `negative_transfer` (task names), `params`, `seconds`, `epochs_run`.

    Example:

    >>> rows = summarize(records, config)
    >>> rows[1]["delta_m"]["mean"], rows[1]["negative_transfer"]
    (-3.2, ['right'])
    """
    groups, order = {}, []
    for record in records:
        key = (record["benchmark"], record["model"], record["weighting"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(record)
    by_id = {(r["benchmark"], r["model"], r["weighting"], r["seed"]): r for r in records}
    benchmarks = list(dict.fromkeys(k[0] for k in order))
    rows = []
    for benchmark in benchmarks:
        keys = [k for k in order if k[0] == benchmark]
        keys.sort(key=lambda k: 0 if groups[k][0].get("role") == "baseline" else 1)
        for key in keys:
            rows.append(_row(key, sorted(groups[key], key=lambda r: r["seed"]), by_id, config))
    return rows


def _row(key, runs, by_id, config):
    benchmark, model, weighting = key
    role = runs[0].get("role", "model")
    baseline = None
    if role != "baseline":
        baseline = config.baseline_for(model) if config is not None else _find_baseline(benchmark, by_id)
    tasks = {}
    for task in runs[0]["test"]:
        metrics = {}
        for metric in runs[0]["test"][task]:
            values = [r["test"][task][metric] for r in runs if metric in r["test"].get(task, {})]
            metrics[metric] = _stats(values)
        tasks[task] = metrics
    relative, deltas = {}, []
    if baseline is not None:
        per_task_values = {}
        for run in runs:
            base = by_id.get((benchmark, baseline, "static", run["seed"]))
            if base is None:
                continue
            try:
                value, per_task = delta_m(run["test"], base["test"])
            except ValueError:
                continue
            deltas.append(value)
            for task, change in per_task.items():
                per_task_values.setdefault(task, []).append(change)
        relative = {task: _stats(values) for task, values in per_task_values.items()}
    return {
        "benchmark": benchmark,
        "model": model,
        "weighting": weighting,
        "role": role,
        "baseline": baseline if deltas else None,
        "seeds": [r["seed"] for r in runs],
        "kinds": {t["name"]: t["kind"] for t in runs[0].get("tasks", [])},
        "tasks": tasks,
        "relative": relative,
        "delta_m": _stats(deltas) if deltas else None,
        "negative_transfer": [task for task, stats in relative.items() if stats["mean"] < 0],
        "params": runs[0].get("params"),
        "seconds": _mean([r.get("seconds", float("nan")) for r in runs]),
        "epochs_run": _mean([r.get("epochs_run", float("nan")) for r in runs]),
    }


def _find_baseline(benchmark, by_id):
    names = {m for (b, m, w, _) in by_id if b == benchmark and w == "static" and "independent" in m}
    return sorted(names)[0] if names else None


def primary_metric(metrics):
    """The metric a table shows for a task: its first metric other than `loss` (else `loss`)."""
    names = [m for m in metrics if m != "loss"]
    return names[0] if names else "loss"


# ---------------------------------------------------------------------- Markdown
def markdown_tables(rows, config=None):
    """Markdown text: a Δm summary table, then one per-task table per benchmark."""
    if not rows:
        return "_No finished runs._\n"
    parts = [summary_table(rows), ""]
    for benchmark in dict.fromkeys(r["benchmark"] for r in rows):
        parts += [benchmark_table([r for r in rows if r["benchmark"] == benchmark]), ""]
    return "\n".join(parts)


def summary_table(rows):
    """Markdown table of Δm % (mean ± std over seeds) by model and weighting (rows) and benchmark (columns)."""
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in rows))
    pairs = list(dict.fromkeys((r["model"], r["weighting"]) for r in rows if r["role"] != "baseline"))
    lines = [
        "### Δm % against single-task learning (⚠ n = tasks with negative transfer)",
        "",
        "| Model | Weighting | " + " | ".join(f"`{b}`" for b in benchmarks) + " |",
        "|---|---|" + "---:|" * len(benchmarks),
    ]
    index = {(r["benchmark"], r["model"], r["weighting"]): r for r in rows}
    for model, weighting in pairs:
        cells = []
        for benchmark in benchmarks:
            row = index.get((benchmark, model, weighting))
            if row is None or row["delta_m"] is None:
                cells.append("—")
                continue
            count = len(row["negative_transfer"])
            flag = f" {NEGATIVE} {count}/{len(row['relative'])}" if count else ""
            cells.append(_pm(row["delta_m"], signed=True, digits=2) + flag)
        lines.append(f"| `{model}` | {weighting} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def benchmark_table(rows):
    """Markdown table of one benchmark: per-task test metric (mean ± std), relative change, Δm."""
    first = rows[0]
    tasks = list(first["tasks"])
    metric_of = {t: primary_metric(first["tasks"][t]) for t in tasks}
    n_seeds = max(len(r["seeds"]) for r in rows)
    header = ["Model", "Weighting"]
    for task in tasks:
        arrow = "↑" if higher_is_better(metric_of[task]) else "↓"
        header.append(f"`{task}` {metric_of[task]} {arrow}")
    header += ["Δm % ↑", "Params", "s / run"]
    lines = [
        f"#### `{first['benchmark']}` — test split, mean ± std over {n_seeds} seed(s)",
        "",
        "| " + " | ".join(header) + " |",
        "|---|---|" + "---:|" * (len(tasks) + 3),
    ]
    for row in rows:
        name = f"`{row['model']}`" + (" (single-task baseline)" if row["role"] == "baseline" else "")
        cells = [name, row["weighting"]]
        for task in tasks:
            stats = row["tasks"].get(task, {}).get(metric_of[task])
            cell = _pm(stats) if stats else "—"
            change = row["relative"].get(task)
            if change is not None:
                cell += f" ({_signed(change['mean'], 1)}%{' ' + NEGATIVE if change['mean'] < 0 else ''})"
            cells.append(cell)
        if row["role"] == "baseline":
            cells.append("0 (reference)")
        else:
            cells.append(_pm(row["delta_m"], signed=True, digits=2) if row["delta_m"] else "—")
        cells.append(f"{row['params']:,}" if row.get("params") else "—")
        cells.append(f"{row['seconds']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(rows, config, command=None, failed=None):
    """The full Markdown report: title, command, settings, legend, summary and per-benchmark tables."""
    lines = [f"# Multi-task benchmark results: `{config.name}`", ""]
    if command:
        lines += [f"Produced by `{command}` on {datetime.date.today().isoformat()}.", ""]
    baseline = "the `independent` zoo model of the same size" if config.baseline == "matched" else f"`{config.baseline}`"
    lines += [
        f"Settings: {config.epochs} epochs, batch size {config.batch_size}, Adam learning rate "
        f"{config.learning_rate:g}, seeds {', '.join(str(s) for s in config.seeds)}"
        + (f", early stopping (patience {config.patience})" if config.patience else "")
        + f". {sum(len(r['seeds']) for r in rows)} runs, {_training_minutes(rows):.1f} min of training in total. "
        "Vector (MLP) models see flattened images.",
        "",
        f"Each cell is the test metric of a task (mean ± std over seeds) and, in brackets, its relative "
        f"change against the single-task baseline ({baseline}: one network per task, nothing shared, "
        f"same seed); positive is better. {NEGATIVE} marks negative transfer: the task is worse than when "
        "trained alone. Δm is the mean relative change over every task and metric (Maninis et al. 2019; "
        "Vandenhende et al. 2021), in percent.",
        "",
        markdown_tables(rows, config),
    ]
    if failed:
        lines += ["### Failed runs", ""] + [f"- `{run}`: {message}" for run, message in failed.items()] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------- CSV
CSV_COLUMNS = [
    "benchmark", "model", "weighting", "role", "task", "metric", "higher_is_better",
    "mean", "std", "n_seeds", "relative_change_pct", "negative_transfer", "baseline",
]


def write_csv(rows, path):
    """Writes one line per (benchmark, model, weighting, task, metric) and one Δm line per group.

    Δm lines have `task = "(all)"` and `metric = "delta_m_pct"`.

    Returns:
        `path`.
    """
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            common = {k: row[k] for k in ("benchmark", "model", "weighting", "role")}
            common["baseline"] = row["baseline"] or ""
            for task, metrics in row["tasks"].items():
                change = row["relative"].get(task)
                for metric, stats in metrics.items():
                    writer.writerow({
                        **common, "task": task, "metric": metric, "higher_is_better": higher_is_better(metric),
                        "mean": _g(stats["mean"]), "std": _g(stats["std"]), "n_seeds": len(stats["values"]),
                        "relative_change_pct": _g(change["mean"]) if change and metric != "loss" else "",
                        "negative_transfer": (change["mean"] < 0) if change else "",
                    })
            if row["delta_m"] is not None:
                writer.writerow({
                    **common, "task": "(all)", "metric": "delta_m_pct", "higher_is_better": True,
                    "mean": _g(row["delta_m"]["mean"]), "std": _g(row["delta_m"]["std"]),
                    "n_seeds": len(row["delta_m"]["values"]), "relative_change_pct": "",
                    "negative_transfer": bool(row["negative_transfer"]),
                })
    return path


# ---------------------------------------------------------------------- numbers
def _stats(values):
    values = [float(v) for v in values]
    mean = _mean(values)
    if len(values) > 1:
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    else:
        std = 0.0
    return {"mean": mean, "std": std, "values": values}


def _mean(values):
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")


def _fmt(value):
    size = abs(value)
    if size >= 100:
        return f"{value:.1f}"
    if size >= 10:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _signed(value, digits):
    return f"{value:+.{digits}f}".replace("-", "−")


def _pm(stats, signed=False, digits=None):
    show = (lambda v: _signed(v, digits)) if signed else (lambda v: f"{v:.{digits}f}") if digits else _fmt
    if len(stats["values"]) < 2:
        return show(stats["mean"])
    spread = f"{stats['std']:.{digits}f}" if digits else _fmt(stats["std"])
    return f"{show(stats['mean'])} ± {spread}"


def _training_minutes(rows):
    return sum(r["seconds"] * len(r["seeds"]) for r in rows if not math.isnan(r["seconds"])) / 60.0


def _g(value):
    return f"{value:.6g}"


__all__ = [
    "benchmark_table",
    "markdown_report",
    "markdown_tables",
    "primary_metric",
    "summarize",
    "summary_table",
    "write_csv",
]
