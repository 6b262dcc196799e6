"""The Hydra config groups that only name a registered part, generated from the registries:
``loss=NAME``, ``model=NAME``, ``objective=NAME``, ``+baseline=NAME`` (the loss without a search)
and ``+hparams_search=tune_NAME`` (its validation grid). A part registered in one module, a
plugin's included, is then reachable by name with no YAML file; a part whose preset has values of
its own (``objective=blend``) keeps its YAML file under ``configs/``, and nothing is generated
beside it.

What a loss's registration may add (``register_loss`` metadata):

- ``config``: values its ``loss=NAME`` sets beside ``loss.name`` (LDAM's cosine head:
  ``{"model": {"normalized_head": True}}``);
- ``baselines``: its ``+baseline`` presets by name, each the config groups it overrides beside
  ``search: none`` and ``loss: NAME`` (default ``{NAME: {}}``; ``{}`` for none, as for a loss
  that needs a file);
- ``baseline_values``: settings every baseline preset of it sets (DFR: ``train_on_val: false``);
- ``grid``: its hyperparameters' validation grid, ``{"gamma": "0.05,0.1,0.2"}``, which makes
  ``+hparams_search=tune_BASELINE`` for each of its baselines (trained on the training split
  alone, ``train_on_val: false``; ``scripts/aggregate.py --tuning`` picks the value).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from hydra.core.config_store import ConfigStore

from autobalance.losses.factory import LOSSES
from autobalance.models import MODELS
from autobalance.objectives import OBJECTIVES


def store_config_groups() -> None:
    """Store every registered part's config groups (again after a plugin registered more)."""
    store = ConfigStore.instance()
    for group, registry in (("model", MODELS), ("objective", OBJECTIVES)):
        for name in set(registry.names()) - _yaml_presets(group):
            store.store(group=group, name=name, node={"name": name})
    for name in LOSSES:
        _store_loss(store, name, LOSSES.metadata(name))


def _store_loss(store: ConfigStore, name: str, metadata: dict[str, Any]) -> None:
    extra = metadata.get("config", {})
    if extra:
        store.store(group="loss", name=name, package="_global_", node={"loss": {"name": name}, **extra})
    else:
        store.store(group="loss", name=name, node={"name": name})
    values = metadata.get("baseline_values", {})
    grid = metadata.get("grid")
    for baseline, groups in metadata.get("baselines", {name: {}}).items():
        defaults = [{"override /search": "none"}, {"override /loss": name},
                    *({f"override /{group}": option} for group, option in groups.items())]
        store.store(group="baseline", name=baseline, package="_global_", node={"defaults": defaults, **values})
        if grid:
            params = {f"loss.{key}": options for key, options in grid.items()}
            store.store(group="hparams_search", name=f"tune_{baseline}", package="_global_",
                        node={"defaults": defaults, **values, "train_on_val": False,
                              "hydra": {"sweeper": {"params": params}}})


def _yaml_presets(group: str) -> set[str]:
    """The options of ``group`` that ``configs/`` holds as YAML files."""
    folder = files("autobalance.configs") / group
    return {entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml")} \
        if folder.is_dir() else set()
