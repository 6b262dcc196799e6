"""Validation objectives for the outer problem (differentiable surrogates of balanced metrics,
group robustness and fairness gaps).

Each objective maps (logits, targets, attributes) to a scalar. A group is a (class, attribute)
cell (:mod:`autobalance.group_metrics`); classes and groups absent from the batch are left out
of the means, and a class seen with fewer than two attribute values adds no fairness gap.
The fairness surrogates replace each rate of their metric by a smooth stand-in: a group's
error by its mean cross-entropy (the AutoBalance paper's DEO surrogate), a selection rate by
the mean predicted probability; the spread over attribute values is max - min (|a - b| for a
binary attribute, as in the paper), differentiable wherever the extremes are unique.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from autobalance.config import ConfigError, ObjectiveConfig, require, require_choice
from autobalance.group_metrics import attribute_spreads, index_means, per_index_means
from autobalance.losses.functional import cross_entropy, log_softmax
from autobalance.metrics import worst_count
from autobalance.registry import Registry
from autobalance.settings import build_settings
from autobalance.temperature_fit import fitted_inverse_temperature

Objective = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


def cell_means(values: torch.Tensor, targets: torch.Tensor, attributes: torch.Tensor | None,
               num_classes: int, num_attributes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of ``values`` per group as an (attribute x class) table, and which groups are present."""
    a = torch.zeros_like(targets) if attributes is None else attributes
    means, present = index_means(values, a * num_classes + targets, num_attributes * num_classes)
    return means.reshape(num_attributes, num_classes), present.reshape(num_attributes, num_classes)


def soft_maximum(values: torch.Tensor, temperature: float, cvar_alpha: float | None) -> torch.Tensor:
    """Smooth worst case: ``T * log mean exp(v / T)`` (mean at T -> inf, max at T -> 0), or with
    ``cvar_alpha`` the CVaR, the mean of the worst ceil(alpha * n) entries."""
    if cvar_alpha is not None:
        return values.topk(worst_count(cvar_alpha, len(values))).values.mean()
    n = torch.tensor(float(len(values)), dtype=values.dtype, device=values.device)
    return temperature * (torch.logsumexp(values / temperature, 0) - n.log())


OBJECTIVES: Registry[Callable[[ObjectiveConfig, int, int], Objective]] = Registry("objective.name")
"""Validation objectives by name: ``builder(spec, num_classes, num_attribute_values)``; an entry's
``settings`` metadata, when given, is its :class:`ObjectiveConfig` subclass (its own settings)."""


def register_objective(name: str, settings: type[ObjectiveConfig] = ObjectiveConfig,
                       **metadata: Any) -> Callable[[Callable[..., Objective]], Callable[..., Objective]]:
    """Register ``builder(spec, num_classes, num_attribute_values)`` under ``name``; ``settings``
    (an :class:`ObjectiveConfig` subclass) adds settings of its own, set as ``objective.<key>``.
    Metadata the package reads: ``metric`` (the test metric that judges it), ``fairness`` (it compares
    attribute values), ``tempered`` / ``soft_maximum`` (a temperature changes it), and for a composite
    ``parts(spec) -> {objective: weight}`` and ``check(spec)``."""
    if not (dataclasses.is_dataclass(settings) and issubclass(settings, ObjectiveConfig)):
        raise TypeError(f"register_objective({name!r}): settings must be an ObjectiveConfig dataclass, "
                        f"got {settings!r}")
    return OBJECTIVES.register(name, settings=settings, **metadata)


def objective_config(name: str = "balanced_ce", **values: Any) -> ObjectiveConfig:
    """The settings of the objective ``name``: ``values`` over its standard ones, checked."""
    return build_settings(OBJECTIVES, "objective", name, values, default=ObjectiveConfig)


def class_weight_list(weights: Sequence[float] | Mapping[Any, float] | None,
                      class_names: Sequence[str]) -> list[float] | None:
    """``objective.class_weights`` as K numbers: a list is taken as it is, a mapping by class name
    (or index), the classes it leaves out weighing 1. Refuses a wrong length, an unknown class,
    negative weights and weights that are all zero."""
    if weights is None:
        return None
    k = len(class_names)
    if isinstance(weights, Mapping):
        full = [1.0] * k
        for key, value in weights.items():
            index = (class_names.index(str(key)) if str(key) in class_names else
                     int(key) if isinstance(key, int) and 0 <= key < k else None)
            require(index is not None, "objective.class_weights", dict(weights),
                    f"class names among {list(class_names)} or indices in [0, {k}); {key!r} is neither")
            full[index] = float(value)
    else:
        full = [float(w) for w in weights]
        require(len(full) == k, "objective.class_weights", full, f"{k} weights, one per class, or a mapping "
                "from class names to weights")
    require(min(full) >= 0 and max(full) > 0, "objective.class_weights", full,
            "non-negative weights, not all zero")
    return full


def build_objective(spec: ObjectiveConfig, num_classes: int, num_attribute_values: int = 1,
                    class_names: Sequence[str] | None = None) -> Objective:
    """The objective ``spec`` names; ``num_attribute_values`` is the number of attribute values,
    ``class_names`` those that ``objective.class_weights`` may name. With ``final_temperature`` it
    is an :class:`AnnealedObjective`."""
    if spec.class_weights is not None:
        names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
        spec = dataclasses.replace(spec, class_weights=class_weight_list(spec.class_weights, names))
    if spec.final_temperature is not None:
        return AnnealedObjective(spec, num_classes, num_attribute_values)
    compared = next((n for n in objective_parts(spec) or (spec.name,) if needs_attribute(n)), spec.name)
    if needs_attribute(compared) and num_attribute_values < 2:
        raise ConfigError(f"objective {compared!r} compares attribute values but the data has "
                          f"{num_attribute_values}: give the data an attribute column (data.attribute_column)")
    return OBJECTIVES[spec.name](spec, num_classes, num_attribute_values)


class AnnealedObjective:
    """An objective whose temperature falls (or rises) geometrically from ``spec.temperature``
    to ``spec.final_temperature`` as :attr:`progress` goes from 0 to 1; the search sets the
    progress before each hyper-step."""

    def __init__(self, spec: ObjectiveConfig, num_classes: int, num_attribute_values: int = 1) -> None:
        self.spec, self.num_classes, self.num_attribute_values = spec, num_classes, num_attribute_values
        self.progress = 0.0
        build_objective(self._at(spec.temperature), num_classes, num_attribute_values)  # refuse a bad spec now
        check_annealing(spec)

    @property
    def temperature(self) -> float:
        start, end = self.spec.temperature, self.spec.final_temperature
        return start * (end / start) ** min(max(self.progress, 0.0), 1.0)

    def _at(self, temperature: float) -> ObjectiveConfig:
        return dataclasses.replace(self.spec, temperature=temperature, final_temperature=None)

    def __call__(self, z: torch.Tensor, y: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        return build_objective(self._at(self.temperature), self.num_classes, self.num_attribute_values)(z, y, g)


def uses_temperature(spec: ObjectiveConfig) -> bool:
    """Whether the temperature changes ``spec``'s objective (a blend or trade-off: one of its
    parts); a soft maximum has none with ``cvar_alpha`` set (the CVaR replaces it)."""
    parts = objective_parts(spec)
    if parts is not None:
        return any(uses_temperature(dataclasses.replace(spec, name=part)) for part in parts)
    meta = OBJECTIVES.metadata(spec.name)
    return meta.get("tempered", False) or (meta.get("soft_maximum", False) and spec.cvar_alpha is None)


def check_annealing(spec: ObjectiveConfig) -> None:
    """An annealed temperature needs an objective that has one."""
    tempered = ", ".join(n for n in OBJECTIVES.names()
                         if OBJECTIVES.metadata(n).get("tempered") or OBJECTIVES.metadata(n).get("soft_maximum"))
    require(uses_temperature(spec), "objective.final_temperature", spec.final_temperature,
            f"null for objective={spec.name}, which has no temperature here (anneal one of {tempered}; "
            "a soft maximum without cvar_alpha)")


def objective_parts(spec: ObjectiveConfig) -> dict[str, float] | None:
    """A composite objective's parts and their weights (its registration's ``parts``: ``blend``,
    ``trade_off``); None for a simple objective."""
    parts = OBJECTIVES.metadata(spec.name).get("parts")
    return None if parts is None else parts(spec)


def is_composite(name: str) -> bool:
    return "parts" in OBJECTIVES.metadata(name)


def needs_attribute(name: str) -> bool:
    """Whether an objective (a trade-off through its fairness part) compares attribute values."""
    return name in OBJECTIVES and OBJECTIVES.metadata(name).get("fairness", False)


def check_trade_off(spec: ObjectiveConfig) -> None:
    """A trade-off pairs an accuracy objective with a fairness one."""
    fairness = tuple(n for n in OBJECTIVES.names() if needs_attribute(n))
    accuracy = tuple(n for n in OBJECTIVES.names() if n not in fairness and not is_composite(n))
    require_choice("objective.fairness", spec.fairness, fairness)
    require_choice("objective.accuracy", spec.accuracy, accuracy)


def check_blend_weights(spec: ObjectiveConfig) -> None:
    """A blend names objectives other than itself, with their weights."""
    blendable = tuple(n for n in OBJECTIVES.names() if not is_composite(n))
    require(bool(spec.weights) and set(spec.weights) <= set(blendable), "objective.weights",
            dict(spec.weights), f"a mapping from {', '.join(blendable)} to blend weights")


@OBJECTIVES.register("balanced_ce", metric="balanced_error")
def _balanced_ce(spec, num_classes, num_attribute_values):
    return lambda z, y, g: per_index_means(cross_entropy(z, y), y, num_classes).mean()


@OBJECTIVES.register("calibrated_balanced_ce", metric="balanced_error")
def _calibrated_balanced_ce(spec, num_classes, num_attribute_values):
    def calibrated_balanced_ce(z, y, g):
        beta = fitted_inverse_temperature(z, y, num_classes)
        return per_index_means(cross_entropy(beta * z, y), y, num_classes).mean()
    return calibrated_balanced_ce


@OBJECTIVES.register("expected_error", tempered=True, metric="balanced_error")
def _expected_error(spec, num_classes, num_attribute_values):
    def expected_error(z, y, g):
        p_true = log_softmax(z / spec.temperature, 1).gather(1, y[:, None]).squeeze(1).exp()
        return per_index_means(1 - p_true, y, num_classes).mean()
    return expected_error


@OBJECTIVES.register("worst_class", soft_maximum=True, metric="worst_class_error", cvar_metric="cvar_error")
def _worst_class(spec, num_classes, num_attribute_values):
    return lambda z, y, g: soft_maximum(per_index_means(cross_entropy(z, y), y, num_classes),
                                        spec.temperature, spec.cvar_alpha)


@OBJECTIVES.register("class_std", metric="class_error_std")
def _class_std(spec, num_classes, num_attribute_values):
    """The spread (population standard deviation) of the per-class mean CE; blend it with an
    accuracy objective (``blend``), since alone it is least where every class is equally bad."""
    return lambda z, y, g: per_index_means(cross_entropy(z, y), y, num_classes).std(correction=0)


@OBJECTIVES.register("weighted_ce", metric="weighted_error")
def _weighted_ce(spec, num_classes, num_attribute_values):
    """The per-class mean CE weighted by ``objective.class_weights`` (the classes present)."""
    require(spec.class_weights is not None, "objective.class_weights", spec.class_weights,
            "per-class weights for objective=weighted_ce (a list of K numbers, or a mapping from class names)")
    weights = torch.as_tensor(spec.class_weights, dtype=torch.float64)

    def weighted_ce(z, y, g):
        means, present = index_means(cross_entropy(z, y), y, num_classes)
        w = weights.to(z)[present]
        return (w * means[present]).sum() / w.sum()
    return weighted_ce


@OBJECTIVES.register("blend", parts=lambda spec: dict(spec.weights), check=check_blend_weights)
def _blend(spec, num_classes, num_attribute_values):
    check_blend_weights(spec)
    parts = {name: build_objective(ObjectiveConfig(name, spec.temperature, spec.cvar_alpha,
                                                   class_weights=spec.class_weights), num_classes,
                                   num_attribute_values) for name in spec.weights}
    return lambda z, y, g: sum(w * parts[n](z, y, g) for n, w in spec.weights.items())


def _group_losses(z, y, g, num_classes, num_attribute_values):
    return cell_means(cross_entropy(z, y), y, g, num_classes, num_attribute_values)


@OBJECTIVES.register("worst_group", soft_maximum=True, metric="worst_group_error")
def _worst_group(spec, num_classes, num_attribute_values):
    def worst_group(z, y, g):
        table, present = _group_losses(z, y, g, num_classes, num_attribute_values)
        return soft_maximum(table[present], spec.temperature, spec.cvar_alpha)
    return worst_group


@OBJECTIVES.register("group_balanced", metric="average_group_error")
def _group_balanced(spec, num_classes, num_attribute_values):
    def group_balanced(z, y, g):
        table, present = _group_losses(z, y, g, num_classes, num_attribute_values)
        return table[present].mean()
    return group_balanced


def _largest_gap(spreads: torch.Tensor, spec: ObjectiveConfig, z: torch.Tensor) -> torch.Tensor:
    """Soft maximum of the classes' gaps; zero, still a function of the logits, without any."""
    return soft_maximum(spreads, spec.temperature, spec.cvar_alpha) if len(spreads) else z.sum() * 0


@OBJECTIVES.register("deo", fairness=True, metric="deo")
def _deo(spec, num_classes, num_attribute_values):
    return lambda z, y, g: attribute_spreads(*_group_losses(z, y, g, num_classes, num_attribute_values)).sum()


@OBJECTIVES.register("equalized_odds", fairness=True, soft_maximum=True, metric="equalized_odds_difference")
def _equalized_odds(spec, num_classes, num_attribute_values):
    def equalized_odds(z, y, g):
        return _largest_gap(attribute_spreads(*_group_losses(z, y, g, num_classes, num_attribute_values)), spec, z)
    return equalized_odds


@OBJECTIVES.register("demographic_parity", fairness=True, soft_maximum=True,
                     metric="demographic_parity_difference")
def _demographic_parity(spec, num_classes, num_attribute_values):
    def demographic_parity(z, y, g):
        a = torch.zeros_like(y) if g is None else g
        probabilities = torch.softmax(z, 1)
        selection, present = index_means(probabilities, a, num_attribute_values)
        return _largest_gap(attribute_spreads(selection, present[:, None].expand(-1, num_classes)), spec, z)
    return demographic_parity


@OBJECTIVES.register("trade_off", check=check_trade_off,
                     parts=lambda spec: {spec.accuracy: 1 - spec.fairness_weight, spec.fairness: spec.fairness_weight})
def _trade_off(spec, num_classes, num_attribute_values):
    check_trade_off(spec)
    accuracy, fairness = (build_objective(dataclasses.replace(spec, name=name), num_classes, num_attribute_values)
                          for name in (spec.accuracy, spec.fairness))
    lam = spec.fairness_weight
    return lambda z, y, g: (1 - lam) * accuracy(z, y, g) + lam * fairness(z, y, g)
