"""Learned augmentation magnitudes per class, from the learned-loss files of a sweep.

One panel per operation; x: classes by training count (most frequent first), y: the learned
magnitude (mean over seeds with their range), one line per search setting (the run's
``search.family.learn``), the starting magnitude dashed. Also writes the table behind it.

    python scripts/plot_augmentation.py experiments/augmentation/fashion_mnist_lt/runs/autobalance \
        --out experiments/augmentation/fashion_mnist_lt
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402


def collect(root: Path) -> tuple[dict, list[str], list[int], dict]:
    """{(setting, op): [per-class magnitudes per seed]}, class names, counts, bounds."""
    tables: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    names, counts, bounds, init = [], [], {}, {}
    for path in sorted(root.rglob("learned_loss.yaml")):
        saved = yaml.safe_load(path.read_text())
        if not saved.get("augmentation"):
            continue
        cfg = yaml.safe_load((path.parent / "config.yaml").read_text())
        setting = "+".join(cfg["search"]["family"]["learn"])
        names, counts = saved["class_names"], saved["train_counts"]
        bounds = saved["augmentation"]["bounds"]
        init = {op: cfg["search"]["family"]["augment_init"] * b for op, b in bounds.items()}
        for op, table in saved["augmentation"]["magnitudes"].items():
            tables[(setting, op)].append(table[0])
    if not tables:
        raise SystemExit(f"no learned-loss file with augmentation under {root}")
    return tables, names, counts, {"bounds": bounds, "init": init}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    tables, names, counts, meta = collect(args.root)
    order = np.argsort(counts)[::-1]
    ops = sorted({op for _, op in tables}, key=list(meta["bounds"]).index)
    settings = sorted({s for s, _ in tables})
    fig, axes = plt.subplots(1, len(ops), figsize=(5 * len(ops), 3.8), squeeze=False)
    lines = ["| setting | operation | " + " | ".join(f"{names[i]} ({counts[i]})" for i in order) + " |",
             "|---|---|" + "---|" * len(order)]
    for ax, op in zip(axes[0], ops, strict=True):
        for setting in settings:
            runs = np.array(tables.get((setting, op), []))
            if not len(runs):
                continue
            mean = runs.mean(0)[order]
            ax.plot(range(len(order)), mean, marker="o", label=f"learn {setting} ({len(runs)} seeds)")
            ax.fill_between(range(len(order)), runs.min(0)[order], runs.max(0)[order], alpha=0.2)
            lines.append(f"| {setting} | {op} | " + " | ".join(f"{v:.3f}" for v in mean) + " |")
        ax.axhline(meta["init"][op], color="gray", linestyle="--", linewidth=1, label="start")
        ax.set_ylim(0, meta["bounds"][op])
        ax.set_xticks(range(len(order)), [f"{names[i]}\n{counts[i]}" for i in order], fontsize=7)
        ax.set_title(f"learned {op} magnitude (bound {meta['bounds'][op]:g})")
        ax.set_xlabel("class (training images), most frequent first")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "learned_magnitudes.png", dpi=120)
    (args.out / "learned_magnitudes.md").write_text("Learned magnitudes per class (mean over seeds), classes "
                                                    "by training count:\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
