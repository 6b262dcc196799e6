"""Balanced, per-class and shot-group classification metrics (and group metrics with an attribute)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from autobalance.group_metrics import group_metrics, rate_by


def _nanmean(t: torch.Tensor) -> float:
    t = t[~t.isnan()]
    return float(t.mean()) if len(t) else float("nan")


def classification_metrics(
    preds: torch.Tensor,
    targets: torch.Tensor,
    train_counts: Sequence[int],
    groups: torch.Tensor | None = None,
    num_attribute_values: int = 1,
    many_threshold: int = 100,
    few_threshold: int = 20,
) -> dict:
    """Metrics of a balanced evaluation set: errors in percent, per-class accuracies in [0, 1].

    Shot groups follow the usual convention: many > ``many_threshold`` training examples,
    few < ``few_threshold``, medium in between. Classes absent from the evaluation set are
    ignored by the class means. With an attribute (``groups``, ``num_attribute_values`` > 1 values) the
    group metrics of :func:`autobalance.group_metrics.group_metrics` are added.
    """
    preds, targets = preds.cpu(), targets.cpu()
    k = len(train_counts)
    correct = preds == targets
    per_class = rate_by(targets, correct, k)
    counts = torch.as_tensor(list(train_counts))
    shots = {
        "many": counts > many_threshold,
        "medium": (counts <= many_threshold) & (counts >= few_threshold),
        "few": counts < few_threshold,
    }
    out = {
        "error": 100.0 * (1.0 - float(correct.double().mean())),
        "balanced_error": 100.0 * (1.0 - _nanmean(per_class)),
        "worst_class_error": 100.0 * (1.0 - float(per_class[~per_class.isnan()].min())),
        "per_class_accuracy": [float(a) for a in per_class],
        "num_examples": len(targets),
    }
    for name, mask in shots.items():
        out[f"{name}_shot_error"] = 100.0 * (1.0 - _nanmean(per_class[mask])) if mask.any() else None
    if groups is not None and num_attribute_values > 1:
        out.update(group_metrics(preds, targets, groups, k, num_attribute_values))
    return out
