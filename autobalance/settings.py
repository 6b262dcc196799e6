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
from omegaconf.errors import OmegaConfBaseException

from autobalance.config import ConfigError
from autobalance.registry import Registry

_TYPE_WORDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}


def settings_class(registry: Registry, name: str) -> type:
    """The settings dataclass the entry ``name`` registered."""
    return registry.metadata(name)["settings"]


def setting_names(registry: Registry, name: str) -> tuple[str, ...]:
    """The settings the entry ``name`` takes: its settings class's fields besides the name."""
    return tuple(f.name for f in dataclasses.fields(settings_class(registry, name)) if f.name != "name")


def build_settings(registry: Registry, section: str, name: str, values: Mapping[str, Any],
                   none_taken: str = "no settings") -> Any:
    """The settings of entry ``name``: ``values`` over its standard ones, type-converted and
    checked; ``section`` names the config section in errors (``loss.tau=1: ...``)."""
    settings = settings_class(registry, name)
    takes = setting_names(registry, name)
    for key, value in values.items():
        if key not in takes:
            raise ConfigError(f"{section}.{key}={value!r}: {section}={name} has no such setting (it takes "
                              f"{', '.join(takes) or none_taken})")
    try:
        typed = OmegaConf.merge(OmegaConf.structured(settings), {"name": name, **values})
    except OmegaConfBaseException as e:
        expected = _field_type(settings, str(e.key))
        raise ConfigError(f"{section}.{e.key}={values.get(e.key)!r}: expected {expected}") from None
    return OmegaConf.to_object(typed)


def as_registered(registry: Registry, section: str, cfg: Any) -> Any:
    """``cfg`` (a settings dataclass) as its entry's own settings class, checked: a bare base
    class of the Python API takes the entry's standard values."""
    values = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "name"}
    return build_settings(registry, section, cfg.name, values)


def _field_type(settings: type, key: str) -> str:
    kind = next((str(f.type) for f in dataclasses.fields(settings) if f.name == key), "")
    return _TYPE_WORDS.get(kind, f"a value of type {kind}")
