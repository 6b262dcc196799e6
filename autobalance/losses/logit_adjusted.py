"""Losses that shift or scale the logits by the class prior: LDAM, logit adjustment (in the loss
and post hoc), CDT, VS and the balanced softmax."""

from __future__ import annotations

import math
from dataclasses import dataclass

from autobalance.config import LossConfig, require
from autobalance.losses.baselines import LDAMLoss, PosthocLogitAdjustedCE
from autobalance.losses.factory import fixed_loss, register_loss
from autobalance.losses.priors import cdt_scales, logit_adjustment_offsets


@dataclass
class LDAMConfig(LossConfig):
    max_margin: float = 0.5
    scale: float = 30.0

    def __post_init__(self) -> None:
        require(self.max_margin > 0, "loss.max_margin", self.max_margin, "> 0")
        require(self.scale > 0, "loss.scale", self.scale, "> 0")


@dataclass
class LogitAdjustmentConfig(LossConfig):
    tau: float = 1.0
    """The offsets' tau log pi_y (Menon et al. 2021)."""

    def __post_init__(self) -> None:
        require(self.tau >= 0, "loss.tau", self.tau, ">= 0")


@dataclass
class CDTConfig(LossConfig):
    gamma: float = 0.2
    """The scales' exponent, (n_y / n_max)^gamma; a negative one (as a search may find) scales the
    rare classes up."""

    def __post_init__(self) -> None:
        require(math.isfinite(self.gamma), "loss.gamma", self.gamma, "a finite number")


@dataclass
class VSConfig(LogitAdjustmentConfig, CDTConfig):
    def __post_init__(self) -> None:
        CDTConfig.__post_init__(self)
        LogitAdjustmentConfig.__post_init__(self)


TAU_GRID = "0.25,0.5,0.75,1.0,1.25,1.5,2.0"
GAMMA_GRID = "0.05,0.1,0.2,0.3,0.5"
"""The validation grids of the ``+hparams_search=tune_NAME`` presets (``autobalance.config_groups``)."""


@register_loss("ldam", LDAMConfig, config={"model": {"normalized_head": True}},  # its cosine head
               baselines={"ldam_drw": {"schedule": "drw"}}, grid={"max_margin": "0.1,0.25,0.5,0.75,1.0"})
def _ldam(cfg, counts, cell_counts):
    return LDAMLoss(counts, cfg.max_margin, cfg.scale)


@register_loss("la", LogitAdjustmentConfig, grid={"tau": TAU_GRID})
def _la(cfg, counts, cell_counts):
    return fixed_loss(counts, offsets=logit_adjustment_offsets(counts, cfg.tau))


@register_loss("la_posthoc", LogitAdjustmentConfig, grid={"tau": TAU_GRID})
def _la_posthoc(cfg, counts, cell_counts):
    return PosthocLogitAdjustedCE(counts, cfg.tau)


@register_loss("cdt", CDTConfig, grid={"gamma": GAMMA_GRID})
def _cdt(cfg, counts, cell_counts):
    return fixed_loss(counts, scales=cdt_scales(counts, cfg.gamma))


@register_loss("vs", VSConfig, grid={"gamma": GAMMA_GRID, "tau": "0.5,1.0,1.5"})
def _vs(cfg, counts, cell_counts):
    return fixed_loss(counts, scales=cdt_scales(counts, cfg.gamma), offsets=logit_adjustment_offsets(counts, cfg.tau))


@register_loss("balanced_softmax")
def _balanced_softmax(cfg, counts, cell_counts):
    return fixed_loss(counts, offsets=logit_adjustment_offsets(counts, 1.0))
