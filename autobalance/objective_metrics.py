"""Each validation objective's exact metric: the number a run reports as ``objective_error``
beside the balanced error, on the same split, so that a method tuned on an objective is judged by it.

``balanced_ce`` (and its calibrated and expected-error relatives) is judged by the balanced
error, ``worst_class`` by the worst class error or, with ``cvar_alpha``, by the CVaR of the class
errors at that level, ``class_std`` by the spread of the class errors, ``weighted_ce`` by the
cost-weighted error with the same ``class_weights``, the group objectives and fairness gaps by their
metric in :mod:`autobalance.group_metrics`; ``blend`` and ``trade_off`` weigh their parts' metrics
as they weigh the parts. An objective registered without a ``metric`` is judged by the balanced error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from autobalance.config import ObjectiveConfig
from autobalance.metrics import CVAR_ALPHA, cvar_error, weighted_error
from autobalance.objectives import OBJECTIVES, class_weight_list, objective_parts


def metric_name(spec: ObjectiveConfig) -> str:
    """The name of the metric that judges ``spec``'s objective (``blend`` and ``trade_off``: their
    own name, for the weighted sum of their parts' metrics)."""
    if objective_parts(spec) is not None:
        return spec.name
    meta = OBJECTIVES.metadata(spec.name)
    if spec.cvar_alpha is not None and "cvar_metric" in meta:
        return meta["cvar_metric"]
    return meta.get("metric", "balanced_error")


def _value(spec: ObjectiveConfig, metrics: dict[str, Any]) -> float | None:
    parts = objective_parts(spec)
    if parts is not None:  # the weighted sum of its parts' metrics
        values = [_value(dataclasses.replace(spec, name=name), metrics) for name in parts]
        return None if None in values else sum(w * v for w, v in zip(parts.values(), values, strict=True))
    return metrics.get(metric_name(spec))


def with_objective_metrics(metrics: dict[str, Any], spec: ObjectiveConfig,
                           class_names: Sequence[str]) -> dict[str, Any]:
    """``metrics`` (of :func:`autobalance.metrics.classification_metrics`) with the objective's own:
    the CVaR at its ``cvar_alpha``, the weighted error with its ``class_weights``, and
    ``objective_error`` with ``objective_metric`` naming what it is."""
    out = dict(metrics)
    accuracy = metrics["per_class_accuracy"]
    alpha = CVAR_ALPHA if spec.cvar_alpha is None else spec.cvar_alpha
    out["cvar_error"], out["cvar_alpha"] = cvar_error(accuracy, alpha), alpha
    weights = class_weight_list(spec.class_weights, list(class_names))
    if weights is not None:
        out["weighted_error"] = weighted_error(accuracy, weights)
    value = _value(spec, out)
    if value is not None:
        out["objective_metric"], out["objective_error"] = metric_name(spec), value
    return out
