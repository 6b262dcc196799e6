"""Balanced, per-class and shot-group classification metrics (and group metrics with an attribute)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from autobalance.group_metrics import group_metrics, rate_by

CVAR_ALPHA = 0.2
"""The level of the CVaR of class errors that every evaluation reports (the worst fifth of the classes)."""


def _nanmean(t: torch.Tensor) -> float:
    t = t[~t.isnan()]
    return float(t.mean()) if len(t) else float("nan")


def worst_count(alpha: float, n: int) -> int:
    """How many of ``n`` entries the CVaR at level ``alpha`` averages: ceil(alpha * n), at least one
    (``alpha * n`` within 1e-9 of an integer counts as it: 0.3 * 10 is 3, not 4).

    >>> worst_count(0.2, 10), worst_count(0.3, 10), worst_count(0.01, 10)
    (2, 3, 1)
    """
    return max(1, math.ceil(alpha * n - 1e-9))


def cvar_error(per_class_accuracy: Sequence[float], alpha: float = CVAR_ALPHA) -> float:
    """CVaR of the class errors at level ``alpha``: the mean of the worst ceil(alpha * K) class
    errors, in percent (classes absent from the evaluation set are left out)."""
    errors = 1.0 - torch.as_tensor(per_class_accuracy, dtype=torch.float64)
    errors = errors[~errors.isnan()]
    return 100.0 * float(errors.topk(worst_count(alpha, len(errors))).values.mean())


def class_error_std(per_class_accuracy: Sequence[float]) -> float:
    """The standard deviation of the class errors (population, ddof 0), in points."""
    errors = 1.0 - torch.as_tensor(per_class_accuracy, dtype=torch.float64)
    return 100.0 * float(errors[~errors.isnan()].std(correction=0))


def weighted_error(per_class_accuracy: Sequence[float], class_weights: Sequence[float]) -> float:
    """The cost-weighted error sum_k w_k e_k / sum_k w_k over the classes present, in percent."""
    errors = 1.0 - torch.as_tensor(per_class_accuracy, dtype=torch.float64)
    w = torch.as_tensor(class_weights, dtype=torch.float64)
    present = ~errors.isnan()
    return 100.0 * float((w[present] * errors[present]).sum() / w[present].sum())


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
    ignored by the class means. ``cvar_error`` is the mean of the worst fifth of the class errors
    (:func:`cvar_error` at :data:`CVAR_ALPHA`), ``class_error_std`` their spread. With an
    attribute (``groups``, ``num_attribute_values`` > 1 values) the
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
        "cvar_error": cvar_error(per_class, CVAR_ALPHA),
        "class_error_std": class_error_std(per_class),
        "per_class_accuracy": [float(a) for a in per_class],
        "num_examples": len(targets),
    }
    for name, mask in shots.items():
        out[f"{name}_shot_error"] = 100.0 * (1.0 - _nanmean(per_class[mask])) if mask.any() else None
    if groups is not None and num_attribute_values > 1:
        out.update(group_metrics(preds, targets, groups, k, num_attribute_values))
    return out
