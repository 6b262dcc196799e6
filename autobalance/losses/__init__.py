"""The learnable loss family, the baseline zoo and training-time schedules."""

import importlib

from autobalance.losses.base import ClassificationLoss
from autobalance.losses.baselines import (
    ClassBalancedFocalLoss,
    FocalLoss,
    LDAMLoss,
    PosthocLogitAdjustedCE,
)
from autobalance.losses.clustering import frequency_clusters, interpolate_clusters
from autobalance.losses.family import ParametricLoss
from autobalance.losses.io import load_loss, save_loss
from autobalance.losses.schedules import LossSchedule

BASELINE_MODULES = ("reweighting", "logit_adjusted", "group_losses", "smoothing", "learned", "beyond_balanced")
"""The modules whose baseline losses register themselves (:mod:`autobalance.losses.factory`), in the
order their names are listed."""
for _module in BASELINE_MODULES:
    importlib.import_module(f"autobalance.losses.{_module}")

__all__ = [
    "ClassBalancedFocalLoss", "ClassificationLoss", "FocalLoss", "LDAMLoss", "LossSchedule",
    "ParametricLoss", "PosthocLogitAdjustedCE", "frequency_clusters", "interpolate_clusters",
    "load_loss", "save_loss",
]
