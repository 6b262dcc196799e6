"""Command line: ``python -m autobalance.train [+experiment=NAME] [key=value ...]``."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from autobalance.config import ConfigError, load_config
from autobalance.data.errors import DataNotFoundError


@hydra.main(version_base="1.3", config_path="pkg://autobalance.configs", config_name="config")
def main(cfg: DictConfig) -> float:
    try:
        run_cfg = load_config(cfg)
    except ConfigError as e:
        print(f"autobalance: config error: {e}", file=sys.stderr)
        sys.exit(2)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    # the validated config: every default resolved (a loss's standard hyperparameters included)
    (out_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(run_cfg)))
    from autobalance.pipeline import run

    try:
        results = run(run_cfg, out_dir)
    except (DataNotFoundError, ValueError) as e:
        print(f"autobalance: error: {e}", file=sys.stderr)
        sys.exit(2)
    return results["test"]["balanced_error"]


if __name__ == "__main__":
    main()
