"""Build a training loss by name from its settings and the training counts: each loss is
registered with its builder and its settings dataclass (hyperparameters, standard values and
checks) together, so adding one, a plugin's included, is one decorated function and, for the
command line's ``loss=NAME``, one YAML file naming it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from autobalance.class_attributes import attribute_matrix, log_frequency
from autobalance.config import (
    CLASS_BALANCED_BETA,
    FamilyConfig,
    LossConfig,
    require,
)
from autobalance.errors import InputError
from autobalance.losses.base import ClassificationLoss
from autobalance.losses.baselines import (
    ClassBalancedFocalLoss,
    FocalLoss,
    LDAMLoss,
    PosthocLogitAdjustedCE,
)
from autobalance.losses.family import ParametricLoss
from autobalance.losses.group_dro import GroupDROLoss
from autobalance.losses.io import load_loss
from autobalance.losses.priors import cdt_scales, class_balanced_weights, logit_adjustment_offsets
from autobalance.registry import Registry
from autobalance.settings import as_registered, build_settings, setting_names

CellCounts = Sequence[Sequence[int]]
"""Training examples per cell: an (attribute x class) table, one row without an attribute."""
F = TypeVar("F", bound=Callable[..., ClassificationLoss])

LossBuilder = Callable[[LossConfig, Sequence[int], CellCounts], ClassificationLoss]
LOSSES: Registry[LossBuilder] = Registry("loss.name")
"""Baseline losses by name, built as ``builder(settings, counts, cell_counts)``; each entry's
``settings`` metadata is its :class:`LossConfig` subclass, the one home of its hyperparameters,
their standard values (each paper's setting) and their checks, for the CLI and the Python API."""


def register_loss(name: str, settings: type[LossConfig] = LossConfig, **metadata: Any) -> Callable[[F], F]:
    """Register ``builder(settings, counts, cell_counts)`` under ``name``; ``settings`` is the
    dataclass of its hyperparameters (a :class:`LossConfig` subclass with a default for each and
    its checks in ``__post_init__``), which ``loss.<key>=value`` sets from the command line.

    ``loss=NAME``, ``+baseline=NAME`` and, with a ``grid``, ``+hparams_search=tune_NAME`` are
    generated from the registration (its ``config``, ``baselines``, ``baseline_values`` and
    ``grid`` metadata: :mod:`autobalance.config_groups`)."""
    if not (dataclasses.is_dataclass(settings) and issubclass(settings, LossConfig)):
        raise TypeError(f"register_loss({name!r}): settings must be a LossConfig dataclass, got {settings!r}")
    return LOSSES.register(name, settings=settings, **metadata)


def hyperparameters(name: str) -> tuple[str, ...]:
    """The hyperparameters the loss ``name`` takes: its settings' fields besides the name."""
    return setting_names(LOSSES, name)


def loss_config(name: str = "ce", **values: Any) -> LossConfig:
    """The settings of the loss ``name``: ``values`` over its standard ones, type-converted as the
    command line's are and checked; refuses an unknown loss and a hyperparameter it does not take.

    >>> loss_config("vs", gamma="0.1")
    VSConfig(name='vs', gamma=0.1, tau=1.0)
    >>> loss_config("focal", tau=2)
    Traceback (most recent call last):
    ...
    autobalance.config.ConfigError: loss.tau=2: loss=focal has no such setting (it takes gamma)
    """
    return build_settings(LOSSES, "loss", name, values, none_taken="no hyperparameters")


def registered_settings(cfg: LossConfig) -> LossConfig:
    """``cfg`` as its loss's settings class, checked: a bare ``LossConfig(name=...)`` of the
    Python API takes the loss's standard values."""
    return as_registered(LOSSES, "loss", cfg)


def build_loss(cfg: LossConfig, counts: Sequence[int], cell_counts: CellCounts | None = None) -> ClassificationLoss:
    """The loss ``cfg`` names (:func:`registered_settings`); baselines that are special cases of
    the family are fixed :class:`ParametricLoss` objects. ``cell_counts`` (default: the class
    counts as one row) gives attribute-aware losses the training cells."""
    return LOSSES[cfg.name](registered_settings(cfg), counts, cell_counts or [list(counts)])


def _fixed(counts: Sequence[int], **init) -> ParametricLoss:
    return ParametricLoss(len(counts), learn=(), **init)


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


@register_loss("ce")
def _ce(cfg, counts, cell_counts):
    return _fixed(counts)


@register_loss("focal", FocalConfig, grid={"gamma": "0.5,1.0,1.5,2.0,3.0"})
def _focal(cfg, counts, cell_counts):
    return FocalLoss(cfg.gamma)


@register_loss("cb_softmax", ClassBalancedConfig)
def _cb_softmax(cfg, counts, cell_counts):
    return _fixed(counts, weights=class_balanced_weights(counts, cfg.beta))


@register_loss("cb_focal", ClassBalancedFocalConfig,
               grid={"beta": "0.9,0.99,0.999,0.9999,0.99999", "gamma": "0.5,1.0,2.0"})
def _cb_focal(cfg, counts, cell_counts):
    return ClassBalancedFocalLoss(counts, cfg.beta, cfg.gamma)


@register_loss("ldam", LDAMConfig, config={"model": {"normalized_head": True}},  # its cosine head
               baselines={"ldam_drw": {"schedule": "drw"}}, grid={"max_margin": "0.1,0.25,0.5,0.75,1.0"})
def _ldam(cfg, counts, cell_counts):
    return LDAMLoss(counts, cfg.max_margin, cfg.scale)


@register_loss("la", LogitAdjustmentConfig, grid={"tau": TAU_GRID})
def _la(cfg, counts, cell_counts):
    return _fixed(counts, offsets=logit_adjustment_offsets(counts, cfg.tau))


@register_loss("la_posthoc", LogitAdjustmentConfig, grid={"tau": TAU_GRID})
def _la_posthoc(cfg, counts, cell_counts):
    return PosthocLogitAdjustedCE(counts, cfg.tau)


@register_loss("cdt", CDTConfig, grid={"gamma": GAMMA_GRID})
def _cdt(cfg, counts, cell_counts):
    return _fixed(counts, scales=cdt_scales(counts, cfg.gamma))


@register_loss("vs", VSConfig, grid={"gamma": GAMMA_GRID, "tau": "0.5,1.0,1.5"})
def _vs(cfg, counts, cell_counts):
    return _fixed(counts, scales=cdt_scales(counts, cfg.gamma), offsets=logit_adjustment_offsets(counts, cfg.tau))


@register_loss("balanced_softmax")
def _balanced_softmax(cfg, counts, cell_counts):
    return _fixed(counts, offsets=logit_adjustment_offsets(counts, 1.0))


def inverse_frequency_weights(cell_counts: CellCounts) -> torch.Tensor:
    """Loss weights proportional to 1 / n_g per cell; a cell without training examples gets
    the weight of the mean cell size (it never meets a training example)."""
    counts = torch.as_tensor(cell_counts, dtype=torch.float64)
    counts = torch.where(counts > 0, counts, counts[counts > 0].mean())
    return 1.0 / counts


@register_loss("group_reweighted")
def _group_reweighted(cfg, counts, cell_counts):
    return ParametricLoss(len(counts), len(cell_counts), learn=(), weights=inverse_frequency_weights(cell_counts))


def group_logit_adjustment(cell_counts: CellCounts, tau: float = 1.0) -> torch.Tensor:
    """Offsets ``tau * log pi(y | a)``: logit adjustment by each attribute value's own class
    prior, an (attribute x class) table (the correction of a spurious correlation's label shift
    within each attribute; a class never seen with an attribute gets half an example)."""
    return torch.stack([logit_adjustment_offsets([max(c, 0.5) for c in row], tau) for row in cell_counts])


@register_loss("group_la", LogitAdjustmentConfig)
def _group_la(cfg, counts, cell_counts):
    offsets = group_logit_adjustment(cell_counts, cfg.tau)
    return ParametricLoss(len(counts), len(cell_counts), learn=(), offsets=offsets)


@dataclass
class GroupDROConfig(LossConfig):
    step_size: float = 0.01
    """The group weights' exponentiated-gradient step (Sagawa et al. 2020)."""
    adjustment: float = 0.0
    """C of the group adjustment C / sqrt(n_g) added to each group's loss."""

    def __post_init__(self) -> None:
        require(self.step_size > 0, "loss.step_size", self.step_size, "> 0")
        require(self.adjustment >= 0, "loss.adjustment", self.adjustment, ">= 0")


@register_loss("group_dro", GroupDROConfig, single_process=True,
               # the strong weight decay its paper pairs it with (1e-3 here, 2x the CPU presets' 5e-4;
               # the paper's 1.0 is for a pretrained ResNet-50 at lr 1e-5)
               baseline_values={"optim": {"weight_decay": 1.0e-3}})
def _group_dro(cfg, counts, cell_counts):
    return GroupDROLoss(cell_counts, cfg.step_size, cfg.adjustment)


@dataclass
class JTTConfig(LossConfig):
    upweight: float = 20.0
    """How many times the identification run's errors are repeated (Liu et al. 2021)."""
    identification_epochs: int = 1

    def __post_init__(self) -> None:
        require(self.upweight >= 1, "loss.upweight", self.upweight, ">= 1")
        require(self.identification_epochs >= 1, "loss.identification_epochs", self.identification_epochs,
                "an integer >= 1")


@register_loss("jtt", JTTConfig, procedure="jtt")
def _jtt(cfg, counts, cell_counts):
    """Cross-entropy; the pipeline trains it on JTT's upsampled set (``autobalance.training.jtt``)."""
    return _fixed(counts)


@register_loss("dfr", procedure="dfr", baseline_values={"train_on_val": False})
def _dfr(cfg, counts, cell_counts):
    """Cross-entropy; the pipeline then refits the last layer (``autobalance.training.dfr``)."""
    return _fixed(counts)


def label_aware_smoothing(counts: Sequence[int], head: float, tail: float) -> torch.Tensor:
    """MiSLAS's label-aware smoothing (Zhong et al., CVPR 2021), its linear form: eps_k from ``tail``
    at the rarest class to ``head`` at the most frequent, linear in n_k."""
    n = torch.as_tensor(list(counts), dtype=torch.float64)
    span = (n.max() - n.min()).clamp_min(1.0)
    return tail + (head - tail) * (n - n.min()) / span


@dataclass
class LabelAwareSmoothingConfig(LossConfig):
    smooth_head: float = 0.3
    """The most frequent class's smoothing (the paper's CIFAR-10-LT value)."""
    smooth_tail: float = 0.0
    """The rarest class's smoothing."""

    def __post_init__(self) -> None:
        for key in ("smooth_head", "smooth_tail"):
            require(0 <= getattr(self, key) < 1, f"loss.{key}", getattr(self, key), "in [0, 1)")


@register_loss("las", LabelAwareSmoothingConfig)
def _las(cfg, counts, cell_counts):
    return _fixed(counts, label_smoothing=label_aware_smoothing(counts, cfg.smooth_head, cfg.smooth_tail),
                  smoothing_max=1 - 1e-6)


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
    return _fixed(counts)


@dataclass
class LearnedConfig(LossConfig):
    path: str | None = None
    """A learned-loss file (``learned_loss.yaml``) that a search exported."""

    def __post_init__(self) -> None:
        require(bool(self.path), "loss.path", self.path, "a learned-loss file when loss=learned")


@register_loss("learned", LearnedConfig, baselines={})  # a file of its own, no preset
def _learned(cfg, counts, cell_counts):
    return load_loss(cfg.path, num_classes=len(counts))


SEARCH_STARTS: Registry[Callable[..., dict[str, torch.Tensor]]] = Registry("search.family.init")
"""The search's starting points by name, ``start(counts, cell_counts, tau=, gamma=, beta=, path=)``
-> the family's initial parts; each entry's ``reads`` metadata names the ``search.family.init_*``
values it uses."""


@SEARCH_STARTS.register("uniform", reads=())
def _uniform_start(counts, cell_counts, **values):
    return {}


@SEARCH_STARTS.register("la", reads=("tau",))
def _la_start(counts, cell_counts, tau, **values):
    return {"offsets": logit_adjustment_offsets(counts, tau)}


@SEARCH_STARTS.register("group_la", reads=("tau",))
def _group_la_start(counts, cell_counts, tau, **values):
    return {"offsets": group_logit_adjustment(cell_counts, tau)}


@SEARCH_STARTS.register("cdt", reads=("gamma",))
def _cdt_start(counts, cell_counts, gamma, **values):
    return {"scales": cdt_scales(counts, gamma)}


@SEARCH_STARTS.register("vs", reads=("gamma", "tau"))
def _vs_start(counts, cell_counts, gamma, tau, **values):
    return {"scales": cdt_scales(counts, gamma), "offsets": logit_adjustment_offsets(counts, tau)}


@SEARCH_STARTS.register("cb", reads=("beta",))
def _cb_start(counts, cell_counts, beta, **values):
    return {"weights": class_balanced_weights(counts, beta)}


@SEARCH_STARTS.register("learned", reads=("path",))
def _learned_start(counts, cell_counts, path, **values):
    """Where an earlier search ended (rounds of search): the file's effective tables, which the
    family then projects onto its parametrization (a power law's exponents, clusters' means)."""
    loaded = load_loss(path, num_classes=len(counts), setting="search.family.init_path")
    if loaded.num_attribute_values != len(cell_counts):
        raise InputError(f"{path} holds a loss for {loaded.num_attribute_values} attribute values but the data "
                         f"has {len(cell_counts)} (search.family.init_path)")
    tables = loaded.values()
    start = {part: tables[part] for part in ("scales", "offsets", "weights", "label_smoothing") if part in tables}
    if "weight_decay" in tables:
        start.update(weight_decay=tables["weight_decay"].reshape(-1),
                     weight_decay_rest=float(tables["weight_decay_rest"]))
    if loaded.augmentation is not None:
        start["augment"] = {op: tables[f"augment_{op}"] for op in loaded.augmentation.ops}
    return start


def build_search_loss(learn: Sequence[str], init: str, counts: Sequence[int],
                      cell_counts: CellCounts | None = None, augment_ops: Sequence[str] = (),
                      decay_reference: float | None = None, *, tau: float | None = None,
                      gamma: float | None = None, beta: float | None = None, path: str | None = None,
                      **family: Any) -> ParametricLoss:
    """The learnable family, initialized as a baseline: ``uniform`` (CE), ``la`` (tau),
    ``group_la`` (tau; per attribute, :func:`group_logit_adjustment`), ``cdt`` (gamma),
    ``vs`` (gamma, tau), ``cb`` (class-balanced weights, beta) or ``learned`` (a learned-loss
    file's tables, path); ``family`` takes any other ``search.family`` setting by its name
    (``parametrization="power_law"``, ``cluster_size``, ...), each defaulting as
    :class:`~autobalance.config.FamilyConfig` does, and ``tau``, ``gamma``, ``beta``, ``path`` stand
    for its ``init_*``. The rest is :func:`family_loss`."""
    starts = {"init_tau": tau, "init_gamma": gamma, "init_beta": beta, "init_path": path}
    cfg = FamilyConfig(learn=list(learn), init=init, **{k: v for k, v in starts.items() if v is not None}, **family)
    return family_loss(cfg, counts, cell_counts, augment_ops, decay_reference)


def family_loss(family: FamilyConfig, counts: Sequence[int], cell_counts: CellCounts | None = None,
                augment_ops: Sequence[str] = (), decay_reference: float | None = None,
                attribute_values: Mapping[str, Sequence[float] | None] | None = None) -> ParametricLoss:
    """The learnable family as ``search.family`` configures it: with ``cell_counts`` (the training
    (attribute x class) table) every part is a table with one row per attribute value; with
    ``augment_ops`` (the operations the search applies, resolved against the data), per-class
    augmentation starting at ``augment_init`` of each bound (``augment_bounds`` replace the default
    bounds of the operations they name; no two classes' magnitudes of one operation more than
    ``augment_max_ratio`` apart); ``parametrization="power_law"`` learns one exponent per part
    instead of a value per class (the start projected onto it). ``weight_decay`` and
    ``label_smoothing`` in ``learn`` start at ``decay_reference`` (the searching optimizer's decay)
    and at no smoothing, exactly today's training. ``parametrization="attributes"`` maps the
    attributes ``family.attributes`` (their values in ``attribute_values``; log frequency from
    ``counts`` when not given) to each part."""
    attributes, names = None, ()
    if family.parametrization == "attributes":
        values = attribute_values or {"log_frequency": log_frequency(counts)}
        attributes, names = attribute_matrix(family.attributes, values)
    start = SEARCH_STARTS[family.init](counts, cell_counts or [list(counts)], tau=family.init_tau,
                                       gamma=family.init_gamma, beta=family.init_beta, path=family.init_path)
    num_attribute_values = len(cell_counts) if cell_counts else 1
    return ParametricLoss(len(counts), num_attribute_values, learn=family.learn, scale_map=family.scale_map,
                          counts=counts, cluster_size=family.cluster_size, augment_ops=augment_ops,
                          augment_init=family.augment_init, augment_bounds=dict(family.augment_bounds),
                          augment_max_ratio=family.augment_max_ratio, parametrization=family.parametrization,
                          decay_reference=decay_reference, decay_max_ratio=family.decay_max_ratio,
                          smoothing_max=family.smoothing_max, class_attributes=attributes, attribute_names=names,
                          **start)
