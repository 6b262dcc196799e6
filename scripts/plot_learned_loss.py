"""Learned loss tables per class (scales, offsets, weights, augmentation magnitudes, label smoothing,
weight decay of the classifier's rows), from the learned-loss files of one or more sweeps.

One panel per learned table; x: classes by training count (most frequent first), y: the learned
value (mean over seeds with their range), one line per method as ``scripts/aggregate.py`` labels
it (``[search.family.init=vs]`` where settings differ). Gray references: logit adjustment's
offsets (tau = 1, centred as the family centres them), CDT's scales (n_k / n_max)^0.2, each
augmentation operation's starting magnitude, label-aware smoothing's standard values (0.3 to 0) and
the optimizer's weight decay (the row decays on a log axis). Also writes the table behind the plot.

    python scripts/plot_learned_loss.py experiments/interpolation/fashion_mnist_lt/runs \
        --out experiments/interpolation/fashion_mnist_lt
    python scripts/plot_learned_loss.py <unpacked>/runs/bounded --out experiments/augmentation/fashion_mnist_lt/bounded
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from autobalance.losses.priors import cdt_scales, logit_adjustment_offsets  # noqa: E402
from autobalance.losses.smoothing import label_aware_smoothing  # noqa: E402

_spec = importlib.util.spec_from_file_location("aggregate", Path(__file__).with_name("aggregate.py"))
aggregate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(aggregate)

REFERENCE_GAMMA = 0.2


def learned_tables(saved: dict) -> dict[str, list[float]]:
    """The learned per-class tables of one learned-loss file (first group row), by name."""
    tables = {part: saved[part][0] for part in ("scales", "offsets", "weights") if part in saved["learned_parts"]}
    if "augment" in saved["learned_parts"] and saved.get("augmentation"):
        tables.update({f"augment_{op}": t[0] for op, t in saved["augmentation"]["magnitudes"].items()})
    if "label_smoothing" in saved["learned_parts"] and saved.get("label_smoothing"):
        tables["label_smoothing"] = saved["label_smoothing"]["values"][0]
    if "weight_decay" in saved["learned_parts"] and saved.get("weight_decay"):
        tables["weight_decay"] = saved["weight_decay"]["rows"]
    return tables


def collect(roots: list[tuple[Path, str | None]], label_by_dir: bool = False) -> tuple[dict, dict]:
    """{(label, table): [per-class values per seed]} and what the references need (class
    names, training counts, augmentation bounds and starts) from the learned-loss files;
    ``label_by_dir`` labels runs by their top directory, as ``scripts/aggregate.py`` does."""
    values: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    meta: dict = {}
    for row in aggregate.collect_all(roots, label_by_dir=label_by_dir):
        path = aggregate.run_dir(row, roots) / "learned_loss.yaml"
        if not path.exists():
            continue
        saved = yaml.safe_load(path.read_text())
        meta.update(names=saved["class_names"], counts=saved["train_counts"])
        if saved.get("augmentation"):
            cfg = yaml.safe_load((path.parent / "config.yaml").read_text())
            bounds = saved["augmentation"]["bounds"]
            meta["augment_start"] = {op: cfg["search"]["family"]["augment_init"] * b for op, b in bounds.items()}
            meta["augment_bounds"] = bounds
        if saved.get("weight_decay"):
            meta["decay_reference"] = saved["weight_decay"]["reference"]
        for table, per_class in learned_tables(saved).items():
            values[(row["label"], table)].append(per_class)
    if not values:
        raise SystemExit(f"no learned-loss file with learned tables under {', '.join(str(r) for r, _ in roots)}")
    return values, meta


def reference(table: str, meta: dict) -> tuple[np.ndarray, str] | None:
    """A gray line to read a table against, and its name."""
    counts = meta["counts"]
    if table == "offsets":
        la = logit_adjustment_offsets(counts).numpy()
        return la - la.mean(), "logit adjustment (tau = 1)"
    if table == "scales":
        return cdt_scales(counts, REFERENCE_GAMMA).numpy(), f"CDT scales (gamma = {REFERENCE_GAMMA})"
    if table.startswith("augment_"):
        op = table.removeprefix("augment_")
        return np.full(len(counts), meta["augment_start"][op]), "starting magnitude"
    if table == "label_smoothing":
        return label_aware_smoothing(counts, 0.3, 0.0).numpy(), "label-aware smoothing (0.3 to 0)"
    if table == "weight_decay":
        return np.full(len(counts), meta["decay_reference"]), "the optimizer's decay"
    return None


def plot(values: dict, meta: dict, out: Path) -> list[str]:
    """Write ``learned_loss.png`` and ``learned_loss.md`` under ``out``; returns the table lines."""
    names, counts = meta["names"], meta["counts"]
    order = np.argsort(counts, kind="stable")[::-1]
    tables = sorted({t for _, t in values}, key=lambda t: (t.startswith("augment_"), t))
    labels = sorted({label for label, _ in values})
    fig, axes = plt.subplots(1, len(tables), figsize=(5.5 * len(tables), 4.2), squeeze=False)
    lines = ["| method | table | seeds | " + " | ".join(f"{names[i]} ({counts[i]})" for i in order) + " |",
             "|---|---|---|" + "---|" * len(order)]
    x = np.arange(len(order))
    handles = {}
    for ax, table in zip(axes[0], tables, strict=True):
        for k, label in enumerate(labels):
            runs = np.array(values.get((label, table), []))
            if not len(runs):
                continue
            mean = runs.mean(0)[order]
            (handles[label],) = ax.plot(x, mean, marker="o", color=f"C{k}",
                                        label=f"{label} ({len(runs)} seeds)")
            ax.fill_between(x, runs.min(0)[order], runs.max(0)[order], color=f"C{k}", alpha=0.2)
            digits = ".3g" if table == "weight_decay" else ".3f"  # decays are around 1e-4
            lines.append(f"| {label} | {table} | {len(runs)} | " + " | ".join(f"{v:{digits}}" for v in mean) + " |")
        ref = reference(table, meta)
        if ref is not None:
            (line,) = ax.plot(x, ref[0][order], color="gray", linestyle="--", linewidth=1, label=ref[1])
            ax.legend(handles=[line], fontsize=7)
        if table.startswith("augment_"):
            ax.set_ylim(0, meta["augment_bounds"][table.removeprefix("augment_")])
        if table == "weight_decay":
            ax.set_yscale("log")
        ax.set_xticks(x, [f"{names[i]} ({counts[i]})" for i in order], fontsize=7, rotation=45, ha="right")
        ax.set_title(f"learned {table}")
        ax.set_xlabel("class (training images), most frequent first")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.legend(handles=list(handles.values()), fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0))
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "learned_loss.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    (out / "learned_loss.md").write_text("Learned tables per class (mean over seeds), classes by training "
                                         "count:\n\n" + "\n".join(lines) + "\n")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", help="run directories or RUNS.tar.gz[:GLOB] archives of them")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--label-by-dir", action="store_true", help="label each run by its top directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        roots = [r for spec in args.roots for r in aggregate.resolve_roots(spec, Path(scratch))]
        print("\n".join(plot(*collect(roots, args.label_by_dir), args.out)))


if __name__ == "__main__":
    main()
