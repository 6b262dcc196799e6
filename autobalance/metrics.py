"""Balanced, per-class, shot-group and per-group classification metrics."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _accuracy_by(index: torch.Tensor, correct: torch.Tensor, size: int) -> torch.Tensor:
    hits = torch.zeros(size, dtype=torch.float64).index_add_(0, index, correct.double())
    totals = torch.bincount(index, minlength=size).double()
    return torch.where(totals > 0, hits / totals.clamp(min=1), torch.nan)


def _nanmean(t: torch.Tensor) -> float:
    t = t[~t.isnan()]
    return float(t.mean()) if len(t) else float("nan")


def classification_metrics(
    preds: torch.Tensor,
    targets: torch.Tensor,
    train_counts: Sequence[int],
    groups: torch.Tensor | None = None,
    num_groups: int = 1,
    many_threshold: int = 100,
    few_threshold: int = 20,
) -> dict:
    """Metrics of a balanced evaluation set (accuracies in [0, 1], errors in percent).

    Shot groups follow the usual convention: many > ``many_threshold`` training examples,
    few < ``few_threshold``, medium in between. Classes absent from the evaluation set are
    ignored by the class means.
    """
    preds, targets = preds.cpu(), targets.cpu()
    k = len(train_counts)
    correct = preds == targets
    per_class = _accuracy_by(targets, correct, k)
    counts = torch.as_tensor(list(train_counts))
    shots = {
        "many": counts > many_threshold,
        "medium": (counts <= many_threshold) & (counts >= few_threshold),
        "few": counts < few_threshold,
    }
    out = {
        "accuracy": float(correct.double().mean()),
        "balanced_accuracy": _nanmean(per_class),
        "balanced_error": 100.0 * (1.0 - _nanmean(per_class)),
        "worst_class_accuracy": float(per_class[~per_class.isnan()].min()),
        "per_class_accuracy": [float(a) for a in per_class],
        "num_examples": len(targets),
    }
    for name, mask in shots.items():
        out[f"{name}_shot_accuracy"] = _nanmean(per_class[mask]) if mask.any() else None
    out["worst_class_error"] = 100.0 * (1.0 - out["worst_class_accuracy"])
    if out["few_shot_accuracy"] is not None:
        out["few_shot_error"] = 100.0 * (1.0 - out["few_shot_accuracy"])
    if groups is not None and num_groups > 1:
        per_group = _accuracy_by(groups.cpu(), correct, num_groups)
        out["per_group_accuracy"] = [float(a) for a in per_group]
        out["worst_group_accuracy"] = float(per_group[~per_group.isnan()].min())
        cell = groups.cpu() * k + targets
        per_cell = _accuracy_by(cell, correct, num_groups * k).reshape(num_groups, k)
        out["per_group_class_accuracy"] = [[float(a) for a in row] for row in per_cell]
    return out
