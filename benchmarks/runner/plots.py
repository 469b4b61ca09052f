"""Figures of a benchmark run (matplotlib, Agg): learning curves, loss vs task correlation, Δm vs data size."""

import math
import os
import re

CORRELATION_FIGURE = "mmoe_correlation.png"
ROLE_NAMES = {"baseline": "single-task", "param_matched": "single-task, same params", "tuned": "equal weights, tuned"}


def _label(model, weighting, role):
    if role == "baseline":
        return f"{model} (single-task)"
    if role in ROLE_NAMES:
        return f"{model}: {ROLE_NAMES[role]}"
    return f"{model} / {weighting}"


def _figure(width, height):
    # A bare Figure renders with the Agg canvas: no pyplot, no global backend switch, no display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def learning_curves(records, config, out_dir, split="validation", metric="loss"):
    """Writes `curves_<benchmark>.png` per benchmark: one panel per task, `metric` against epoch.

    Each line is one (model, weighting), averaged over seeds (up to the shortest run when early
    stopping cut some short); the single-task baseline is dashed and black.

    Args:
        records: run records (with `history[split][task][metric]` lists).
        config: the `BenchmarkRun` (unused beyond titles; may be `None`).
        out_dir: the folder to write to.
        split: `"validation"` (default) or `"train"`.
        metric: the logged metric, `"loss"` by default.

    Returns:
        The list of written paths.
    """
    paths = []
    for benchmark in dict.fromkeys(r["benchmark"] for r in records):
        runs = [r for r in records if r["benchmark"] == benchmark]
        tasks = [t["name"] for t in runs[0]["tasks"]]
        columns = min(len(tasks), 4)
        rows = math.ceil(len(tasks) / columns)
        figure = _figure(3.6 * columns + 0.6, 3.0 * rows + 0.6)
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        groups = list(dict.fromkeys((r["model"], r["weighting"], r.get("role", "model")) for r in runs))
        for ax, task in zip(axes, tasks):
            for model, weighting, role in groups:
                curves = [
                    r["history"][split].get(task, {}).get(metric)
                    for r in runs
                    if (r["model"], r["weighting"], r.get("role", "model")) == (model, weighting, role)
                ]
                curves = [c for c in curves if c]
                if not curves:
                    continue
                length = min(len(c) for c in curves)
                mean = [sum(c[i] for c in curves) / len(curves) for i in range(length)]
                style = {"color": "black", "linestyle": "--"} if role == "baseline" else {}
                label = _label(model, weighting, role)
                ax.plot(range(1, length + 1), mean, label=label, linewidth=1.5, **style)
            ax.set_title(task)
            ax.set_xlabel("epoch")
            ax.set_ylabel(f"{split} {metric}")
            ax.grid(alpha=0.3)
        for ax in axes[len(tasks):]:
            ax.set_visible(False)
        handles, labels = axes[0].get_legend_handles_labels()
        legend_rows = math.ceil(len(labels) / 3)
        legend_height = 0.25 * legend_rows + 0.15
        figure.set_size_inches(3.6 * columns + 0.6, 3.0 * rows + 0.6 + legend_height)
        figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
        figure.suptitle(f"{benchmark}: per-task {split} {metric} (mean over seeds)")
        figure.tight_layout(rect=(0, legend_height / figure.get_figheight(), 1, 0.95))
        path = os.path.join(out_dir, f"curves_{_safe(benchmark)}.png")
        figure.savefig(path)
        paths.append(path)
    return paths


def correlation_points(records, benchmark="mmoe_synthetic", config=None):
    """Test loss against task correlation `p`, by (model, weighting, role), from `benchmark`'s records.

    Two numbers per point: the mean test loss over the tasks (MSE, averaged over seeds), and its
    change against the single-task baseline trained on the same seed (percent, positive = lower
    loss than single-task; `None` for the baselines). Seeds draw different task definitions, so
    the paired change varies much less over seeds than the raw loss.

    Returns:
        `{(model, weighting, role): [(p, mean_loss, mean_change, std_change, n_seeds), ...]}`
        sorted by `p` (read from each record's `info["p"]`).
    """
    runs = [r for r in records if r.get("benchmark_name") == benchmark and "p" in r.get("info", {})]

    def loss(record):
        values = [metrics["loss"] for metrics in record["test"].values() if "loss" in metrics]
        return sum(values) / len(values)

    baselines = {(r["benchmark"], r["model"], r["seed"]): loss(r) for r in runs if r.get("role") == "baseline"}
    grouped = {}
    for record in runs:
        role = record.get("role", "model")
        key = (record["model"], record["weighting"], role)
        value = loss(record)
        change = None
        if role != "baseline":
            if config is not None and config.baseline_for(record["model"]) is not None:
                names = [config.baseline_for(record["model"])]
            else:
                names = sorted({m for (b, m, s) in baselines if b == record["benchmark"] and s == record["seed"]})
            base = next((baselines[(record["benchmark"], n, record["seed"])] for n in names
                         if (record["benchmark"], n, record["seed"]) in baselines), None)
            if base:
                change = 100.0 * (base - value) / base
        grouped.setdefault(key, {}).setdefault(float(record["info"]["p"]), []).append((value, change))
    out = {}
    for key, by_p in grouped.items():
        rows = []
        for p in sorted(by_p):
            losses = [v for v, _ in by_p[p]]
            changes = [c for _, c in by_p[p] if c is not None]
            mean_change = sum(changes) / len(changes) if changes else None
            std_change = _std(changes) if changes else None
            rows.append((p, sum(losses) / len(losses), mean_change, std_change, len(losses)))
        out[key] = rows
    return out


def correlation_figure(records, config, out_dir, benchmark="mmoe_synthetic"):
    """Writes `mmoe_correlation.png`: test loss against task correlation (Ma et al. 2018, Fig. 4 style).

    Left: the mean test loss over the tasks against `p`, one line per (model, weighting), the
    single-task baseline dashed. Right: the same loss as a change against the single-task baseline
    of the same seed (percent, above zero = better than single-task; error bars: std over seeds).
    Drawn only when `benchmark` ran at two or more correlations `p` (e.g. benchmarks
    `mmoe_synthetic:p=0.5` and `mmoe_synthetic:p=0.9`).

    Returns:
        The written path, or `None` when there are fewer than two correlations.
    """
    points = correlation_points(records, benchmark, config)
    if len({row[0] for rows in points.values() for row in rows}) < 2:
        return None
    seeds = max(row[4] for rows in points.values() for row in rows)
    figure = _figure(12.0, 4.8)
    left, right = figure.subplots(1, 2)
    for (model, weighting, role), rows in points.items():
        ps = [r[0] for r in rows]
        if role == "baseline":
            left.plot(ps, [r[1] for r in rows], "k--o", label=f"{model} (single-task)")
            right.axhline(0.0, color="black", linestyle="--", linewidth=1)
            continue
        line, = left.plot(ps, [r[1] for r in rows], marker="o", label=_label(model, weighting, role))
        paired = [(r[0], r[2], r[3]) for r in rows if r[2] is not None]
        if paired:
            right.errorbar([q[0] for q in paired], [q[1] for q in paired], yerr=[q[2] for q in paired],
                           marker="o", capsize=3, color=line.get_color())
    left.set_ylabel(f"test loss (MSE, mean over tasks and {seeds} seed(s))")
    right.set_ylabel("loss change vs single-task, same seed (%)")
    for ax in (left, right):
        ax.set_xlabel("task correlation p (cosine of the task weight vectors)")
        ax.grid(alpha=0.3)
    figure.legend(*left.get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=8, frameon=False)
    figure.suptitle(f"{benchmark}: test loss vs task correlation (after Ma et al., KDD 2018, Fig. 4)")
    rows_of_legend = math.ceil(len(points) / 4)
    figure.tight_layout(rect=(0, (0.25 * rows_of_legend + 0.15) / 4.8, 1, 0.95))
    path = os.path.join(out_dir, CORRELATION_FIGURE)
    figure.savefig(path)
    return path


def sweep_points(rows, reference=None):
    """Δm against training-set size, from summary rows (`report.summarize`), per base benchmark and line.

    Args:
        rows: summary rows.
        reference: `None` (Δm against one network per task) or `"param_matched"` / `"tuned"`
            (the row's `versus` statistics).

    Returns:
        `{base benchmark: {(model, weighting, role): [(size, mean, std, within_noise), ...]}}`,
        sorted by size, for base benchmarks run at two or more sizes (`size` is the number of
        training examples per task; the full split counts its examples).
    """
    out = {}
    for row in rows:
        if row["role"] == "baseline":
            continue
        stats = row["delta_m"] if reference is None else (row.get("versus") or {}).get(reference)
        if stats is None:
            continue
        size = row.get("train_size") or _examples(row.get("train_examples"))
        if size is None:
            continue
        key = (row["model"], row["weighting"], row["role"])
        out.setdefault(row.get("base_benchmark", row["benchmark"]), {}).setdefault(key, []).append(
            (size, stats["mean"], stats["std"], stats.get("within_noise"))
        )
    result = {}
    for base, lines in out.items():
        if len({point[0] for points in lines.values() for point in points}) >= 2:
            result[base] = {key: sorted(points) for key, points in lines.items()}
    return result


def sweep_figures(rows, out_dir):
    """Writes `sweep_<benchmark>.png` for every benchmark run at two or more training-set sizes.

    Left panel: Δm (mean ± std over seeds) against the number of training examples per task (log
    scale), one line per model and weighting, against one network per task: above the dashed zero
    line sharing helps, below it hurts. Right panel (when the grid has parameter-matched
    baselines): the same against the single-task model with the model's parameter count. Hollow
    markers: within noise (paired t-test over seeds, see `stats`).

    Returns:
        The list of written paths.
    """
    paths = []
    matched = sweep_points(rows, "param_matched")
    for base, lines in sweep_points(rows).items():
        panels = [("vs one network per task", lines)]
        if base in matched:
            panels.append(("vs single-task with the same parameter count", matched[base]))
        figure = _figure(6.4 * len(panels), 5.0)
        axes = figure.subplots(1, len(panels), squeeze=False).ravel()
        colors = {}
        for ax, (title, panel) in zip(axes, panels):
            for key, points in panel.items():
                sizes = [p[0] for p in points]
                color = colors.get(key)
                line = ax.errorbar(sizes, [p[1] for p in points], yerr=[p[2] for p in points], capsize=3,
                                   linewidth=1.5, color=color, label=_label(*key),
                                   linestyle=":" if key[2] in ROLE_NAMES else "-")
                colors[key] = line.lines[0].get_color()
                noisy = [p for p in points if p[3]]
                clear = [p for p in points if not p[3]]
                ax.plot([p[0] for p in clear], [p[1] for p in clear], "o", color=colors[key])
                ax.plot([p[0] for p in noisy], [p[1] for p in noisy], "o", markerfacecolor="white", color=colors[key])
            ax.axhline(0.0, color="black", linestyle="--", linewidth=1)
            ax.set_xscale("log")
            ticks = sorted({p[0] for points in panel.values() for p in points})
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.minorticks_off()
            ax.set_xlabel("training examples per task")
            ax.set_ylabel("Δm % (mean ± std over seeds)")
            ax.set_title(title, fontsize=10)
            ax.grid(alpha=0.3)
        handles, labels = axes[0].get_legend_handles_labels()
        legend_rows = math.ceil(len(labels) / 3)
        legend_height = 0.25 * legend_rows + 0.2
        figure.set_size_inches(6.4 * len(panels), 5.0 + legend_height)
        figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
        figure.suptitle(f"{base}\nΔm against training-set size: sharing helps above 0, hurts below; hollow = within noise",
                        fontsize=10)
        figure.tight_layout(rect=(0, legend_height / figure.get_figheight(), 1, 0.92))
        path = os.path.join(out_dir, f"sweep_{_safe(base)}.png")
        figure.savefig(path)
        paths.append(path)
    return paths


def _examples(value):
    if isinstance(value, dict):
        return max(value.values()) if value else None
    return value


def _std(values):
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _safe(text):
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_")
