"""Fixed baselines for objectives beyond balanced error, each registered here with its settings:

- ``gce``: generalized cross-entropy (1 - p_y^q) / q (Zhang and Sabuncu 2018), robust to label
  noise; CE at q -> 0, the mean absolute error at q = 1.
- ``weighted_ce``: CE with per-class weights c_y, the cost-sensitive loss for a weighted error.
- ``cost_la``: logit adjustment for a cost-weighted error: the logit-adjusted loss whose offsets
  tau log pi_y - log c_y make argmax z the Bayes rule of the weighted error, argmax_y c_y p(y | x)
  / pi_y (Menon et al. 2021, with costs; at equal costs it is ``la``).
- ``adaptive_cost_la``: ``cost_la`` whose costs are the dual variables of a worst-classes objective,
  moved once an epoch towards the classes with the largest validation errors (Narasimhan and Menon,
  NeurIPS 2021, their algorithm for the min-max recall, here for the CVaR of the class errors);
  the updates are the procedure in :mod:`autobalance.training.validation_costs`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from autobalance.config import LossConfig, require
from autobalance.losses.base import ClassificationLoss
from autobalance.losses.factory import register_loss
from autobalance.losses.family import ParametricLoss
from autobalance.losses.priors import logit_adjustment_offsets


class GeneralizedCrossEntropy(ClassificationLoss):
    """(1 - p_y^q) / q per example."""

    def __init__(self, q: float = 0.7) -> None:
        super().__init__()
        self.q = q

    def per_example(self, logits, targets, groups=None):
        log_p = F.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
        return -torch.expm1(self.q * log_p) / self.q


@dataclass
class GCEConfig(LossConfig):
    q: float = 0.7
    """The exponent (0.7 in Zhang and Sabuncu's experiments)."""

    def __post_init__(self) -> None:
        require(0 < self.q <= 1, "loss.q", self.q, "in (0, 1]")


@dataclass
class ClassWeightsConfig(LossConfig):
    weights: list[float] = field(default_factory=list)
    """The per-class costs c_y, K numbers (give the objective's ``objective.class_weights``); empty:
    equal costs (``weighted_ce`` is then CE, ``cost_la`` is ``la``)."""
    tau: float = 1.0
    """``cost_la`` only: the logit adjustment's tau."""

    def __post_init__(self) -> None:
        require(not self.weights or min(self.weights) > 0, "loss.weights", list(self.weights),
                "K positive per-class costs (or none: equal costs)")
        require(self.tau >= 0, "loss.tau", self.tau, ">= 0")


def _checked_weights(cfg: ClassWeightsConfig, counts: Sequence[int]) -> list[float]:
    if not cfg.weights:
        return [1.0] * len(counts)
    require(len(cfg.weights) == len(counts), "loss.weights", list(cfg.weights), f"{len(counts)} numbers, one per class")
    return [float(w) for w in cfg.weights]


@register_loss("gce", GCEConfig)
def _gce(cfg, counts, cell_counts):
    return GeneralizedCrossEntropy(cfg.q)


@register_loss("weighted_ce", ClassWeightsConfig)
def _weighted_ce(cfg, counts, cell_counts):
    return ParametricLoss(len(counts), learn=(), weights=_checked_weights(cfg, counts))


@register_loss("cost_la", ClassWeightsConfig)
def _cost_la(cfg, counts, cell_counts):
    costs = torch.tensor([math.log(w) for w in _checked_weights(cfg, counts)], dtype=torch.float64)
    return ParametricLoss(len(counts), learn=(), offsets=logit_adjustment_offsets(counts, cfg.tau) - costs)


class AdaptiveCostLALoss(ClassificationLoss):
    """CE on ``z + tau log pi - log(K lambda)``: the logit-adjusted loss for the gains lambda_y / pi_y,
    whose argmax is the Bayes rule of the lambda-weighted class errors. ``costs`` (lambda, on the
    simplex, uniform at the start: then this is ``la``) is a buffer, so checkpoints carry it."""

    def __init__(self, counts: Sequence[int], tau: float = 1.0) -> None:
        super().__init__()
        k = len(counts)
        self.register_buffer("adjustment", logit_adjustment_offsets(counts, tau))
        self.register_buffer("costs", torch.full((k,), 1.0 / k, dtype=torch.float64))

    def offsets(self) -> torch.Tensor:
        return self.adjustment - (len(self.costs) * self.costs).log()

    def per_example(self, logits, targets, groups=None):
        return F.cross_entropy(logits + self.offsets().to(logits.dtype), targets, reduction="none")

    @torch.no_grad()
    def update(self, class_errors: torch.Tensor, step_size: float, worst: int) -> None:
        """One exponentiated-gradient ascent step on the CVaR's dual: lambda <- lambda exp(eta e),
        then the KL projection onto {sum lambda = 1, lambda <= 1 / worst} (``worst`` = 1: the
        simplex, the worst class; K: lambda stays uniform, the balanced error)."""
        stepped = self.costs * torch.exp(step_size * class_errors.to(self.costs))
        self.costs.copy_(capped_simplex(stepped, 1.0 / worst))

    def values(self) -> dict[str, torch.Tensor]:
        return {"offsets": self.offsets()}


def capped_simplex(weights: torch.Tensor, cap: float) -> torch.Tensor:
    """The KL projection of positive ``weights`` onto {sum = 1, every entry <= cap}: the entries
    over the cap are set to it and the rest rescaled, until none is over (Warmuth and Kuzmin's
    capping; at most K rounds).

    >>> capped_simplex(torch.tensor([8.0, 1.0, 1.0]), 0.5).tolist()
    [0.5, 0.25, 0.25]
    """
    require(cap * len(weights) >= 1 - 1e-12, "cap", cap, f">= 1/{len(weights)} (a point of the simplex must fit)")
    capped = torch.zeros_like(weights, dtype=torch.bool)
    while True:
        free_mass = 1.0 - cap * int(capped.sum())
        free = torch.where(capped, torch.zeros_like(weights), weights)
        out = torch.where(capped, torch.full_like(weights, cap), free * free_mass / free.sum().clamp_min(1e-300))
        over = ~capped & (out > cap)
        if not over.any():
            return out
        capped |= over


@dataclass
class AdaptiveCostLAConfig(LossConfig):
    step_size: float = 0.3
    """eta of the costs' exponentiated-gradient step, once an epoch, on validation class errors in [0, 1]."""
    tau: float = 1.0
    """The logit adjustment's tau (1: the gains lambda_y / pi_y of Narasimhan and Menon)."""

    def __post_init__(self) -> None:
        require(self.step_size > 0, "loss.step_size", self.step_size, "> 0")
        require(self.tau >= 0, "loss.tau", self.tau, ">= 0")


@register_loss("adaptive_cost_la", AdaptiveCostLAConfig, procedure="validation_costs",
               baseline_values={"train_on_val": False}, grid={"step_size": "0.03,0.1,0.3,1.0,3.0"})
def _adaptive_cost_la(cfg, counts, cell_counts):
    return AdaptiveCostLALoss(counts, cfg.tau)
