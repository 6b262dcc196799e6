"""Build a training loss by name from a :class:`LossConfig` and the training counts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import torch

from autobalance.config import CLASS_BALANCED_BETA, SMOOTHING_MAX, FamilyConfig, LossConfig, require, require_choice
from autobalance.losses.augmentation import MAX_RATIO
from autobalance.losses.base import ClassificationLoss
from autobalance.losses.baselines import (
    ClassBalancedFocalLoss,
    FocalLoss,
    LDAMLoss,
    PosthocLogitAdjustedCE,
)
from autobalance.losses.family import AUGMENT_INIT, ParametricLoss
from autobalance.losses.group_dro import GroupDROLoss
from autobalance.losses.io import load_loss
from autobalance.losses.priors import cdt_scales, class_balanced_weights, logit_adjustment_offsets
from autobalance.losses.regularizer import DECAY_MAX_RATIO
from autobalance.registry import Registry

GroupCounts = Sequence[Sequence[int]]
"""Training examples per group: an (attribute x class) table, one row without an attribute."""

LOSSES: Registry[Callable[[LossConfig, Sequence[int], GroupCounts], ClassificationLoss]] = Registry("loss.name")
"""Baseline losses by name, built as ``builder(cfg, counts, group_counts)``; each entry's
metadata are its hyperparameters' standard values (each paper's setting), the one home of
those defaults for the CLI and the Python API."""

HYPERPARAMETERS = ("gamma", "tau", "beta", "max_margin", "scale", "step_size", "adjustment", "upweight",
                   "identification_epochs", "smooth_head", "smooth_tail", "classifier_epochs", "classifier_lr",
                   "classifier_weight_decay", "max_norm")


def register_loss(name: str, **defaults: float):
    """Register ``builder(cfg, counts, group_counts)`` under ``name``; ``defaults`` are the
    hyperparameters it takes (``cfg`` arrives with them resolved)."""
    return LOSSES.register(name, defaults=defaults)


def resolve_loss_config(cfg: LossConfig) -> LossConfig:
    """``cfg`` with every hyperparameter the loss takes set (null -> its standard value);
    refuses an unknown loss and a hyperparameter the loss does not take."""
    defaults = LOSSES.metadata(cfg.name)["defaults"]
    values = {}
    for key in HYPERPARAMETERS:
        value = getattr(cfg, key)
        require(value is None or key in defaults, f"loss.{key}", value,
                f"null: loss={cfg.name} takes {', '.join(defaults) or 'no hyperparameters'}")
        values[key] = defaults.get(key) if value is None else value
    require(cfg.name != "learned" or bool(cfg.path), "loss.path", cfg.path, "a learned-loss file when loss=learned")
    return dataclasses.replace(cfg, **values)


def build_loss(cfg: LossConfig, counts: Sequence[int], group_counts: GroupCounts | None = None) -> ClassificationLoss:
    """The loss named by ``cfg``; baselines that are special cases of the family are fixed
    :class:`ParametricLoss` objects. ``group_counts`` (default: the class counts as one row)
    gives group-aware losses the training groups."""
    return LOSSES[cfg.name](resolve_loss_config(cfg), counts, group_counts or [list(counts)])


def _fixed(counts: Sequence[int], **init) -> ParametricLoss:
    return ParametricLoss(len(counts), learn=(), **init)


@register_loss("ce")
def _ce(cfg, counts, group_counts):
    return _fixed(counts)


@register_loss("focal", gamma=1.0)
def _focal(cfg, counts, group_counts):
    return FocalLoss(cfg.gamma)


@register_loss("cb_softmax", beta=CLASS_BALANCED_BETA)
def _cb_softmax(cfg, counts, group_counts):
    return _fixed(counts, weights=class_balanced_weights(counts, cfg.beta))


@register_loss("cb_focal", beta=CLASS_BALANCED_BETA, gamma=1.0)
def _cb_focal(cfg, counts, group_counts):
    return ClassBalancedFocalLoss(counts, cfg.beta, cfg.gamma)


@register_loss("ldam", max_margin=0.5, scale=30.0)
def _ldam(cfg, counts, group_counts):
    return LDAMLoss(counts, cfg.max_margin, cfg.scale)


@register_loss("la", tau=1.0)
def _la(cfg, counts, group_counts):
    return _fixed(counts, offsets=logit_adjustment_offsets(counts, cfg.tau))


@register_loss("la_posthoc", tau=1.0)
def _la_posthoc(cfg, counts, group_counts):
    return PosthocLogitAdjustedCE(counts, cfg.tau)


@register_loss("cdt", gamma=0.2)
def _cdt(cfg, counts, group_counts):
    return _fixed(counts, scales=cdt_scales(counts, cfg.gamma))


@register_loss("vs", gamma=0.2, tau=1.0)
def _vs(cfg, counts, group_counts):
    return _fixed(counts, scales=cdt_scales(counts, cfg.gamma), offsets=logit_adjustment_offsets(counts, cfg.tau))


@register_loss("balanced_softmax")
def _balanced_softmax(cfg, counts, group_counts):
    return _fixed(counts, offsets=logit_adjustment_offsets(counts, 1.0))


def inverse_frequency_weights(group_counts: GroupCounts) -> torch.Tensor:
    """Loss weights proportional to 1 / n_g per group; a group without training examples gets
    the weight of the mean group size (it never meets a training example)."""
    counts = torch.as_tensor(group_counts, dtype=torch.float64)
    counts = torch.where(counts > 0, counts, counts[counts > 0].mean())
    return 1.0 / counts


@register_loss("group_reweighted")
def _group_reweighted(cfg, counts, group_counts):
    return ParametricLoss(len(counts), len(group_counts), learn=(), weights=inverse_frequency_weights(group_counts))


def group_logit_adjustment(group_counts: GroupCounts, tau: float = 1.0) -> torch.Tensor:
    """Offsets ``tau * log pi(y | a)``: logit adjustment by each attribute value's own class
    prior, an (attribute x class) table (the correction of a spurious correlation's label shift
    within each attribute; a class never seen with an attribute gets half an example)."""
    return torch.stack([logit_adjustment_offsets([max(c, 0.5) for c in row], tau) for row in group_counts])


@register_loss("group_la", tau=1.0)
def _group_la(cfg, counts, group_counts):
    offsets = group_logit_adjustment(group_counts, cfg.tau)
    return ParametricLoss(len(counts), len(group_counts), learn=(), offsets=offsets)


@LOSSES.register("group_dro", defaults={"step_size": 0.01, "adjustment": 0.0}, single_process=True)
def _group_dro(cfg, counts, group_counts):
    return GroupDROLoss(group_counts, cfg.step_size, cfg.adjustment)


@LOSSES.register("jtt", defaults={"upweight": 20.0, "identification_epochs": 1}, procedure="jtt")
def _jtt(cfg, counts, group_counts):
    """Cross-entropy; the pipeline trains it on JTT's upsampled set (``autobalance.training.jtt``)."""
    return _fixed(counts)


@LOSSES.register("dfr", defaults={}, procedure="dfr")
def _dfr(cfg, counts, group_counts):
    """Cross-entropy; the pipeline then refits the last layer (``autobalance.training.dfr``)."""
    return _fixed(counts)


def label_aware_smoothing(counts: Sequence[int], head: float, tail: float) -> torch.Tensor:
    """MiSLAS's label-aware smoothing (Zhong et al., CVPR 2021), its linear form: eps_k from ``tail``
    at the rarest class to ``head`` at the most frequent, linear in n_k."""
    n = torch.as_tensor(list(counts), dtype=torch.float64)
    span = (n.max() - n.min()).clamp_min(1.0)
    return tail + (head - tail) * (n - n.min()) / span


@register_loss("las", smooth_head=0.3, smooth_tail=0.0)
def _las(cfg, counts, group_counts):
    return _fixed(counts, label_smoothing=label_aware_smoothing(counts, cfg.smooth_head, cfg.smooth_tail),
                  smoothing_max=1 - 1e-6)


@LOSSES.register("weight_balancing", procedure="weight_balancing",
                 defaults={"beta": CLASS_BALANCED_BETA, "classifier_epochs": 10, "classifier_lr": 0.01,
                           "classifier_weight_decay": 0.1, "max_norm": 0.1})
def _weight_balancing(cfg, counts, group_counts):
    """Cross-entropy (the first stage, with the run's tuned weight decay); the pipeline then
    retrains the classifier (``autobalance.training.weight_balancing``)."""
    return _fixed(counts)


@register_loss("learned")
def _learned(cfg, counts, group_counts):
    return load_loss(cfg.path, num_classes=len(counts))


INIT_HYPERPARAMETERS = {"uniform": (), "la": ("tau",), "group_la": ("tau",), "cdt": ("gamma",),
                        "vs": ("gamma", "tau"), "cb": ("beta",)}
"""Each starting point of the search and the ``search.family.init_*`` values it reads."""
INITIALIZATIONS = tuple(INIT_HYPERPARAMETERS)


def build_search_loss(learn: Sequence[str], init: str, counts: Sequence[int],
                      group_counts: GroupCounts | None = None,
                      scale_map: str = "exp", cluster_size: int = 1, tau: float = 1.0,
                      gamma: float = 0.2, beta: float = CLASS_BALANCED_BETA,
                      augment_ops: Sequence[str] = (), augment_init: float = AUGMENT_INIT,
                      augment_bounds: Mapping[str, float] | None = None,
                      augment_max_ratio: float | None = MAX_RATIO,
                      parametrization: str = "per_class", decay_reference: float | None = None,
                      decay_max_ratio: float = DECAY_MAX_RATIO,
                      smoothing_max: float = SMOOTHING_MAX) -> ParametricLoss:
    """The learnable family, initialized as a baseline: ``uniform`` (CE), ``la`` (tau),
    ``group_la`` (tau; per attribute, :func:`group_logit_adjustment`), ``cdt`` (gamma),
    ``vs`` (gamma, tau) or ``cb`` (class-balanced weights, beta); with ``group_counts`` (the
    training (attribute x class) table) every part is a table with one row per attribute; with
    ``augment_ops``, per-class augmentation starting at ``augment_init`` of each bound
    (``augment_bounds`` replace the default bounds of the operations they name; no two classes'
    magnitudes of one operation more than ``augment_max_ratio`` apart); ``parametrization="power_law"``
    learns one exponent per part instead of a value per class (the start projected onto it).
    ``weight_decay`` and ``label_smoothing`` in ``learn`` start at ``decay_reference`` (the
    optimizer's decay) and at no smoothing, exactly today's training."""
    init_values = {
        "uniform": {},
        "la": {"offsets": logit_adjustment_offsets(counts, tau)},
        "group_la": {"offsets": group_logit_adjustment(group_counts or [list(counts)], tau)},
        "cdt": {"scales": cdt_scales(counts, gamma)},
        "vs": {"scales": cdt_scales(counts, gamma), "offsets": logit_adjustment_offsets(counts, tau)},
        "cb": {"weights": class_balanced_weights(counts, beta)},
    }
    require_choice("search.family.init", init, INITIALIZATIONS)
    num_groups = len(group_counts) if group_counts else 1
    return ParametricLoss(len(counts), num_groups, learn=learn, scale_map=scale_map, counts=counts,
                          cluster_size=cluster_size, augment_ops=augment_ops, augment_init=augment_init,
                          augment_bounds=augment_bounds, augment_max_ratio=augment_max_ratio,
                          parametrization=parametrization, decay_reference=decay_reference,
                          decay_max_ratio=decay_max_ratio, smoothing_max=smoothing_max, **init_values[init])


def family_loss(family: FamilyConfig, counts: Sequence[int], group_counts: GroupCounts | None = None,
                augment_ops: Sequence[str] = (), decay_reference: float | None = None) -> ParametricLoss:
    """:func:`build_search_loss` as ``search.family`` configures it (``augment_ops``: the
    operations the search applies, resolved against the data; ``decay_reference``: the searching
    optimizer's weight decay)."""
    return build_search_loss(family.learn, family.init, counts, group_counts, scale_map=family.scale_map,
                             cluster_size=family.cluster_size, tau=family.init_tau, gamma=family.init_gamma,
                             beta=family.init_beta, augment_ops=augment_ops, augment_init=family.augment_init,
                             augment_bounds=dict(family.augment_bounds),
                             augment_max_ratio=family.augment_max_ratio, parametrization=family.parametrization,
                             decay_reference=decay_reference, decay_max_ratio=family.decay_max_ratio,
                             smoothing_max=family.smoothing_max)
