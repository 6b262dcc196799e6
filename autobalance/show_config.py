"""Every setting a run would use, with its typed default, as YAML:
``python -m autobalance.show_config [+experiment=NAME] [key=value ...]`` composes the
configuration as ``python -m autobalance.train`` does and prints the validated result (Hydra's
``--cfg job`` prints only what the YAML files set; the typed defaults of the chosen data source,
model, loss and objective live in their settings classes)."""

from __future__ import annotations

import dataclasses
import sys

from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from autobalance.config import ConfigError
from autobalance.configure import load_config
from autobalance.legacy import renamed
from autobalance.plugins import import_plugins, plugins_in


def resolved_settings(overrides: list[str]) -> str:
    """The validated configuration of ``overrides`` as YAML."""
    overrides = [renamed(o) for o in overrides]
    import_plugins(plugins_in(overrides))
    with initialize_config_module(config_module="autobalance.configs", version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    run_cfg = load_config(cfg)
    return OmegaConf.to_yaml(OmegaConf.create(dataclasses.asdict(run_cfg)))


def main() -> None:
    try:
        print(resolved_settings(sys.argv[1:]), end="")
    except ConfigError as e:
        print(f"autobalance: config error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
