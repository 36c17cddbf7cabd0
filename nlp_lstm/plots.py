"""PNG plots for run directories (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def training_curves(
    history: dict[str, list[float]], metrics: list[str], path: Path, title: str = ""
) -> Path:
    """One panel per metric, train vs validation (``val_`` keys), by epoch."""
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(max(6.5, 5 * len(metrics)), 3.8), squeeze=False
    )
    for axis, name in zip(axes[0], metrics):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if history.get(key):
                epochs = np.arange(1, len(history[key]) + 1)
                axis.plot(epochs, history[key], marker="o", label=label)
        axis.set_xlabel("epoch")
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def confusion_matrix(matrix, labels: list[str], path: Path, title: str = "") -> Path:
    """A heatmap of ``[true, predicted]`` counts with the counts written in."""
    matrix = np.asarray(matrix)
    size = 1.2 + 0.9 * len(labels)
    fig, axis = plt.subplots(figsize=(size + 1.5, size))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    for (i, j), count in np.ndenumerate(matrix):
        axis.text(
            j,
            i,
            str(count),
            ha="center",
            va="center",
            color="white" if count > matrix.max() / 2 else "black",
        )
    fig.colorbar(image)
    axis.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def attention(
    weights, source_pieces: list[str], target_pieces: list[str], path: Path, title: str = ""
) -> Path:
    """A heatmap of ``weights[target, source]``: which source pieces each output piece
    attended to."""
    weights = np.asarray(weights)[: len(target_pieces), : len(source_pieces)]
    fig, axis = plt.subplots(
        figsize=(1.5 + 0.38 * len(source_pieces), 1.2 + 0.32 * len(target_pieces))
    )
    axis.imshow(weights, cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    axis.set_xticks(range(len(source_pieces)), source_pieces, rotation=60, ha="right", fontsize=8)
    axis.set_yticks(range(len(target_pieces)), target_pieces, fontsize=8)
    axis.set_xlabel("source")
    axis.set_ylabel("translation")
    axis.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
