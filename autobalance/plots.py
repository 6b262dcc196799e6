"""PNG plots of a search: hyperparameter trajectories and per-class accuracy against CE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from autobalance.frequency_bins import frequency_bins  # noqa: E402

MAX_ATTRIBUTE_ROWS = 4
"""Attribute values drawn as rows of panels (a group-sensitive loss has one table row each)."""


def plot_trajectories(records: list[dict[str, Any]], parts: list[str], labels: list[str],
                      counts: list[float], path: Path) -> Path:
    """One panel per learned part (augmentation magnitudes one per operation) and one for the
    hypergradient norm, against the inner step; with a group-sensitive loss, one row of panels
    per attribute value (the first :data:`MAX_ATTRIBUTE_ROWS`).

    ``labels`` and ``counts`` name each column of the records' (G, columns) tables (classes, or
    clusters of classes) and its training count. Up to 20 columns get a line each, coloured by
    frequency rank; beyond, columns are binned into 10 frequency-rank bins, each drawn as its mean with a
    min-max band, so 1,000 or 8,142 classes stay readable. A single hyper-step shows as points.
    """
    rows = min(max(len(records[0][p]) for p in parts), MAX_ATTRIBUTE_ROWS) if parts else 1
    fig, axes = plt.subplots(rows, len(parts) + 1, figsize=(5 * (len(parts) + 1), 3.8 * rows), squeeze=False)
    steps = np.array([r["step"] for r in records])
    marker = "o" if len(records) == 1 else None
    bins = frequency_bins(labels, counts)
    cmap = plt.get_cmap("viridis")
    for a in range(rows):
        for ax, part in zip(axes[a], parts, strict=False):
            if a >= len(records[0][part]):  # a part with one row for all attribute values (weight decay)
                ax.axis("off")
                continue
            table = np.array([r[part][a] for r in records])  # (steps, columns) of attribute value a
            for i, (label, columns) in enumerate(bins):
                color = cmap(i / max(len(bins) - 1, 1))
                ax.plot(steps, table[:, columns].mean(1), color=color, label=label, linewidth=1.2, marker=marker)
                if len(columns) > 1:
                    ax.fill_between(steps, table[:, columns].min(1), table[:, columns].max(1), color=color,
                                    alpha=0.15)
            ax.set_title(f"learned {part}" + (f" (attribute {a})" if len(records[0][part]) > 1 else ""))
            ax.set_xlabel("inner step")
            ax.set_ylabel(f"{part.removeprefix('augment_')} magnitude" if part.startswith("augment_")
                          else part.removesuffix("s").replace("_", " "))
            ax.grid(alpha=0.3)
        if a:
            axes[a][-1].axis("off")
    norm_ax = axes[0][-1]
    norm_ax.plot(steps, [r.get("hypergrad_norm", np.nan) for r in records], color="black", marker=marker)
    norm_ax.set_yscale("log")
    norm_ax.set_title("hypergradient norm (before clipping)")
    norm_ax.set_xlabel("inner step")
    norm_ax.grid(alpha=0.3)
    if len(bins) <= 12:
        title = "class" if len(bins) == len(labels) else "frequency rank bin"
        fig.legend(*axes[0][0].get_legend_handles_labels(), fontsize=7, title=title,
                   loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_per_class_accuracy(accuracies: dict[str, list[float]], class_names: list[str],
                            train_counts: list[int], path: Path) -> Path:
    """Grouped bars of test accuracy for each named model: per class up to 20 classes, per
    frequency-rank bin (mean over its classes) beyond."""
    bins = frequency_bins(class_names, train_counts)
    binned = len(bins) < len(class_names)
    fig, ax = plt.subplots(figsize=(max(6, (1.0 if binned else 0.6) * len(bins) + 2), 3.8))
    width = 0.8 / max(len(accuracies), 1)
    for i, (label, acc) in enumerate(accuracies.items()):
        ax.bar([g + i * width for g in range(len(bins))], [float(np.mean(np.asarray(acc)[cols]))
                                                           for _, cols in bins], width, label=label)
    ax.set_xticks([g + 0.4 - width / 2 for g in range(len(bins))])
    ticks = ([label.removeprefix("ranks ").replace(" (", "\n(") for label, _ in bins] if binned else
             [f"{class_names[c]}\n({train_counts[c]})" for _, (c,) in bins])
    ax.set_xticklabels(ticks, fontsize=7)
    ax.set_ylabel("mean test accuracy" if binned else "test accuracy")
    if binned:
        ax.set_xlabel("frequency rank (1 = most frequent class)")
    ax.set_ylim(0, 1)
    ax.set_title("test accuracy by frequency-rank bin (train counts in brackets)" if binned else
                 "per-class test accuracy (train count in brackets)")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
