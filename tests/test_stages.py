"""A run in stages: ``stage=search`` exports a loss and never reads test, ``stage=retrain`` trains with
a learned-loss file, ``stage=evaluate`` evaluates a finished run's final model again."""

import dataclasses
import json

import pytest

from autobalance.config import ConfigError, SearchConfig
from autobalance.losses.factory import loss_config
from autobalance.pipeline import run


def _metrics(path):
    return json.loads((path / "metrics.json").read_text())


def test_evaluate_reads_a_finished_run_back_to_its_numbers(tiny_config, tmp_path):
    tiny_config.search.enabled = False
    tiny_config.optim.epochs = 1
    first = run(tiny_config, tmp_path / "trained")
    again = run(dataclasses.replace(tiny_config, stage="evaluate", from_run=str(tmp_path / "trained")),
                tmp_path / "evaluated")
    assert again["test"]["per_class_accuracy"] == first["test"]["per_class_accuracy"]
    assert again["test"]["balanced_error"] == first["test"]["balanced_error"]
    assert (tmp_path / "evaluated" / "test_predictions.csv").read_text() == \
        (tmp_path / "trained" / "test_predictions.csv").read_text()
    assert again["evaluated"].endswith("checkpoints/train.pt")


def test_evaluate_names_a_directory_without_a_run(tiny_config, tmp_path):
    with pytest.raises(ValueError, match="no config.yaml there"):
        run(dataclasses.replace(tiny_config, stage="evaluate", from_run=str(tmp_path)), tmp_path / "out")


@pytest.mark.slow  # three tiny searches and retrains
def test_search_then_retrain_is_the_whole_run(tiny_config, tmp_path):
    """The stages compose: each phase's model starts from the seed's initialization and batch order."""
    tiny_config.search = SearchConfig(enabled=True, epochs=2, warmup_epochs=0, every=2, compare_with=[])
    whole = run(tiny_config, tmp_path / "whole")
    searched = run(dataclasses.replace(tiny_config, stage="search"), tmp_path / "search")
    assert "test" not in searched and "val" in searched
    assert not (tmp_path / "search" / "test_predictions.csv").exists()
    learned = loss_config("learned", path=searched["learned_loss"])
    retrained = run(dataclasses.replace(tiny_config, stage="retrain", loss=learned), tmp_path / "retrain")
    assert retrained["method"] == "learned"
    assert retrained["test"]["balanced_error"] == pytest.approx(whole["test"]["balanced_error"], abs=1e-9)


def test_the_stages_check_what_they_need(tiny_config):
    with pytest.raises(ConfigError, match="stage='resume': expected one of all, search, retrain, evaluate"):
        dataclasses.replace(tiny_config, stage="resume")
    with pytest.raises(ConfigError, match="expected learned when stage=retrain"):
        dataclasses.replace(tiny_config, stage="retrain")
    with pytest.raises(ConfigError, match="from_run=None: expected a run directory exactly when stage=evaluate"):
        dataclasses.replace(tiny_config, stage="evaluate")
