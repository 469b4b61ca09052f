"""Heat maps of task-by-task matrices: a PNG with matplotlib, or a quick RGB array for TensorBoard."""

import numpy as np


def heatmap_image(matrix, low=-1.0, high=1.0, cell=16):
    """An RGB image `[rows·cell, cols·cell, 3]` (uint8) of `matrix`: blue below 0, white at 0, red above.

    Values are clipped to `[low, high]`; NaN cells are grey. Pure numpy, so a callback can draw one
    every few steps at no cost worth counting.
    """
    matrix = np.asarray(matrix, dtype="float64")
    scaled = np.where(matrix >= 0, np.clip(matrix / high, 0, 1), -np.clip(matrix / low, 0, 1)) if high > 0 > low else np.clip(matrix, 0, 1)
    red = np.where(scaled < 0, 1 + scaled, 1.0)
    blue = np.where(scaled > 0, 1 - scaled, 1.0)
    green = 1 - np.abs(scaled)
    rgb = np.stack([red, green, blue], axis=-1)
    rgb[np.isnan(matrix)] = 0.6
    rgb = np.kron(rgb, np.ones((cell, cell, 1)))
    return (255 * np.clip(rgb, 0, 1)).astype("uint8")


def save_heatmap(matrix, path, row_names, column_names=None, title="", row_label="", column_label="", symmetric=True):
    """Writes a heat map of `matrix` with its values printed in the cells to a PNG file.

    Args:
        matrix: a 2-D array.
        path: the PNG path.
        row_names, column_names: tick labels (columns default to the rows').
        title, row_label, column_label: texts.
        symmetric: colour scale centred on 0 (blue negative, red positive).

    Returns:
        `path`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix, dtype="float64")
    column_names = row_names if column_names is None else column_names
    finite = matrix[np.isfinite(matrix)]
    bound = float(np.max(np.abs(finite))) if finite.size else 1.0
    bound = bound or 1.0
    size = max(3.5, 0.75 * matrix.shape[1] + 2)
    figure, axes = plt.subplots(figsize=(size, max(3.0, 0.6 * matrix.shape[0] + 1.5)))
    kwargs = {"vmin": -bound, "vmax": bound, "cmap": "RdBu_r"} if symmetric else {"cmap": "viridis"}
    image = axes.imshow(matrix, **kwargs)
    axes.set_xticks(range(matrix.shape[1]), [str(n) for n in column_names], rotation=45, ha="right")
    axes.set_yticks(range(matrix.shape[0]), [str(n) for n in row_names])
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            if np.isfinite(matrix[i, j]):
                axes.text(j, i, f"{matrix[i, j]:.2g}", ha="center", va="center", fontsize=8)
    axes.set_title(title)
    axes.set_xlabel(column_label)
    axes.set_ylabel(row_label)
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
