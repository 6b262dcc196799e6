"""How far would each validation measure shift a searched model's logits towards the rare classes?

For each online search (``search.retrain=false``: the searched model is the final one, never
trained on validation), its final model (``checkpoints/search.pt``) in eval mode on the whole
validation split: balanced error, balanced CE and calibrated balanced CE (after the fitted
temperature) of the logits ``z - delta * log pi`` (a post-hoc logit adjustment on top of what
training put in, pi the training class frequencies), on a grid of ``delta``, and the ``delta``
each measure is least at. ``--mode train`` runs the model as the search's validation objective
does instead (training mode: BatchNorm normalizes by each class-balanced validation batch's own
statistics; 20 such batches of the training batch size, their logits pooled, the model a copy so
its running statistics stay as trained).

Why this bears on the offsets' drift: with a head bias, raising the offsets' exponent tau by d in
training shifts the trained bias by about -d log pi and leaves the rest, so the last-layer
hypergradient of tau is about the slope of the validation objective along this line. A measure
whose least value lies at delta > 0 on the final model keeps asking for a larger tau.

    python scripts/posthoc_adjustment.py experiments/interpolation/offsets_drift/runs/*/online_*/seed* \\
        --out experiments/interpolation/offsets_drift
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import yaml
from omegaconf import OmegaConf

from autobalance.config import ObjectiveConfig
from autobalance.configure import load_config
from autobalance.data.build import build_data
from autobalance.data.bundle import DataBundle
from autobalance.metrics import classification_metrics
from autobalance.objectives import build_objective
from autobalance.pipeline import build_model
from autobalance.training.checkpoint import load_checkpoint

GRID = np.round(np.arange(-1.0, 2.0001, 0.05), 2)
MEASURES = ("balanced_error", "balanced_ce", "calibrated_balanced_ce")


def load_run(run: Path) -> tuple[DataBundle, torch.nn.Module, int]:
    """A run's data (its seed's split) and its final searched model (``checkpoints/search.pt``)."""
    cfg = load_config(OmegaConf.load(run / "config.yaml"))
    data = build_data(cfg.data, cfg.seed)
    model = build_model(cfg, data, torch.device("cpu"))
    model.load_state_dict(load_checkpoint(run / "checkpoints" / "search.pt")["model"])
    return data, model, cfg.seed


def validation_logits(data: DataBundle, model: torch.nn.Module, seed: int, mode: str = "eval",
                      batches: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation logits and labels: in eval mode on the whole split, or in training mode on
    ``batches`` class-balanced batches."""
    if mode == "eval":
        model.eval()
        drawn = list(data.eval_batches(data.val))
    else:
        model = copy.deepcopy(model).train()
        drawn = [data.sample_val_batch(seed, 1_000_000 + i) for i in range(batches)]
    with torch.no_grad():
        logits = torch.cat([model(x).double() for x, _, _ in drawn])
    return logits, torch.cat([y for _, y, _ in drawn])


def measure_curves(logits: torch.Tensor, y: torch.Tensor, log_prior: torch.Tensor) -> dict[str, np.ndarray]:
    """Each measure along the grid of post-hoc shifts (balanced error in %)."""
    k = logits.shape[1]
    counts = [1] * k  # the shot groups are not used
    objectives = {name: build_objective(ObjectiveConfig(name), k) for name in MEASURES[1:]}
    curves: dict[str, list[float]] = {name: [] for name in MEASURES}
    for delta in GRID:
        z = logits - float(delta) * log_prior
        curves["balanced_error"].append(classification_metrics(z.argmax(1), y, counts)["balanced_error"])
        for name, objective in objectives.items():
            curves[name].append(float(objective(z, y, None)))
    return {name: np.array(values) for name, values in curves.items()}


def least_at(curve: np.ndarray) -> float:
    """The grid's delta where ``curve`` is least (of ties, the one nearest zero)."""
    ties = np.flatnonzero(curve <= curve.min() + 1e-12)
    return float(GRID[ties[np.argmin(np.abs(GRID[ties]))]])


def run_rows(run: Path, modes: Sequence[str] = ("eval",)) -> list[dict]:
    """One row per mode: where each measure is least, its value without a shift, the exported exponents."""
    data, model, seed = load_run(run)
    counts = torch.tensor(data.train_counts, dtype=torch.float64)
    log_prior = (counts / counts.sum()).log()
    exponents = yaml.safe_load((run / "learned_loss.yaml").read_text()).get("exponents")
    zero = int(np.flatnonzero(GRID == 0)[0])
    rows = []
    for mode in modes:
        curves = measure_curves(*validation_logits(data, model, seed, mode), log_prior)
        rows.append({"run": str(run), "seed": seed, "mode": mode, "exponents": exponents,
                     **{f"{m}_least_at": least_at(c) for m, c in curves.items()},
                     **{f"{m}_at_zero": float(c[zero]) for m, c in curves.items()},
                     "balanced_error_least": float(curves["balanced_error"].min())})
    return rows


def markdown(rows: list[dict]) -> list[str]:
    lines = ["| run | seed | model run in | exported tau | delta least: balanced error | balanced CE "
             "| calibrated balanced CE | balanced error % at delta 0 | least |", "|---" * 9 + "|"]
    for r in rows:
        tau = (r["exponents"] or {}).get("offsets", [float("nan")])[0]
        lines.append(f"| {r['run']} | {r['seed']} | {r['mode']} mode | {tau:.3f} | {r['balanced_error_least_at']:+.2f} "
                     f"| {r['balanced_ce_least_at']:+.2f} | {r['calibrated_balanced_ce_least_at']:+.2f} "
                     f"| {r['balanced_error_at_zero']:.2f} | {r['balanced_error_least']:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="online search run directories")
    parser.add_argument("--mode", nargs="+", choices=("eval", "train"), default=["eval"],
                        help="run the model as deployed (eval) or as the search's objective does (train)")
    parser.add_argument("--out", type=Path, help="write posthoc_adjustment.md and .jsonl here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [row for run in args.runs for row in run_rows(run, args.mode)]
    lines = markdown(rows)
    print("\n".join(lines))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "posthoc_adjustment.md").write_text(
            "Where each validation measure is least along a post-hoc logit adjustment z - delta log pi of the "
            "final searched model (scripts/posthoc_adjustment.py):\n\n" + "\n".join(lines) + "\n")
        (args.out / "posthoc_adjustment.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
