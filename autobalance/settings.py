"""A registered part's own settings, built by its name from a config section.

A registry entry (a loss, a model) carries its ``settings`` dataclass in its metadata: the one home
of the part's settings, their standard values and their checks. The schema leaves such a section
open; this fills the chosen part's class from the section, with the command line's type
conversion, refusing a key the part does not take."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from autobalance.config import ConfigError
from autobalance.registry import Registry

LISTED = 8
"""An unknown key's error lists the settings the part takes when they are at most this many."""
_TYPE_WORDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}


def settings_class(registry: Registry, name: str, default: type | None = None) -> type:
    """The settings dataclass the entry ``name`` registered (``default`` when it registered none)."""
    settings = registry.metadata(name).get("settings", default)
    if settings is None:
        raise TypeError(f"{registry.key}={name!r} registered no settings class")
    return settings


def setting_names(registry: Registry, name: str, default: type | None = None) -> tuple[str, ...]:
    """The settings the entry ``name`` takes: its settings class's fields besides the name."""
    return tuple(f.name for f in dataclasses.fields(settings_class(registry, name, default)) if f.name != "name")


def build_settings(registry: Registry, section: str, name: str, values: Mapping[str, Any],
                   none_taken: str = "no settings", default: type | None = None) -> Any:
    """The settings of entry ``name``: ``values`` over its standard ones, type-converted and
    checked; ``section`` names the config section in errors (``loss.tau=1: ...``); ``default`` is
    the class of entries that registered none."""
    settings = settings_class(registry, name, default)
    takes = setting_names(registry, name, default)
    for key, value in values.items():
        if key in takes or key == "name":
            continue
        if len(takes) > LISTED:
            raise ConfigError(f"{section}.{key}: unknown key (no such setting in {section}); print the "
                              "valid keys with `python -m autobalance.show_config`")
        raise ConfigError(f"{section}.{key}={value!r}: {section}={name} has no such setting (it takes "
                          f"{', '.join(takes) or none_taken})")
    try:
        typed = OmegaConf.merge(OmegaConf.structured(settings), {**values, "name": name})
    except ConfigKeyError as e:
        where = f"{section}.{_parent(e.full_key)}" if "." in e.full_key else section
        raise ConfigError(f"{section}.{e.full_key}: unknown key (no such setting in {where})") from None
    except OmegaConfBaseException as e:
        key = str(e.full_key or e.key)
        expected = _field_type(settings, key)
        raise ConfigError(f"{section}.{key}={_value_at(values, key)!r}: expected {expected}") from None
    return OmegaConf.to_object(typed)


def as_registered(registry: Registry, section: str, cfg: Any, default: type | None = None) -> Any:
    """``cfg`` (a settings dataclass) as its entry's own settings class, checked: a bare base
    class of the Python API takes the entry's standard values."""
    values = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "name"}
    return build_settings(registry, section, cfg.name, values, default=default)


def _parent(dotted: str) -> str:
    return dotted.rsplit(".", 1)[0]


def _value_at(values: Mapping[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        values = values.get(part) if isinstance(values, Mapping) else None
    return values


def _field_type(settings: type, dotted: str) -> str:
    kind = ""
    for part in dotted.split("."):
        field = next((f for f in dataclasses.fields(settings) if f.name == part), None) if settings else None
        kind = "" if field is None else str(field.type)
        nested = None if field is None else field.default_factory
        settings = nested if dataclasses.is_dataclass(nested) else None
    return _TYPE_WORDS.get(kind, f"a value of type {kind}")
