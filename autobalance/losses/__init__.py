"""The learnable loss family, the baseline zoo and training-time schedules."""

from autobalance.losses import beyond_balanced  # noqa: E402,F401  (registers gce, weighted_ce, cost_la)
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

__all__ = [
    "ClassBalancedFocalLoss", "ClassificationLoss", "FocalLoss", "LDAMLoss", "LossSchedule",
    "ParametricLoss", "PosthocLogitAdjustedCE", "frequency_clusters", "interpolate_clusters",
    "load_loss", "save_loss",
]
