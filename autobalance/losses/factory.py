"""Build a training loss by name from a :class:`LossConfig` and the training counts."""

from __future__ import annotations

from collections.abc import Sequence

from autobalance.config import LossConfig
from autobalance.losses.base import ClassificationLoss
from autobalance.losses.baselines import (
    ClassBalancedFocalLoss,
    FocalLoss,
    LDAMLoss,
    PosthocLogitAdjustedCE,
)
from autobalance.losses.family import ParametricLoss
from autobalance.losses.io import load_loss
from autobalance.losses.priors import cdt_scales, class_balanced_weights, logit_adjustment_offsets


def build_loss(cfg: LossConfig, counts: Sequence[int], num_groups: int = 1) -> ClassificationLoss:
    """Baselines that are special cases of the family are fixed :class:`ParametricLoss` objects."""
    k = len(counts)

    def fixed(**init) -> ParametricLoss:
        return ParametricLoss(k, learn=(), **init)

    if cfg.name == "ce":
        return fixed()
    if cfg.name == "la":
        return fixed(offsets=logit_adjustment_offsets(counts, cfg.tau))
    if cfg.name == "balanced_softmax":
        return fixed(offsets=logit_adjustment_offsets(counts, 1.0))
    if cfg.name == "cdt":
        return fixed(scales=cdt_scales(counts, cfg.gamma))
    if cfg.name == "vs":
        return fixed(scales=cdt_scales(counts, cfg.gamma),
                     offsets=logit_adjustment_offsets(counts, cfg.tau))
    if cfg.name == "cb_softmax":
        return fixed(weights=class_balanced_weights(counts, cfg.beta))
    if cfg.name == "focal":
        return FocalLoss(cfg.gamma)
    if cfg.name == "cb_focal":
        return ClassBalancedFocalLoss(counts, cfg.beta, cfg.gamma)
    if cfg.name == "ldam":
        return LDAMLoss(counts, cfg.max_margin, cfg.scale)
    if cfg.name == "la_posthoc":
        return PosthocLogitAdjustedCE(counts, cfg.tau)
    if cfg.name == "learned":
        return load_loss(cfg.path, num_classes=k)
    raise ValueError(f"unknown loss {cfg.name!r}")


def build_search_loss(learn: Sequence[str], init: str, counts: Sequence[int], num_groups: int = 1,
                      scale_map: str = "exp", cluster_size: int = 1, tau: float = 1.0,
                      gamma: float = 0.2, beta: float = 0.9999) -> ParametricLoss:
    """The learnable family, initialized as a baseline: ``uniform`` (CE), ``la`` (tau),
    ``cdt`` (gamma), ``vs`` (gamma, tau) or ``cb`` (class-balanced weights, beta)."""
    init_values = {
        "uniform": {},
        "la": {"offsets": logit_adjustment_offsets(counts, tau)},
        "cdt": {"scales": cdt_scales(counts, gamma)},
        "vs": {"scales": cdt_scales(counts, gamma), "offsets": logit_adjustment_offsets(counts, tau)},
        "cb": {"weights": class_balanced_weights(counts, beta)},
    }
    if init not in init_values:
        raise ValueError(f"unknown initialization {init!r}; expected one of {sorted(init_values)}")
    return ParametricLoss(len(counts), num_groups, learn=learn, scale_map=scale_map, counts=counts,
                          cluster_size=cluster_size, **init_values[init])
