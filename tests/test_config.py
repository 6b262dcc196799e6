import dataclasses

import pytest

from autobalance.config import ConfigError, LossConfig
from autobalance.configure import load_config
from autobalance.losses.factory import LOSSES, hyperparameters, loss_config


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"data": {"rho": 0.5}}, "data.rho=0.5: expected a number >= 1"),
        ({"optim": {"lr": -0.1}}, "optim.lr=-0.1: expected a positive number"),
        ({"model": {"name": "vgg"}}, "model.name='vgg': expected one of resnet32"),
        ({"optim": {"lr": "fast"}}, "optim.lr: Value 'fast'"),
        ({"data": {"augmentation": "x"}}, "data.augmentation: unknown key (no such setting in data)"),
        ({"foo": 1}, "foo: unknown key (no such setting in the top level)"),
        ({"search": {"typo_lr": 3}}, "search.typo_lr: unknown key (no such setting in search)"),
        ({"loss": {"name": "learned"}}, "loss.path=None: expected a learned-loss file"),
        ({"search": {"family": {"init": "learned"}}},
         "search.family.init_path=None: expected a learned-loss file when search.family.init=learned"),
        ({"schedule": {"name": "drw", "start_epoch": 50}, "optim": {"epochs": 10}},
         "schedule.start_epoch=50: expected < optim.epochs=10"),
        ({"search": {"outer": {"anchor": -1.0}}}, "search.outer.anchor=-1.0: expected a non-negative number"),
        ({"objective": {"final_temperature": 0.1}},
         "objective.final_temperature=0.1: expected null for objective=balanced_ce, which has no temperature"),
        ({"search": {"outer": {"prior_width": 0.0}}},
         "search.outer.prior_width=0.0: expected a positive number or null"),
        ({"search": {"outer": {"prior_width": 0.5, "anchor": 0.3}}},
         "search.outer.prior_width=0.5: expected null unless search.outer.clip is set"),
        ({"search": {"outer": {"prior_width": 0.5, "clip": None}}},
         "search.outer.prior_width=0.5: expected null unless search.outer.clip is set"),
        ({"search": {"hypergrad": {"damping": -0.1}}},
         "search.hypergrad.damping=-0.1: expected a non-negative number or null"),
        ({"search": {"outer_lr": 0.1}}, "search.outer_lr: renamed to search.outer.lr"),
        ({"optim": {"schedule": "step"}}, "optim.schedule: renamed to optim.lr_schedule"),
        ({"optim": {"lr_schedule": "linear"}}, "optim.lr_schedule='linear': expected one of constant, step, cosine"),
        ({"loss": {"name": "balanced_softmax", "tau": 1.5}},
         "loss.tau=1.5: loss=balanced_softmax has no such setting (it takes no hyperparameters)"),
        ({"loss": {"name": "focal", "tau": 2.0}}, "loss.tau=2.0: loss=focal has no such setting (it takes gamma)"),
        ({"loss": {"name": "focal", "gamma": -0.5}}, "loss.gamma=-0.5: expected >= 0"),
        ({"loss": {"name": "vs", "gamma": "high"}}, "loss.gamma='high': expected a number"),
        ({"loss": {"name": "no_such_loss"}}, "loss.name='no_such_loss': expected one of ce, focal"),
        ({"search": {"family": {"learn": ["offsets", "margins"]}}},
         "search.family.learn=['offsets', 'margins']: expected a subset of scales, offsets, weights, "
         "augment"),
        ({"search": {"family": {"augment_ops": ["rotate"]}}},
         "search.family.augment_ops=['rotate']: expected operations among translate, scale, noise"),
        ({"search": {"family": {"augment_bounds": {"noise": -1.0}}}},
         "search.family.augment_bounds={'noise': -1.0}: expected positive largest magnitudes"),
        ({"search": {"family": {"augment_max_ratio": 0.5}}},
         "search.family.augment_max_ratio=0.5: expected a number >= 1 or null"),
        ({"search": {"family": {"parametrization": "tied"}}},
         "search.family.parametrization='tied': expected one of per_class, power_law"),
        ({"search": {"family": {"parametrization": "power_law", "cluster_size": 2}}},
         "search.family.parametrization='power_law': expected per_class with search.family.cluster_size=2"),
        ({"search": {"enabled": True, "folds": 0}}, "search.folds=0: expected an integer >= 1"),
        ({"search": {"enabled": True, "folds": 3}, "train_on_val": False},
         "search.folds=3: expected 1 unless search.retrain=true"),
    ],
)
def test_bad_values_give_one_line_errors_naming_key_value_and_allowed(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(override)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_learning_augmentation_is_a_valid_search():
    cfg = load_config({"search": {"family": {"learn": ["offsets", "augment"], "augment_ops": ["translate", "noise"],
                                             "augment_bounds": {"noise": 0.2}}}})
    assert cfg.search.family.learn == ["offsets", "augment"] and cfg.search.family.augment_bounds == {"noise": 0.2}


def test_defaults_are_valid_and_schedule_start_defaults_to_80_percent():
    cfg = load_config({"optim": {"epochs": 200}, "schedule": {"name": "drw"}})
    assert cfg.schedule.first_epoch(cfg.optim.epochs) == 160


@pytest.mark.parametrize("loss", sorted(set(LOSSES.names()) - {"learned"}))
def test_the_python_api_gives_every_loss_the_same_hyperparameters_as_the_cli(loss):
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="autobalance.configs", version_base="1.3"):
        cli = load_config(compose(config_name="config", overrides=["search=none", f"loss={loss}"])).loss
    api = loss_config(loss)  # what build_loss uses
    assert api == cli and type(api) is LOSSES.metadata(loss)["settings"]
    standard = {f.name: f.default_factory() if f.default is dataclasses.MISSING else f.default
                for f in dataclasses.fields(type(api))}
    assert all(getattr(api, key) == standard[key] for key in hyperparameters(loss))


def test_focal_through_the_python_api_is_focal_not_cross_entropy():
    import torch

    from autobalance.losses.factory import build_loss

    z, y = torch.randn(16, 3, generator=torch.Generator().manual_seed(0)), torch.arange(16) % 3
    focal = build_loss(LossConfig(name="focal"), [10, 5, 2])(z, y)
    ce = build_loss(LossConfig(name="ce"), [10, 5, 2])(z, y)
    assert focal < ce  # (1 - p)^1 < 1 shrinks every term


@pytest.mark.parametrize(("recipe", "epochs", "first", "retrain"),
                         [("terminal", 60, 42, True), ("official_timing", 90, 36, True),
                          ("terminal_forward", 60, 42, True), ("online", 60, 42, False),
                          ("terminal_gamma", 60, 42, True)])
def test_the_search_timings_are_shares_of_the_training_length(recipe, epochs, first, retrain):
    from hydra import compose, initialize_config_module

    from autobalance.configure import load_config

    with initialize_config_module("autobalance.configs", version_base="1.3"):
        overrides = ["+experiment=fashion_mnist_lt_interpolation", f"search={recipe}"]
        cfg = load_config(compose("config", overrides=overrides))
    s = cfg.search
    assert s.enabled and s.search_epochs(cfg.optim.epochs) == epochs and s.first_hyper_epoch(cfg.optim.epochs) == first
    assert s.retrain is retrain
    if recipe == "terminal_gamma":  # VS's scale exponent alone, from LA
        assert (s.family.learn, s.family.init, s.family.parametrization) == (["scales"], "la", "power_law")
