"""Results tables of a benchmark run: mean ± std over seeds, Δm and negative transfer (Markdown, CSV)."""

import csv
import datetime
import math

from mtl_keras.evaluation import delta_m, higher_is_better

from .stats import paired_test

#: Marker of a task with negative transfer (worse than its single-task baseline, mean over seeds).
NEGATIVE = "⚠"


#: Marker of a difference from the reference that the paired test over seeds cannot tell from noise.
WITHIN_NOISE = "≈"
#: Row order within a benchmark.
ROLE_ORDER = {"baseline": 0, "param_matched": 1, "tuned": 2, "model": 3}
#: The references a row can be compared with, besides the single-task baseline: role -> column title.
REFERENCES = {"param_matched": "vs single-task, same parameters", "tuned": "vs tuned equal weights"}


def summarize(records, config=None):
    """Groups run records by (benchmark, model, weighting, role) and compares them with their references.

    For every seed, a run is compared with the single-task baseline of the same benchmark and
    seed: `mtl_keras.evaluation.delta_m` gives Δm and the relative change of every task (both in
    percent, positive = better than single-task). Those are then averaged over the seeds, and the
    per-seed Δm values go through the paired test of `stats.paired_test` (is the mean change
    more than seed noise?). A task has *negative transfer* when its mean relative change is below
    zero. Rows of a model are also compared, the same way, with the model's parameter-matched
    single-task baseline and its tuned equal-weight run when the grid has them (`versus`).

    Args:
        records: run records (dicts with `benchmark`, `model`, `weighting`, `seed`, `role`,
            `test` = `{task: {metric: value}}`, `tasks`, ...), as in `results.json`. Records
            without test results (tuning searches) are skipped.
        config: the `BenchmarkRun` (for the baseline of each model, the test's level and the
            row order), or `None` to take each record's `role` and the baseline `independent`
            records as found.

    Returns:
        A list of row dicts, baselines first within each benchmark: `benchmark`, `model`,
        `weighting`, `role`, `baseline` (the baseline model name or `None`), `seeds`, `kinds`
        (`{task: kind}`), `tasks` (`{task: {metric: {"mean", "std", "values"}}}`), `relative`
        (`{task: {"mean", "std", "values"}}`, percent), `delta_m` (`{"mean", "std", "values",
        "p_value", "within_noise"}` or `None`), `versus` (`{"param_matched": ..., "tuned": ...}`,
        the same statistics against those references, or `None`), `negative_transfer` (task
        names), `params`, `seconds`, `epochs_run`, and for fair baselines `built_model`,
        `overrides`, `learning_rate`, `weight_decay`.

    Example:

    >>> rows = summarize(records, config)
    >>> rows[1]["delta_m"]["mean"], rows[1]["delta_m"]["within_noise"], rows[1]["negative_transfer"]
    (-3.2, True, ['right'])
    """
    records = [r for r in records if "test" in r]
    groups, order = {}, []
    for record in records:
        key = (record["benchmark"], record["model"], record["weighting"], record.get("role", "model"))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(record)
    by_id = {(r["benchmark"], r["model"], r["weighting"], r["seed"], r.get("role", "model")): r for r in records}
    benchmarks = list(dict.fromkeys(k[0] for k in order))
    rows = []
    for benchmark in benchmarks:
        keys = [k for k in order if k[0] == benchmark]
        keys.sort(key=lambda k: ROLE_ORDER.get(k[3], len(ROLE_ORDER)))
        for key in keys:
            rows.append(_row(key, sorted(groups[key], key=lambda r: r["seed"]), by_id, config))
    return rows


def _row(key, runs, by_id, config):
    benchmark, model, weighting, role = key
    alpha = config.significance if config is not None else 0.05
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
        deltas, relative = _compare(runs, lambda seed: _baseline_record(by_id, benchmark, baseline, seed))
    versus = {}
    if role in ("model", "tuned"):
        for reference in REFERENCES:
            if reference == role:
                continue
            values, _ = _compare(runs, lambda seed, ref=reference: by_id.get((benchmark, model, "static", seed, ref)))
            versus[reference] = _tested(values, alpha) if values else None
    first = runs[0]
    row = {
        "benchmark": benchmark,
        "model": model,
        "weighting": weighting,
        "role": role,
        "baseline": baseline if deltas else None,
        "seeds": [r["seed"] for r in runs],
        "kinds": {t["name"]: t["kind"] for t in first.get("tasks", [])},
        "tasks": tasks,
        "relative": relative,
        "delta_m": _tested(deltas, alpha) if deltas else None,
        "versus": versus,
        "negative_transfer": [task for task, stats in relative.items() if stats["mean"] < 0],
        "params": first.get("params"),
        "seconds": _mean([r.get("seconds", float("nan")) for r in runs]),
        "epochs_run": _mean([r.get("epochs_run", float("nan")) for r in runs]),
        "train_size": first.get("train_size"),
        "train_examples": first.get("train_examples"),
        "base_benchmark": first.get("base_benchmark", benchmark),
    }
    for field in ("built_model", "overrides", "learning_rate", "weight_decay"):
        if field in first:
            row[field] = first[field]
    return row


def _baseline_record(by_id, benchmark, baseline, seed):
    record = by_id.get((benchmark, baseline, "static", seed, "baseline"))
    return record if record is not None else by_id.get((benchmark, baseline, "static", seed, "model"))


def _compare(runs, reference_of):
    """Per-seed Δm of `runs` against `reference_of(seed)`, and the per-task changes `{task: stats}`."""
    deltas, per_task_values = [], {}
    for run in runs:
        reference = reference_of(run["seed"])
        if reference is None:
            continue
        try:
            value, per_task = delta_m(run["test"], reference["test"])
        except ValueError:
            continue
        deltas.append(value)
        for task, change in per_task.items():
            per_task_values.setdefault(task, []).append(change)
    return deltas, {task: _stats(values) for task, values in per_task_values.items()}


def _tested(values, alpha):
    test = paired_test(values, alpha)
    return {**_stats(values), "p_value": test["p_value"], "within_noise": test["within_noise"]}


def _find_baseline(benchmark, by_id):
    names = {m for (b, m, w, _, role) in by_id if b == benchmark and w == "static" and "independent" in m and role == "baseline"}
    names = names or {m for (b, m, w, _, _) in by_id if b == benchmark and w == "static" and "independent" in m}
    return sorted(names)[0] if names else None


def row_labels(row):
    """The (Model, Weighting) cells of a row: the model, or which fair baseline of which model it is."""
    if row["role"] == "baseline":
        return f"`{row['model']}` (single-task baseline)", row["weighting"]
    if row["role"] == "param_matched":
        sizes = ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v}" for k, v in (row.get("overrides") or {}).items())
        built = row.get("built_model", "independent")
        return f"`{built}` {sizes} (single-task, parameters of `{row['model']}`)", "static"
    if row["role"] == "tuned":
        lr, wd = row.get("learning_rate"), row.get("weight_decay")
        tuned = f"lr {lr:.2g}, wd {wd:.2g}" if lr is not None and wd is not None else "tuned"
        return f"`{row['model']}`", f"equal, tuned ({tuned})"
    return f"`{row['model']}`", row["weighting"]


def primary_metric(metrics):
    """The metric a table shows for a task: its first metric other than `loss` (else `loss`)."""
    names = [m for m in metrics if m != "loss"]
    return names[0] if names else "loss"


# ---------------------------------------------------------------------- Markdown
def markdown_tables(rows, config=None):
    """Markdown text: a Δm summary table, the fair comparisons (if any), then one per-task table per benchmark."""
    if not rows:
        return "_No finished runs._\n"
    parts = [summary_table(rows), ""]
    fair = fair_table(rows)
    if fair:
        parts += [fair, ""]
    for benchmark in dict.fromkeys(r["benchmark"] for r in rows):
        parts += [benchmark_table([r for r in rows if r["benchmark"] == benchmark]), ""]
    return "\n".join(parts)


def delta_cell(stats, count=None, tasks=None):
    """`+1.23 ± 0.40`, with `≈` when the paired test cannot tell it from noise and `⚠ n/T` for negative transfer."""
    if stats is None:
        return "—"
    cell = _pm(stats, signed=True, digits=2)
    if stats.get("within_noise"):
        cell += f" {WITHIN_NOISE}"
    if count:
        cell += f" {NEGATIVE} {count}/{tasks}"
    return cell


def summary_table(rows):
    """Markdown table of Δm % against single-task learning (mean ± std over seeds), models (rows) × benchmarks (columns)."""
    benchmarks = list(dict.fromkeys(r["benchmark"] for r in rows))
    groups = list(dict.fromkeys((r["model"], r["weighting"], r["role"]) for r in rows if r["role"] != "baseline"))
    lines = [
        f"### Δm % against single-task learning ({WITHIN_NOISE} within noise, {NEGATIVE} n = tasks with negative transfer)",
        "",
        "| Model | Weighting | " + " | ".join(f"`{b}`" for b in benchmarks) + " |",
        "|---|---|" + "---:|" * len(benchmarks),
    ]
    index = {(r["benchmark"], r["model"], r["weighting"], r["role"]): r for r in rows}
    for model, weighting, role in groups:
        cells, label = [], None
        for benchmark in benchmarks:
            row = index.get((benchmark, model, weighting, role))
            if row is None or row["delta_m"] is None:
                cells.append("—")
                continue
            label = label or row_labels(row)
            cells.append(delta_cell(row["delta_m"], len(row["negative_transfer"]), len(row["relative"])))
        if label is None:
            continue
        if role == "tuned":  # the tuned values differ by benchmark: keep the row's name general
            label = (label[0], "equal, tuned lr and wd")
        lines.append(f"| {label[0]} | {label[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fair_table(rows):
    """Markdown table of every model against one network per task and each fair baseline that ran; `""` without them."""
    if not any(row.get("versus") and any(v is not None for v in row["versus"].values()) for row in rows):
        return ""
    references = [ref for ref in REFERENCES if any((row.get("versus") or {}).get(ref) for row in rows)]
    lines = [
        f"### Fair comparisons: Δm % of each model against {len(references) + 1} references ({WITHIN_NOISE} within noise)",
        "",
        "| Benchmark | Model | Weighting | Params | vs one network per task | "
        + " | ".join(REFERENCES[ref] for ref in references) + " |",
        "|---|---|---|---:|---:|" + "---:|" * len(references),
    ]
    for row in rows:
        if row["role"] not in ("model", "tuned"):
            continue
        model, weighting = row_labels(row)
        cells = [delta_cell(row["delta_m"])] + [delta_cell((row.get("versus") or {}).get(ref)) for ref in references]
        params = f"{row['params']:,}" if row.get("params") else "—"
        lines.append(f"| `{row['benchmark']}` | {model} | {weighting} | {params} | " + " | ".join(cells) + " |")
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
    size = f", {first['train_size']} training examples per task" if first.get("train_size") else ""
    lines = [
        f"#### `{first['benchmark']}` — test split, mean ± std over {n_seeds} seed(s){size}",
        "",
        "| " + " | ".join(header) + " |",
        "|---|---|" + "---:|" * (len(tasks) + 3),
    ]
    for row in rows:
        cells = list(row_labels(row))
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
            cells.append(delta_cell(row["delta_m"]))
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
    steps = f", {config.steps_per_epoch} steps per epoch" if config.steps_per_epoch else ""
    lines += [
        f"Settings: {config.epochs} epochs{steps}, batch size {config.batch_size}, Adam learning rate "
        f"{config.learning_rate:g}, seeds {', '.join(str(s) for s in config.seeds)}"
        + (f", early stopping on {_monitored(config)} (patience {config.patience}, best weights restored)" if config.patience else "")
        + f". {sum(len(r['seeds']) for r in rows)} runs, {_training_minutes(rows):.1f} min of training in total. "
        "Vector (MLP) models see flattened images; image models run on image benchmarks only.",
        "",
        f"Each cell is the test metric of a task (mean ± std over seeds) and, in brackets, its relative "
        f"change against the single-task baseline ({baseline}: one network per task, nothing shared, "
        f"same seed); positive is better. {NEGATIVE} marks negative transfer: the task is worse than when "
        "trained alone. Δm is the mean relative change over every task and metric (Maninis et al. 2019; "
        "Vandenhende et al. 2021), in percent.",
        "",
        f"Noise: every comparison is paired by seed (same data, subset and shuffles). {WITHIN_NOISE} marks a Δm "
        "whose mean over seeds the two-sided paired t-test (one-sample t-test of the per-seed Δm values, "
        f"`scipy.stats.ttest_1samp`) cannot tell from zero at level {config.significance:g}: the difference is "
        "within seed noise. With one seed nothing is tested.",
        "",
    ]
    if config.train_sizes or any(r.get("train_size") for r in rows):
        lines += [
            "Data-size sweep: `<benchmark>:train_size=n` keeps n training examples per task (a seeded subset; "
            "smaller sets are subsets of larger ones); validation and test splits are whole.",
            "",
        ]
    fair = []
    if config.param_matched:
        fair.append("*single-task, parameters of M* is one network per task scaled to the total parameter count of model M")
    if config.tuned_baseline:
        fair.append(
            "*equal, tuned* is M with equal task weights and its learning rate and weight decay searched by KerasTuner "
            f"({config.tuning_trials} random-search trials on the first seed's validation split, scored by validation Δm "
            "against the single-task baseline)"
        )
    if fair:
        lines += ["Fair baselines: " + "; ".join(fair) + ".", ""]
    lines.append(markdown_tables(rows, config))
    if failed:
        lines += ["### Failed runs", ""] + [f"- `{run}`: {message}" for run, message in failed.items()] + [""]
    return "\n".join(lines)


def _monitored(config):
    """What early stopping watches, in words."""
    if getattr(config, "monitor", "val_loss") == "val_score":
        return "the validation score (mean relative change of every task's main validation metric)"
    return "the validation loss"


# ---------------------------------------------------------------------- CSV
CSV_COLUMNS = [
    "benchmark", "model", "weighting", "role", "task", "metric", "higher_is_better",
    "mean", "std", "n_seeds", "relative_change_pct", "negative_transfer", "baseline", "p_value", "within_noise",
]


def write_csv(rows, path):
    """Writes one line per (benchmark, model, weighting, task, metric) and one Δm line per group.

    Δm lines have `task = "(all)"` and `metric = "delta_m_pct"` (against the single-task
    baseline), `"delta_m_vs_param_matched_pct"` or `"delta_m_vs_tuned_pct"`, with the paired
    test's `p_value` and `within_noise`.

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
            comparisons = [("delta_m_pct", row["delta_m"])]
            comparisons += [(f"delta_m_vs_{ref}_pct", stats) for ref, stats in (row.get("versus") or {}).items()]
            for metric, stats in comparisons:
                if stats is None:
                    continue
                writer.writerow({
                    **common, "task": "(all)", "metric": metric, "higher_is_better": True,
                    "mean": _g(stats["mean"]), "std": _g(stats["std"]),
                    "n_seeds": len(stats["values"]), "relative_change_pct": "",
                    "negative_transfer": bool(row["negative_transfer"]) if metric == "delta_m_pct" else "",
                    "p_value": "" if stats.get("p_value") is None else _g(stats["p_value"]),
                    "within_noise": "" if stats.get("within_noise") is None else stats["within_noise"],
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
    "delta_cell",
    "fair_table",
    "row_labels",
    "markdown_report",
    "markdown_tables",
    "primary_metric",
    "summarize",
    "summary_table",
    "write_csv",
]
