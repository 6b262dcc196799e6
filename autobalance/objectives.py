"""Validation objectives for the outer problem (differentiable surrogates of balanced metrics).

Each objective maps (logits, targets, groups) to a scalar. Classes (or groups) absent from the
batch are left out of the means.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from autobalance.config import ObjectiveConfig, require
from autobalance.losses.functional import cross_entropy, log_softmax
from autobalance.registry import Registry

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


OBJECTIVES: Registry[Callable[[ObjectiveConfig, int, int], Objective]] = Registry("objective.name")
"""Validation objectives by name: ``builder(spec, num_classes, num_groups)``."""


def build_objective(spec: ObjectiveConfig, num_classes: int, num_groups: int = 1) -> Objective:
    return OBJECTIVES[spec.name](spec, num_classes, num_groups)


def check_blend_weights(spec: ObjectiveConfig) -> None:
    """A blend names objectives other than itself, with their weights."""
    blendable = tuple(n for n in OBJECTIVES.names() if n != "blend")
    require(bool(spec.weights) and set(spec.weights) <= set(blendable), "objective.weights",
            dict(spec.weights), f"a mapping from {', '.join(blendable)} to blend weights")


@OBJECTIVES.register("balanced_ce")
def _balanced_ce(spec, num_classes, num_groups):
    return lambda z, y, g: per_index_means(cross_entropy(z, y), y, num_classes).mean()


@OBJECTIVES.register("expected_error")
def _expected_error(spec, num_classes, num_groups):
    def expected_error(z, y, g):
        p_true = log_softmax(z / spec.temperature, 1).gather(1, y[:, None]).squeeze(1).exp()
        return per_index_means(1 - p_true, y, num_classes).mean()
    return expected_error


@OBJECTIVES.register("worst_class")
def _worst_class(spec, num_classes, num_groups):
    return lambda z, y, g: soft_maximum(per_index_means(cross_entropy(z, y), y, num_classes),
                                        spec.temperature, spec.cvar_alpha)


@OBJECTIVES.register("worst_group")
def _worst_group(spec, num_classes, num_groups):
    def worst_group(z, y, g):
        groups = torch.zeros_like(y) if g is None else g
        return soft_maximum(per_index_means(cross_entropy(z, y), groups, num_groups),
                            spec.temperature, spec.cvar_alpha)
    return worst_group


@OBJECTIVES.register("blend")
def _blend(spec, num_classes, num_groups):
    check_blend_weights(spec)
    parts = {name: build_objective(ObjectiveConfig(name, spec.temperature, spec.cvar_alpha), num_classes, num_groups)
             for name in spec.weights}
    return lambda z, y, g: sum(w * parts[n](z, y, g) for n, w in spec.weights.items())
