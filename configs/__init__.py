"""Hydra config groups, shipped as ``autobalance.configs``.

Importing this package registers the typed schema (``autobalance.config.RunConfig``) as the
``schema`` node that ``config.yaml`` builds on, so every key can be overridden by name and
types are checked while Hydra composes. The ``data``, ``model``, ``loss`` and ``objective`` sections
are left open: the chosen part's own settings class (``register_data_source``, ``register_model``,
``register_loss``, ``register_objective``) checks their keys when the config is loaded, so
``loss.<key>=value`` (or ``data.``, ``model.``, ``objective.``) reaches a setting that no YAML file
lists, a plugin's too. The groups that only name a registered part (``loss=``, ``model=``,
``objective=``, ``+baseline=``, ``+hparams_search=tune_NAME``) are generated from the registries
(:mod:`autobalance.config_groups`).
"""

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from autobalance.config import RunConfig
from autobalance.config_groups import store_config_groups
from autobalance.run_dir import job_dirname, start_time

SCHEMA = OmegaConf.structured(RunConfig)
SCHEMA.loss = OmegaConf.create({"name": "ce"}, flags={"struct": False})
SCHEMA.model = OmegaConf.create({"name": "cnn1d"}, flags={"struct": False})
SCHEMA.data = OmegaConf.create({"name": "mnist1d"}, flags={"struct": False})
SCHEMA.objective = OmegaConf.create({"name": "balanced_ce"}, flags={"struct": False})
ConfigStore.instance().store(name="schema", node=SCHEMA)
store_config_groups()

OmegaConf.register_new_resolver(
    "run_label", lambda search_enabled, loss: "autobalance" if search_enabled else loss, replace=True
)
OmegaConf.register_new_resolver("job_dirname", job_dirname, replace=True)
OmegaConf.register_new_resolver("start_time", start_time, replace=True)
OmegaConf.register_new_resolver("fraction_of", lambda total, fraction: int(round(total * fraction)), replace=True)
"""``${fraction_of:${optim.epochs},0.7}``: a share of another length, as the search timings write theirs."""
