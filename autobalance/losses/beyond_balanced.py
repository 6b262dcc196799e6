"""Fixed baselines for objectives beyond balanced error, each registered here with its settings:

- ``gce``: generalized cross-entropy (1 - p_y^q) / q (Zhang and Sabuncu 2018), robust to label
  noise; CE at q -> 0, the mean absolute error at q = 1.
- ``weighted_ce``: CE with per-class weights c_y, the cost-sensitive loss for a weighted error.
- ``cost_la``: logit adjustment for a cost-weighted error: the logit-adjusted loss whose offsets
  tau log pi_y - log c_y make argmax z the Bayes rule of the weighted error, argmax_y c_y p(y | x)
  / pi_y (Menon et al. 2021, with costs; at equal costs it is ``la``).
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
