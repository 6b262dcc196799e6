"""scripts/run_regularizer_study.sh at a tiny size: the online search learns the regularizers, the
retrain applies them (its model trained with the learned decay) from the exported file."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run_regularizer_study.sh"
TINY = ["data.num_samples=2000", "data.test_per_class=30", "data.n_max=170", "data.rho=10", "model.width=8",
        "optim.epochs=3", "device=cpu"]


def _stage(stage: str, out: Path, cache_dir: str, *values: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXP": "mnist1d_lt", "SEEDS": "0", "OUT": str(out), "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", str(SCRIPT), stage, *values, *TINY, f"data.cache_dir={cache_dir}"],
                          cwd=SCRIPT.parents[1], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # a training run in a subprocess
def test_the_retrain_applies_the_regularization_the_search_learned(tmp_path, cache_dir):
    for stage in ("search", "retrain"):
        proc = _stage(stage, tmp_path, cache_dir)
        assert proc.returncode == 0, proc.stderr[-3000:]
    online, retrained = tmp_path / "online_regularized" / "seed0", tmp_path / "terminal_regularized" / "seed0"
    learned = yaml.safe_load((online / "learned_loss.yaml").read_text())
    assert learned["learned_parts"] == ["scales", "weight_decay", "label_smoothing"]
    assert learned["exponents"]["weight_decay"] != [0.0] and learned["weight_decay"]["reference"] == 5e-4
    config = yaml.safe_load((retrained / "config.yaml").read_text())
    assert config["loss"]["name"] == "learned" and config["optim"]["weight_decay"] == 5e-4
    assert "val" not in json.loads((retrained / "metrics.json").read_text())


def test_a_vs_decay_stage_without_a_decay_is_refused_before_any_run(tmp_path, cache_dir):
    proc = _stage("vs_decay", tmp_path, cache_dir)
    assert proc.returncode != 0 and not (tmp_path / "vs_decay").exists()


@pytest.mark.slow  # a training run in a subprocess
def test_the_second_protocol_searches_the_smoothed_error_with_bounded_smoothing(tmp_path, cache_dir):
    for stage in ("search_ee", "retrain_ee"):
        proc = _stage(stage, tmp_path, cache_dir)
        assert proc.returncode == 0, proc.stderr[-3000:]
    online = tmp_path / "online_regularized_ee" / "seed0"
    config = yaml.safe_load((online / "config.yaml").read_text())
    assert config["objective"]["name"] == "expected_error" and config["search"]["family"]["smoothing_max"] == 0.05
    learned = yaml.safe_load((online / "learned_loss.yaml").read_text())
    assert learned["label_smoothing"]["max"] == 0.05
    retrained = yaml.safe_load((tmp_path / "terminal_regularized_ee" / "seed0" / "config.yaml").read_text())
    assert retrained["loss"]["path"] == str(online / "learned_loss.yaml")


@pytest.mark.slow  # a training run in a subprocess
def test_a_second_round_starts_from_the_first_rounds_loss_and_is_retrained(tmp_path, cache_dir):
    for stage in ("search_ee", "search_round2", "retrain_round2"):
        proc = _stage(stage, tmp_path, cache_dir)
        assert proc.returncode == 0, proc.stderr[-3000:]
    round1, round2 = (tmp_path / d / "seed0" for d in ("online_regularized_ee", "online_regularized_round2"))
    family = yaml.safe_load((round2 / "config.yaml").read_text())["search"]["family"]
    assert (family["init"], family["init_path"]) == ("learned", str(round1 / "learned_loss.yaml"))
    assert family["learn"] == ["scales", "weight_decay", "label_smoothing"]
    retrained = yaml.safe_load((tmp_path / "terminal_regularized_round2" / "seed0" / "config.yaml").read_text())
    assert retrained["loss"]["path"] == str(round2 / "learned_loss.yaml")


@pytest.mark.slow  # a training run in a subprocess
def test_label_aware_smoothing_runs_with_the_chosen_head_smoothing_and_no_tail_smoothing(tmp_path, cache_dir):
    proc = _stage("las", tmp_path, cache_dir, "0.2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    loss = yaml.safe_load((tmp_path / "las" / "seed0" / "config.yaml").read_text())["loss"]
    assert (loss["name"], loss["smooth_head"], loss["smooth_tail"]) == ("las", 0.2, 0.0)


@pytest.mark.slow  # a training run in a subprocess
def test_the_short_head_to_head_runs_the_four_methods_on_each_seed(tmp_path, cache_dir):
    proc = _stage("short", tmp_path, cache_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    configs = {d: yaml.safe_load((tmp_path / d / "seed0" / "config.yaml").read_text())
               for d in ("autobalance_regularized", "autobalance", "vs_tuned", "la_tuned")}
    assert configs["autobalance_regularized"]["search"]["family"]["learn"] == ["offsets", "weight_decay",
                                                                              "label_smoothing"]
    assert configs["autobalance"]["search"]["family"]["learn"] == ["offsets"]
    assert configs["vs_tuned"]["loss"] == {"name": "vs", "gamma": 0.05, "tau": 1.0}
    assert configs["la_tuned"]["loss"] == {"name": "la", "tau": 1.25}
