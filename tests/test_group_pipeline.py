"""Runs on a small spurious-correlation benchmark: group metrics and files, the group baselines
and a fairness-aware search, end to end."""

import csv
import json

import pytest
import yaml

from autobalance.config import (
    ConfigError,
    DataConfig,
    FamilyConfig,
    HypergradConfig,
    LoggerConfig,
    LossConfig,
    ObjectiveConfig,
    OptimConfig,
    RunConfig,
    SearchConfig,
    SpuriousConfig,
)
from autobalance.losses.factory import loss_config
from autobalance.models import model_config
from autobalance.pipeline import run


@pytest.fixture
def data_dirs(cache_dir, fashion_mnist_dir) -> tuple[str, str]:
    """The shared cache and the small Fashion-MNIST stand-in every run here reads."""
    return cache_dir, fashion_mnist_dir


def _config(dirs: tuple[str, str], **changes) -> RunConfig:
    cache_dir, fashion = dirs
    cfg = RunConfig(
        device="cpu", train_on_val=False,
        data=DataConfig(name="spurious_fashion", path=fashion, profile="none", batch_size=64, cache_dir=cache_dir,
                        spurious=SpuriousConfig(train_size=480, val_size=160, test_size=160)),
        model=model_config("cnn28", width=4),
        optim=OptimConfig(lr=0.05, epochs=2, warmup_epochs=0),
        logger=LoggerConfig(progress=False),
    )
    for key, value in changes.items():
        setattr(cfg, key, value)
    return cfg


def test_erm_reports_groups_fairness_gaps_and_a_per_group_csv(data_dirs, tmp_path):
    result = run(_config(data_dirs), tmp_path)
    test = result["test"]
    for key in ("worst_group_error", "average_group_error", "worst_attribute_error", "deo",
                "equalized_odds_difference", "demographic_parity_difference"):
        assert key in test and key in json.loads((tmp_path / "metrics.json").read_text())["test"]
    rows = list(csv.DictReader(open(tmp_path / "per_group.csv")))
    assert [(r["attribute"], r["class"]) for r in rows] == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]
    assert [int(r["train_count"]) for r in rows] == [228, 12, 12, 228]
    assert min(float(r["test_accuracy"]) for r in rows) == pytest.approx(1 - test["worst_group_error"] / 100)


def test_a_runs_saved_predictions_give_fairlearns_gaps(data_dirs, tmp_path):
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    result = run(_config(data_dirs), tmp_path)
    rows = list(csv.DictReader(open(tmp_path / "test_predictions.csv")))
    assert len(rows) == 160
    y, pred, a = ([int(r[k]) for r in rows] for k in ("label", "prediction", "attribute"))
    names = json.loads((tmp_path / "data_summary.json").read_text())["class_names"]
    assert [r["label_name"] for r in rows] == [names[t] for t in y]  # the classes as the data names them
    assert [r["prediction_name"] for r in rows] == [names[p] for p in pred]
    assert result["test"]["equalized_odds_difference"] == pytest.approx(
        100 * equalized_odds_difference(y, pred, sensitive_features=a))
    assert result["test"]["demographic_parity_difference"] == pytest.approx(
        100 * demographic_parity_difference(y, pred, sensitive_features=a))
    assert result["test"]["error"] == pytest.approx(100 * sum(p != t for p, t in zip(pred, y, strict=True)) / len(y))


def test_jtt_trains_an_identification_model_then_upsamples_its_errors(data_dirs, tmp_path):
    result = run(_config(data_dirs, loss=loss_config("jtt", upweight=3, identification_epochs=1)), tmp_path)
    jtt = result["jtt"]
    assert jtt["identification_epochs"] == 1 and jtt["training_examples"] == 480
    assert set(result["phase_seconds"]) == {"identify", "train"}
    epochs = [json.loads(line) for line in (tmp_path / "epochs.jsonl").read_text().splitlines()]
    assert [e["phase"] for e in epochs] == ["identify", "train", "train"]
    assert epochs[1]["images_per_second"] * epochs[1]["seconds"] == pytest.approx(480 + 2 * jtt["errors"], abs=64)


def test_dfr_refits_the_last_layer_on_the_validation_split(data_dirs, tmp_path):
    result = run(_config(data_dirs, loss=LossConfig(name="dfr")), tmp_path)
    assert result["dfr"]["held_out_examples"] == 160 and "dfr" in result["phase_seconds"]
    with pytest.raises(ConfigError, match="train_on_val=false"):
        run(_config(data_dirs, loss=LossConfig(name="dfr"), train_on_val=True), tmp_path / "merged")


def test_search_for_a_fairness_trade_off_learns_group_tables(data_dirs, tmp_path):
    search = SearchConfig(enabled=True, epochs=2, warmup_epochs=0, every=3, compare_with=[],
                          val_sampler="group_balanced",
                          hypergrad=HypergradConfig(method="identity"),
                          family=FamilyConfig(learn=["offsets"], init="uniform"))
    objective = ObjectiveConfig(name="trade_off", accuracy="group_balanced", fairness="deo", fairness_weight=0.5)
    result = run(_config(data_dirs, search=search, objective=objective), tmp_path)
    assert result["hyper_steps"] > 0 and "deo" in result["test"]
    learned = yaml.safe_load((tmp_path / "learned_loss.yaml").read_text())
    assert learned["num_attribute_values"] == 2 and [len(row) for row in learned["offsets"]] == [2, 2]
    assert learned["offsets"][0] != learned["offsets"][1]  # the backgrounds learned different rows
