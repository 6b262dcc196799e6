"""Class-conditional label noise on the training split only, from the run's seed, recorded."""

import dataclasses

import numpy as np
import pytest

from autobalance.config import ConfigError, LabelNoiseConfig
from autobalance.data.build import build_data
from autobalance.data.label_noise import flip_labels, noise_rates, noisy_classes

NAMES = ["a", "b", "c", "d"]
COUNTS = [400, 200, 100, 50]


def test_the_classes_noise_reaches_by_name_index_or_frequency_rank():
    assert noisy_classes(None, COUNTS, NAMES) == [0, 1, 2, 3]
    assert noisy_classes("largest:2", COUNTS, NAMES) == [0, 1]
    assert noisy_classes("smallest:1", COUNTS, NAMES) == [3]
    assert noisy_classes(["c", 0], COUNTS, NAMES) == [0, 2]
    assert noise_rates(LabelNoiseConfig(rate=0.4, classes="largest:2"), COUNTS, NAMES) == [0.4, 0.4, 0.0, 0.0]
    assert noise_rates(LabelNoiseConfig(rate=[0.1, 0, 0, 0.3]), COUNTS, NAMES) == [0.1, 0.0, 0.0, 0.3]


@pytest.mark.parametrize(("cfg", "message"), [
    (LabelNoiseConfig(rate=0.4, classes="largest:9"), "largest:N or smallest:N with N in"),
    (LabelNoiseConfig(rate=0.4, classes=["e"]), "'e': expected a class name"),
    (LabelNoiseConfig(rate=[0.1, 0.2]), "4 numbers"),
    (LabelNoiseConfig(rate=1.5), r"rates in \[0, 1\]"),
    (LabelNoiseConfig(rate=0.1, flip_to={"a": "a"}), "other than itself"),
])
def test_bad_noise_settings_are_refused_naming_the_key(cfg, message):
    from autobalance.data.label_noise import confusable

    with pytest.raises(ConfigError, match=f"data.label_noise.*{message}"):
        noise_rates(cfg, COUNTS, NAMES)
        confusable(cfg.flip_to, NAMES)


def test_uniform_flips_go_to_other_classes_at_the_rate_and_a_confusable_flip_to_its_class():
    y = np.repeat(np.arange(4), 5000)
    noisy = flip_labels(y, [0.4, 0.0, 0.2, 0.0], None, seed=3)
    flipped = noisy != y
    assert abs(flipped[y == 0].mean() - 0.4) < 0.02 and abs(flipped[y == 2].mean() - 0.2) < 0.02
    assert not flipped[(y == 1) | (y == 3)].any()
    assert set(np.unique(noisy[flipped & (y == 0)])) == {1, 2, 3}  # uniform over the other classes
    to_d = flip_labels(y, [0.4, 0.0, 0.2, 0.0], {0: 3}, seed=3)
    assert set(np.unique(to_d[to_d != y])) == {3}  # class 2 has no confusable class: it keeps its labels
    assert np.array_equal(flip_labels(y, [0.4, 0, 0.2, 0], None, seed=3), noisy)  # the seed fixes the flips


def test_noise_touches_the_training_split_alone_and_is_recorded(tiny_config):
    clean = build_data(tiny_config.data, seed=0)
    cfg = dataclasses.replace(tiny_config.data, label_noise=LabelNoiseConfig(rate=0.5, classes="largest:3"))
    noisy = build_data(cfg, seed=0)
    assert np.array_equal(noisy.train.x.numpy(), clean.train.x.numpy())
    assert np.array_equal(noisy.val.y.numpy(), clean.val.y.numpy())
    assert np.array_equal(noisy.test.y.numpy(), clean.test.y.numpy())
    changed = (noisy.train.y != clean.train.y).numpy()
    record = noisy.summary["label_noise"]
    assert record["rates"][:4] == [0.5, 0.5, 0.5, 0.0] and record["seed"] == 0
    assert record["flipped"] == np.bincount(clean.train.y.numpy()[changed], minlength=10).tolist()
    assert 0 < sum(record["flipped"]) and noisy.train_counts != clean.train_counts  # the counts the data shows
    assert "label_noise" not in clean.summary
