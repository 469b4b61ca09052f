"""`plot_front`: trade-off fronts as a figure (matplotlib, Agg backend: no display needed)."""

import itertools

import numpy as np

from mtl_keras.pareto.front import non_dominated


def plot_front(fronts, task_names, path=None, points=None, title=None, axis_label="test loss"):
    """Draws one or several fronts of per-task losses, and single points (e.g. strategies' end points).

    Two tasks: a scatter per front with its non-dominated points joined (sorted by the first loss).
    Three or more: one panel per pair of tasks (scatter; non-dominated points filled, the others hollow).

    Args:
        fronts: dict `{label: array (n, T)}` of loss vectors, e.g. `{"fixed weights": ..., "preference model": ...}`.
        task_names: the `T` task names (axis labels).
        path: where to save the figure (`.png`, `.svg`, `.pdf`); `None` to only return it.
        points: optional dict `{label: (T,) loss vector}` drawn as labelled markers.
        title: figure title.
        axis_label: what the axes show, after the task name.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    num_tasks = len(task_names)
    pairs = [(0, 1)] if num_tasks == 2 else list(itertools.combinations(range(num_tasks), 2))
    figure, axes = plt.subplots(1, len(pairs), figsize=(5 * len(pairs), 4.2), squeeze=False)
    markers = itertools.cycle("osD^v<>p")
    for (label, values), marker in zip(fronts.items(), markers):
        values = np.asarray(values, dtype=float).reshape(-1, num_tasks)
        mask = non_dominated(values)
        color = None
        for ax, (i, j) in zip(axes[0], pairs):
            drawn = ax.scatter(values[mask, i], values[mask, j], marker=marker, color=color, label=label, zorder=3)
            color = drawn.get_facecolor()[0]
            ax.scatter(values[~mask, i], values[~mask, j], marker=marker, facecolors="none", edgecolors=[color], zorder=3)
            if num_tasks == 2 and mask.sum() > 1:
                front = values[mask][np.argsort(values[mask, i])]
                ax.plot(front[:, i], front[:, j], color=color, linewidth=1.2, zorder=2)
    for label, value in (points or {}).items():
        value = np.asarray(value, dtype=float).reshape(-1)
        for ax, (i, j) in zip(axes[0], pairs):
            ax.scatter([value[i]], [value[j]], marker="*", s=140, edgecolors="black", zorder=4, label=label)
    for ax, (i, j) in zip(axes[0], pairs):
        ax.set_xlabel(f"{task_names[i]} {axis_label}")
        ax.set_ylabel(f"{task_names[j]} {axis_label}")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=110)
        plt.close(figure)
    return figure
