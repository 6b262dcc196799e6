"""From Hydra's composed YAML to a validated :class:`RunConfig`: unknown keys, types and ranges
(the schema), then every part's name against that part's registry, and each loss's
hyperparameters resolved to their standard values. The face of the package: it may import
every part; no part imports it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from autobalance.config import (
    ConfigError,
    DataConfig,
    LossConfig,
    ModelConfig,
    ObjectiveConfig,
    RunConfig,
    require,
    require_choice,
)
from autobalance.data.augment import AUGMENTATIONS
from autobalance.data.batching import SAMPLERS
from autobalance.data.build import DATA_SOURCES, data_config
from autobalance.data.profiles import PROFILES
from autobalance.data.splits import SPLIT_STRATEGIES
from autobalance.errors import InputError
from autobalance.hypergrad import METHODS
from autobalance.legacy import recorded_settings, renamed_key
from autobalance.logging.sinks import LOGGERS
from autobalance.losses.augmentation import OPS as AUGMENT_OPS
from autobalance.losses.factory import LOSSES, SEARCH_STARTS, loss_config
from autobalance.losses.family import check_family_settings
from autobalance.losses.schedules import SCHEDULES
from autobalance.models import MODELS, model_config
from autobalance.objectives import OBJECTIVES, check_annealing, objective_config
from autobalance.registry import Registry
from autobalance.run_dir import flat_settings
from autobalance.training.lr_schedule import LR_SCHEDULES

OPEN_SECTIONS: dict[str, tuple[Registry, type, Callable[..., Any]]] = {
    "data": (DATA_SOURCES, DataConfig, data_config),
    "model": (MODELS, ModelConfig, model_config),
    "loss": (LOSSES, LossConfig, loss_config),
    "objective": (OBJECTIVES, ObjectiveConfig, objective_config),
}
"""Sections typed by the chosen part's own settings class (its registry entry's), built by name:
(registry, the base settings class, whose ``name`` is the standard choice, the settings' builder)."""


def _unknown_key(values: dict, schema: type, prefix: str = "") -> str | None:
    """The first key of ``values`` that ``schema`` (a dataclass) has no field for, by full name.

    Hydra's ``+key=value`` adds keys to the composed config, and OmegaConf's merge onto the
    schema keeps them; a typo would otherwise run a whole job with the setting ignored."""
    fields = {f.name: f for f in dataclasses.fields(schema)}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if key not in fields:
            return name
        if name in OPEN_SECTIONS:  # the chosen part's own settings class checks its keys
            continue
        nested = fields[key].default_factory if fields[key].default_factory is not dataclasses.MISSING else None
        if isinstance(value, dict) and dataclasses.is_dataclass(nested):
            found = _unknown_key(value, nested, name + ".")
            if found:
                return found
    return None


def check_names(cfg: RunConfig) -> RunConfig:
    """Every named part against its registry or list (the loss's settings built by then)."""
    require_choice("data.name", cfg.data.name, DATA_SOURCES.names())
    require_choice("data.profile", cfg.data.profile, PROFILES)
    require_choice("data.split", cfg.data.split, SPLIT_STRATEGIES)
    require_choice("data.augment", cfg.data.augment, AUGMENTATIONS)
    require_choice("data.sampler", cfg.data.sampler, SAMPLERS)
    require_choice("model.name", cfg.model.name, MODELS.names())
    require_choice("optim.lr_schedule", cfg.optim.lr_schedule, LR_SCHEDULES.names())
    require_choice("schedule.name", cfg.schedule.name, SCHEDULES.names())
    require_choice("logger.name", cfg.logger.name, LOGGERS.names())
    require_choice("objective.name", cfg.objective.name, OBJECTIVES.names())
    check_objective = OBJECTIVES.metadata(cfg.objective.name).get("check")  # a composite's parts
    if check_objective is not None:
        check_objective(cfg.objective)
    if cfg.objective.final_temperature is not None:
        check_annealing(cfg.objective)
    search = cfg.search
    require_choice("search.hypergrad.method", search.hypergrad.method, METHODS.names())
    family = search.family
    check_family_settings(family.learn, family.scale_map, family.cluster_size, family.parametrization,
                          prefix="search.family.")
    for key, names in (("augment_ops", family.augment_ops or []), ("augment_bounds", family.augment_bounds)):
        require(set(names) <= set(AUGMENT_OPS), f"search.family.{key}", names,
                f"operations among {', '.join(AUGMENT_OPS)}")
    require(all(b > 0 for b in family.augment_bounds.values()), "search.family.augment_bounds",
            dict(family.augment_bounds), "positive largest magnitudes")
    require_choice("search.family.init", search.family.init, SEARCH_STARTS.names())
    if "weight_decay" in family.learn and search.enabled:
        inner = search.inner.weight_decay
        decay = cfg.optim.weight_decay if inner is None or not search.retrain else inner
        require(decay > 0, "search.family.learn", list(family.learn),
                f"no weight_decay while the search's optimizer decay is {decay} (optim.weight_decay, or "
                "search.inner.weight_decay): a learned decay is centred on a positive one")
    baselines = tuple(n for n in LOSSES.names() if n != "learned")
    require(set(search.compare_with) <= set(baselines), "search.compare_with", list(search.compare_with),
            f"a list of baseline losses ({', '.join(baselines)}), [] for none")
    return cfg


def loss_settings(values: dict) -> dict:
    """A composed loss section as :func:`loss_config` takes it: a run directory saved before each
    loss owned its settings recorded a null for every hyperparameter of every other loss."""
    return {k: v for k, v in values.items() if v is not None or k == "name"}


def _section(cfg: DictConfig | dict, values: dict, name: str) -> dict:
    """An open section of the composed config, its interpolations resolved."""
    if isinstance(cfg, DictConfig) and name in cfg:
        return dict(OmegaConf.to_container(cfg[name], resolve=True) or {})
    return dict(values.get(name) or {})


def load_config(cfg: DictConfig | dict) -> RunConfig:
    """Validate a composed config (Hydra's or a dict) into a :class:`RunConfig`."""
    values = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, DictConfig) else cfg
    unknown = _unknown_key(values, RunConfig)
    if unknown and renamed_key(unknown) != unknown:
        raise ConfigError(f"{unknown}: renamed to {renamed_key(unknown)}")
    if unknown:
        section = unknown.rsplit(".", 1)[0] if "." in unknown else "the top level"
        raise ConfigError(f"{unknown}: unknown key (no such setting in {section}); "
                          "print the valid keys with `python -m autobalance.show_config`")
    sections = {name: _section(cfg, values, name) for name in OPEN_SECTIONS}
    sections["loss"] = loss_settings(sections["loss"])
    for name, section in sections.items():
        renamed_here = next((f"{name}.{k}" for k in section if renamed_key(f"{name}.{k}") != f"{name}.{k}"), None)
        if renamed_here:
            raise ConfigError(f"{renamed_here}: renamed to {renamed_key(renamed_here)}")
        registry, base, _ = OPEN_SECTIONS[name]
        standard = next(f.default for f in dataclasses.fields(base) if f.name == "name")
        require_choice(f"{name}.name", section.setdefault("name", standard), registry.names())
    try:
        merged = OmegaConf.merge(OmegaConf.structured(RunConfig), {**values, **{name: {} for name in OPEN_SECTIONS}})
        for name, (_, _, build) in OPEN_SECTIONS.items():
            merged[name] = build(**sections[name])
        run_cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        reason = str(e.msg).splitlines()[0] if getattr(e, "msg", None) else str(e).splitlines()[0]
        key = getattr(e, "full_key", None)
        raise ConfigError(f"{key}: {reason}" if key else reason) from None
    return check_names(run_cfg)


def recorded_run_config(run_dir: str | Path) -> RunConfig:
    """The settings a run directory's ``config.yaml`` recorded, read as today's (an older run's
    through :func:`autobalance.legacy.recorded_settings`) and validated."""
    path = Path(run_dir).expanduser() / "config.yaml"
    if not path.is_file():
        raise InputError(f"from_run={run_dir}: no config.yaml there; expected the directory of a finished run")
    flat = recorded_settings(flat_settings(yaml.safe_load(path.read_text()) or {}))
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *sections, name = key.split(".")
        node = nested
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    return load_config(nested)
