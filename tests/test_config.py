import pytest

from autobalance.config import ConfigError, load_config


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"data": {"rho": 0.5}}, "data.rho=0.5: expected a number >= 1"),
        ({"optim": {"lr": -0.1}}, "optim.lr=-0.1: expected a positive number"),
        ({"model": {"name": "vgg"}}, "model.name='vgg': expected one of resnet32"),
        ({"optim": {"lr": "fast"}}, "optim.lr: Value 'fast'"),
        ({"data": {"augmentation": "x"}}, "data.augmentation: Key 'augmentation' not in"),
        ({"loss": {"name": "learned"}}, "loss.path=None: expected a learned-loss file"),
        ({"schedule": {"name": "drw", "start_epoch": 50}, "optim": {"epochs": 10}},
         "schedule.start_epoch=50: expected < optim.epochs=10"),
        ({"search": {"anchor": -1.0}}, "search.anchor=-1.0: expected a non-negative number"),
        ({"search": {"damping": -0.1}}, "search.damping=-0.1: expected a non-negative number or null"),
    ],
)
def test_bad_values_give_one_line_errors_naming_key_value_and_allowed(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(override)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_defaults_are_valid_and_schedule_start_defaults_to_80_percent():
    cfg = load_config({"optim": {"epochs": 200}, "schedule": {"name": "drw"}})
    assert cfg.schedule.first_epoch(cfg.optim.epochs) == 160
