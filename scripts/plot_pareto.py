"""The accuracy-fairness trade-off of a group study, from ``scripts/aggregate.py``'s summary.csv:
average-group error against DEO and against worst-group error, one point per method (mean over
its seeds), the AutoBalance trade-off runs joined in order of their fairness weight.

    python scripts/plot_pareto.py experiments/groups/spurious_fashion/summary.csv --out pareto.png
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fairness_weight(row: dict) -> float | None:
    """The weight of an AutoBalance trade-off row (None for other methods)."""
    return float(row["fairness_weight"]) if row.get("fairness_weight") else None


def read(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("worst_group_error_mean") not in (None, "", "nan")]
    if not rows:
        raise SystemExit(f"{path}: no row with group metrics (runs on data with a group column)")
    return rows


def short_name(row: dict) -> str:
    """A method's name without its settings (an AutoBalance search by its objective)."""
    if row["method"].startswith("autobalance"):
        return f"AutoBalance, {row.get('objective') or 'search'}"
    return row["method"].split("(")[0].split(" [")[0]


def plot(rows: list[dict], out: Path) -> Path:
    """Two panels; methods far outside the others (more than twice their median average-group
    error, ERM on a strong correlation) are named in the title instead of stretching the axes."""
    average = [float(r["average_group_error_mean"]) for r in rows]
    limit = 2 * sorted(average)[len(average) // 2]
    shown = [r for r, a in zip(rows, average, strict=True) if a <= limit]
    off = [r for r, a in zip(rows, average, strict=True) if a > limit]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    trade_off = sorted((r for r in shown if fairness_weight(r) is not None), key=fairness_weight)
    others = [r for r in shown if fairness_weight(r) is None]
    for ax, key, name in ((axes[0], "deo_mean", "DEO (points)"), (axes[1], "worst_group_error_mean",
                                                                    "worst-group error (%)")):
        for r in others:
            ax.scatter(float(r["average_group_error_mean"]), float(r[key]), s=30)
            ax.annotate(short_name(r), (float(r["average_group_error_mean"]), float(r[key])),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
        if trade_off:
            xs = [float(r["average_group_error_mean"]) for r in trade_off]
            ys = [float(r[key]) for r in trade_off]
            ax.plot(xs, ys, "k-o", ms=4, label="AutoBalance trade-off, labelled by lambda")
            for r, x, y in zip(trade_off, xs, ys, strict=True):
                ax.annotate(f"{fairness_weight(r):g}", (x, y), fontsize=7, xytext=(-10, -10),
                            textcoords="offset points")
            ax.legend(fontsize=8)
        ax.set_xlabel("average-group error (%)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if off:
            ax.set_title("off the chart: " + "; ".join(
                f"{short_name(r)} ({float(r['average_group_error_mean']):.1f}, {float(r[key]):.1f})" for r in off),
                fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", type=Path, help="summary.csv written by scripts/aggregate.py")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(plot(read(args.summary), args.out))


if __name__ == "__main__":
    main()
