"""Validation objectives for the outer problem (differentiable surrogates of balanced metrics).

Each objective maps (logits, targets, groups) to a scalar. Classes (or groups) absent from the
batch are left out of the means.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from autobalance.config import OBJECTIVES, ObjectiveConfig
from autobalance.losses.functional import cross_entropy, log_softmax

Objective = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


def per_index_means(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Mean of ``values`` per index in [0, size); only indices present in the batch."""
    sums = torch.zeros(size, dtype=values.dtype, device=values.device).index_add(0, index, values)
    counts = torch.bincount(index, minlength=size).to(values.dtype)
    present = counts > 0
    return sums[present] / counts[present]


def soft_maximum(values: torch.Tensor, temperature: float, cvar_alpha: float | None) -> torch.Tensor:
    """Smooth worst case: ``T * log mean exp(v / T)`` (mean at T -> inf, max at T -> 0), or with
    ``cvar_alpha`` the CVaR, the mean of the worst ceil(alpha * n) entries."""
    if cvar_alpha is not None:
        k = max(1, int(torch.ceil(torch.tensor(cvar_alpha * len(values)))))
        return values.topk(k).values.mean()
    n = torch.tensor(float(len(values)), dtype=values.dtype, device=values.device)
    return temperature * (torch.logsumexp(values / temperature, 0) - n.log())


def build_objective(spec: ObjectiveConfig, num_classes: int, num_groups: int = 1) -> Objective:
    if spec.name == "blend":
        if not spec.weights or set(spec.weights) - set(OBJECTIVES[:-1]):
            raise ValueError(f"objective.weights={spec.weights} must name objectives among "
                             f"{OBJECTIVES[:-1]} with their weights")
        parts = {name: build_objective(ObjectiveConfig(name, spec.temperature, spec.cvar_alpha),
                                       num_classes, num_groups) for name in spec.weights}
        return lambda z, y, g: sum(w * parts[n](z, y, g) for n, w in spec.weights.items())
    if spec.name == "balanced_ce":
        return lambda z, y, g: per_index_means(cross_entropy(z, y), y, num_classes).mean()
    if spec.name == "expected_error":
        def expected_error(z, y, g):
            p_true = log_softmax(z / spec.temperature, 1).gather(1, y[:, None]).squeeze(1).exp()
            return per_index_means(1 - p_true, y, num_classes).mean()
        return expected_error
    if spec.name == "worst_class":
        return lambda z, y, g: soft_maximum(per_index_means(cross_entropy(z, y), y, num_classes),
                                            spec.temperature, spec.cvar_alpha)
    if spec.name == "worst_group":
        def worst_group(z, y, g):
            groups = torch.zeros_like(y) if g is None else g
            return soft_maximum(per_index_means(cross_entropy(z, y), groups, num_groups),
                                spec.temperature, spec.cvar_alpha)
        return worst_group
    raise ValueError(f"unknown objective {spec.name!r}; expected one of {OBJECTIVES}")
