"""Build a training loss by name from its settings and the training counts: each loss is
registered with its builder and its settings dataclass (hyperparameters, standard values and
checks) together, so adding one, a plugin's included, is one decorated function and, for the
command line's ``loss=NAME``, one YAML file naming it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch

from autobalance.class_attributes import MEASURED, attribute_matrix, log_frequency
from autobalance.config import (
    FamilyConfig,
    LossConfig,
)
from autobalance.errors import InputError
from autobalance.losses.base import ClassificationLoss
from autobalance.losses.family import ParametricLoss
from autobalance.losses.io import load_loss
from autobalance.losses.priors import (
    cdt_scales,
    class_balanced_weights,
    group_logit_adjustment,
    logit_adjustment_offsets,
)
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


def fixed_loss(counts: Sequence[int], **init) -> ParametricLoss:
    """A baseline that is a special case of the family: a :class:`ParametricLoss` with nothing learned."""
    return ParametricLoss(len(counts), learn=(), **init)


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
    ``counts`` when not given) to each part; a measured attribute without values (``difficulty``,
    ``training_loss``) waits at zero for the search to measure it."""
    attributes, names, measured = None, (), ()
    if family.parametrization == "attributes":
        values = attribute_values or {"log_frequency": log_frequency(counts)}
        attributes, names = attribute_matrix(family.attributes, values, len(counts), measured_later=True)
        measured = tuple(n for n in names if n in MEASURED and values.get(n) is None)
    start = SEARCH_STARTS[family.init](counts, cell_counts or [list(counts)], tau=family.init_tau,
                                       gamma=family.init_gamma, beta=family.init_beta, path=family.init_path)
    num_attribute_values = len(cell_counts) if cell_counts else 1
    return ParametricLoss(len(counts), num_attribute_values, learn=family.learn, scale_map=family.scale_map,
                          counts=counts, cluster_size=family.cluster_size, augment_ops=augment_ops,
                          augment_init=family.augment_init, augment_bounds=dict(family.augment_bounds),
                          augment_max_ratio=family.augment_max_ratio, parametrization=family.parametrization,
                          decay_reference=decay_reference, decay_max_ratio=family.decay_max_ratio,
                          smoothing_max=family.smoothing_max, class_attributes=attributes, attribute_names=names,
                          map_hidden=family.map_hidden, measured_attributes=measured, **start)
