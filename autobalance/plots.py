"""PNG plots of a search: hyperparameter trajectories and per-class accuracy against CE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_trajectories(records: list[dict[str, Any]], parts: list[str], class_names: list[str],
                      path: Path) -> Path:
    """One panel per learned part; one line per class (group 0), darker for rarer classes."""
    fig, axes = plt.subplots(1, len(parts), figsize=(5 * len(parts), 3.8), squeeze=False)
    steps = [r["step"] for r in records]
    cmap = plt.get_cmap("viridis")
    k = len(class_names)
    for ax, part in zip(axes[0], parts, strict=True):
        for c, name in enumerate(class_names):
            ax.plot(steps, [r[part][0][c] for r in records], color=cmap(c / max(k - 1, 1)),
                    label=name if k <= 12 else None, linewidth=1.2)
        ax.set_title(f"learned {part}")
        ax.set_xlabel("inner step")
        ax.grid(alpha=0.3)
    if k <= 12:
        fig.legend(*axes[0][0].get_legend_handles_labels(), fontsize=7, title="class",
                   loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_per_class_accuracy(accuracies: dict[str, list[float]], class_names: list[str],
                            train_counts: list[int], path: Path) -> Path:
    """Grouped bars of per-class test accuracy for each named model."""
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(class_names) + 2), 3.8))
    width = 0.8 / max(len(accuracies), 1)
    for i, (label, acc) in enumerate(accuracies.items()):
        ax.bar([c + i * width for c in range(len(class_names))], acc, width, label=label)
    ax.set_xticks([c + 0.4 - width / 2 for c in range(len(class_names))])
    ax.set_xticklabels([f"{n}\n({m})" for n, m in zip(class_names, train_counts, strict=True)],
                       fontsize=7)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("per-class test accuracy (train count in brackets)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
