"""Did the search's objective and the error it stands for move together? From online searches
(``search.retrain=false``: the searched model is the final one, never trained on validation).

Per run: the validation objective the search minimized (mean of its first and of its last
``--window`` hyper-steps, ``val_loss`` in ``hypersteps.jsonl``), the model's validation balanced
error at the last evaluation before the first hyper-step (``epochs.jsonl``) and at the end
(``metrics.json``), and the final training error. A search that lowers its objective while the
error rises has found a direction the objective rewards and the error does not.

    python scripts/objective_and_error.py experiments/regularizer/runs/fashion_mnist_lt/online_regularized \
        experiments/interpolation/recipes/raw_runs.tar.gz:fashion_mnist_lt/online_scales
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location("aggregate", Path(__file__).with_name("aggregate.py"))
aggregate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(aggregate)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run_row(run: Path, window: int) -> dict | None:
    """One online search's objective and errors; None for a run without hyper-steps."""
    steps = [r for r in _jsonl(run / "hypersteps.jsonl") if "val_loss" in r]
    if not steps:
        return None
    first_epoch = steps[0]["epoch"]
    before = [r for r in _jsonl(run / "epochs.jsonl") if r["epoch"] < first_epoch and "val_balanced_error" in r]
    metrics = json.loads((run / "metrics.json").read_text())
    return {"seed": metrics.get("seed"),
            "objective_first": float(np.mean([r["val_loss"] for r in steps[:window]])),
            "objective_last": float(np.mean([r["val_loss"] for r in steps[-window:]])),
            "val_error_before": before[-1]["val_balanced_error"] if before else None,
            "val_error_final": metrics.get("val", {}).get("balanced_error"),
            "train_error_final": metrics.get("train", {}).get("error")}


def table(roots: list[tuple[Path, str]], window: int) -> list[str]:
    lines = ["| runs | seed | objective, first hyper-steps | objective, last | validation balanced error % "
             "before the hyper-steps | at the end | final training error % |", "|---|---|---|---|---|---|---|"]
    def pct(v: float | None) -> str:
        return "" if v is None else f"{v:.2f}"

    for root, shown_as in roots:
        rows = [r for r in (run_row(m.parent, window) for m in sorted(root.rglob("metrics.json"))) if r]
        if not rows:
            raise SystemExit(f"{shown_as}: no online search with hyper-steps under it")
        for r in sorted(rows, key=lambda r: r["seed"]):
            errors = " | ".join(pct(r[k]) for k in ("val_error_before", "val_error_final", "train_error_final"))
            lines.append(f"| {shown_as} | {r['seed']} | {r['objective_first']:.3f} | {r['objective_last']:.3f} | "
                         f"{errors} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", help="run directories or RUNS.tar.gz[:GLOB] archives of them")
    parser.add_argument("--window", type=int, default=20, help="hyper-steps averaged at each end")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        roots = [r for spec in args.roots for r in aggregate.resolve_roots(spec, Path(scratch))]
        print("\n".join(table(roots, args.window)))


if __name__ == "__main__":
    main()
