"""Re-weighted and focal cross-entropies: CE, focal, class-balanced (Cui et al. 2019), and weight
balancing's first stage (its second: :mod:`autobalance.training.weight_balancing`)."""

from __future__ import annotations

from dataclasses import dataclass

from autobalance.config import CLASS_BALANCED_BETA, LossConfig, require
from autobalance.losses.baselines import ClassBalancedFocalLoss, FocalLoss
from autobalance.losses.factory import fixed_loss, register_loss
from autobalance.losses.priors import class_balanced_weights


@dataclass
class FocalConfig(LossConfig):
    gamma: float = 1.0
    """The focusing exponent (Lin et al. 2017)."""

    def __post_init__(self) -> None:
        require(self.gamma >= 0, "loss.gamma", self.gamma, ">= 0")


@dataclass
class ClassBalancedConfig(LossConfig):
    beta: float = CLASS_BALANCED_BETA
    """The class-balanced weights' (1 - beta) / (1 - beta^n) (Cui et al. 2019)."""

    def __post_init__(self) -> None:
        require(0 <= self.beta < 1, "loss.beta", self.beta, "in [0, 1)")


@dataclass
class ClassBalancedFocalConfig(FocalConfig, ClassBalancedConfig):
    def __post_init__(self) -> None:
        ClassBalancedConfig.__post_init__(self)
        FocalConfig.__post_init__(self)


@register_loss("ce")
def _ce(cfg, counts, cell_counts):
    return fixed_loss(counts)


@register_loss("focal", FocalConfig, grid={"gamma": "0.5,1.0,1.5,2.0,3.0"})
def _focal(cfg, counts, cell_counts):
    return FocalLoss(cfg.gamma)


@register_loss("cb_softmax", ClassBalancedConfig)
def _cb_softmax(cfg, counts, cell_counts):
    return fixed_loss(counts, weights=class_balanced_weights(counts, cfg.beta))


@register_loss("cb_focal", ClassBalancedFocalConfig,
               grid={"beta": "0.9,0.99,0.999,0.9999,0.99999", "gamma": "0.5,1.0,2.0"})
def _cb_focal(cfg, counts, cell_counts):
    return ClassBalancedFocalLoss(counts, cfg.beta, cfg.gamma)


@dataclass
class WeightBalancingConfig(ClassBalancedConfig):
    """The second stage's settings (Alshammari et al. 2022): a classifier retrained on frozen
    features with the class-balanced loss (``beta``), weight decay and a MaxNorm cap."""

    classifier_epochs: int = 10
    classifier_lr: float = 0.01
    classifier_weight_decay: float = 0.1
    max_norm: float = 0.1
    """The cap's place between the smallest and the largest row norm."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.classifier_epochs >= 1, "loss.classifier_epochs", self.classifier_epochs, "an integer >= 1")
        require(self.classifier_lr > 0, "loss.classifier_lr", self.classifier_lr, "> 0")
        require(self.classifier_weight_decay >= 0, "loss.classifier_weight_decay", self.classifier_weight_decay,
                ">= 0")
        require(0 <= self.max_norm <= 1, "loss.max_norm", self.max_norm,
                "in [0, 1] (the cap's place between the smallest and largest row norm)")


@register_loss("weight_balancing", WeightBalancingConfig, procedure="weight_balancing")
def _weight_balancing(cfg, counts, cell_counts):
    """Cross-entropy (the first stage, with the run's tuned weight decay); the pipeline then
    retrains the classifier (``autobalance.training.weight_balancing``)."""
    return fixed_loss(counts)
