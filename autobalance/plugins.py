"""The user's own modules (``plugins=[my_losses]``): imported before the configuration is composed,
so that the parts they register are options of their config groups (``loss=my_loss``,
``+baseline=my_loss``) as the built-in ones are."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser

from autobalance.config import ConfigError


def plugins_in(overrides: Sequence[str]) -> list[str]:
    """The modules a command line's ``plugins=[...]`` names (none when it names none)."""
    named = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") == "plugins" and "=" in o]
    if not named:
        return []
    value = OverridesParser.create().parse_overrides(named[-1:])[0].value()
    return [str(m) for m in (value if isinstance(value, list) else [value])]


def import_plugins(modules: Sequence[str]) -> None:
    """Import each module (its parts register themselves), then store the config groups of every
    registered part (:mod:`autobalance.config_groups`)."""
    from autobalance.config_groups import store_config_groups

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(f"plugins: cannot import {module!r} ({err}); is its folder on PYTHONPATH?") from None
    store_config_groups()
