"""The config groups that only name a registered part come from the registries: a loss registered in
one module is ``loss=NAME``, ``+baseline=NAME`` and, with a grid, ``+hparams_search=tune_NAME``."""

import copy
from dataclasses import dataclass

import autobalance.configs  # noqa: F401 - stores the built-in parts' groups
import pytest
from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.plugins import Plugins

from autobalance.config import LossConfig
from autobalance.config_groups import store_config_groups
from autobalance.configure import load_config
from autobalance.losses.factory import LOSSES
from autobalance.losses.family import ParametricLoss
from autobalance.plugins import import_plugins, plugins_in


def _compose(overrides):
    with initialize_config_module(config_module="autobalance.configs", version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


def _options(group):
    with initialize_config_module(config_module="autobalance.configs", version_base="1.3"):
        return GlobalHydra.instance().config_loader().get_group_options(group)


@pytest.fixture
def toy_loss(monkeypatch):
    """A loss registered as a plugin would register it, withdrawn (registry and store) afterwards."""
    Plugins.instance()  # hydra stores its own groups once, at first use: snapshot after them
    store = ConfigStore.instance()
    saved = copy.deepcopy(store.repo)

    @dataclass
    class ToyConfig(LossConfig):
        sharpness: float = 1.0

    def builder(cfg, counts, cell_counts):
        return ParametricLoss(len(counts), learn=(), scales=[cfg.sharpness] * len(counts))

    monkeypatch.setitem(LOSSES._builders, "toy", builder)
    monkeypatch.setitem(LOSSES._metadata, "toy", {"settings": ToyConfig, "grid": {"sharpness": "0.5,1,2"},
                                                  "baseline_values": {"optim": {"weight_decay": 0.001}}})
    store_config_groups()
    yield "toy"
    store.repo = saved


def test_a_registered_loss_is_a_loss_a_baseline_and_a_tuning_grid(toy_loss):
    assert "toy" in _options("loss") and "toy" in _options("baseline") and "tune_toy" in _options("hparams_search")
    run = load_config({k: v for k, v in _compose(["search=none", "loss=toy", "loss.sharpness=3"]).items()
                       if k != "hydra"})
    assert run.loss.name == "toy" and run.loss.sharpness == 3.0
    baseline = _compose(["+baseline=toy"])
    assert baseline.search.enabled is False and baseline.loss.name == "toy" and baseline.optim.weight_decay == 0.001
    tune = _compose(["+hparams_search=tune_toy"])
    assert dict(tune.hydra.sweeper.params) == {"loss.sharpness": "0.5,1,2"}
    assert tune.train_on_val is False and tune.search.enabled is False


def test_the_built_in_presets_keep_their_extras():
    ldam = _compose(["+baseline=ldam_drw"])
    assert (ldam.loss.name, ldam.schedule.name, ldam.model.normalized_head) == ("ldam", "drw", True)
    assert _compose(["+baseline=dfr"]).train_on_val is False
    assert _compose(["+baseline=group_dro"]).optim.weight_decay == 1.0e-3
    assert list(_compose(["+hparams_search=tune_vs"]).hydra.sweeper.params) == ["loss.gamma", "loss.tau"]
    assert "learned" in _options("loss") and "learned" not in _options("baseline")
    assert dict(_compose(["objective=blend"]).objective.weights) == {"balanced_ce": 0.7, "worst_class": 0.3}
    assert set(_options("model")) >= {"cnn1d", "cnn28", "mlp", "resnet8", "resnet32"}


def test_the_command_line_names_its_plugins():
    assert plugins_in(["seed=1", "plugins=[a,b.c]"]) == ["a", "b.c"]
    assert plugins_in(["+plugins=m"]) == ["m"]
    assert plugins_in(["seed=1"]) == []


def test_a_plugin_that_cannot_be_imported_is_named():
    with pytest.raises(ValueError, match="plugins: cannot import 'no_such_module'"):
        import_plugins(["no_such_module"])
