"""scripts/run_recipe_study.sh at a tiny size: stage 1's online search exports a loss that
stage 2 retrains with, one run directory per seed; each candidate learns its own parts."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run_recipe_study.sh"
TINY = ["data.num_samples=2000", "data.test_per_class=30", "data.n_max=170", "data.rho=10", "model.width=8",
        "optim.epochs=3", "device=cpu"]


def _stage(stage: str, out: Path, cache_dir: str, candidate: str = "scales") -> subprocess.CompletedProcess:
    env = {**os.environ, "EXP": "mnist1d_lt", "SEEDS": "0", "OUT": str(out), "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", str(SCRIPT), stage, candidate, *TINY, f"data.cache_dir={cache_dir}"],
                          cwd=SCRIPT.parents[1], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # a training run in a subprocess
def test_stage_two_retrains_on_all_the_data_with_the_loss_stage_one_learned(tmp_path, cache_dir):
    for stage in ("1", "2"):
        proc = _stage(stage, tmp_path, cache_dir)
        assert proc.returncode == 0, proc.stderr[-3000:]
    online, retrained = tmp_path / "online_scales" / "seed0", tmp_path / "terminal_scales" / "seed0"
    learned = yaml.safe_load((online / "learned_loss.yaml").read_text())
    assert learned["exponents"]["offsets"] == [1.0] and learned["exponents"]["scales"] != [0.0]  # gamma alone
    online_metrics = json.loads((online / "metrics.json").read_text())
    assert "val" in online_metrics and set(online_metrics["phase_seconds"]) == {"search"}
    config = yaml.safe_load((retrained / "config.yaml").read_text())
    assert config["loss"]["name"] == "learned" and Path(config["loss"]["path"]).resolve() == \
        (online / "learned_loss.yaml").resolve()
    assert "val" not in json.loads((retrained / "metrics.json").read_text())  # trained on train + validation


@pytest.mark.slow  # a training run in a subprocess
def test_the_richer_candidates_learn_their_parts_with_the_offsets_held_at_las(tmp_path, cache_dir):
    for candidate in ("class_scales", "scales_weights"):
        proc = _stage("1", tmp_path, cache_dir, candidate)
        assert proc.returncode == 0, proc.stderr[-3000:]
    per_class = yaml.safe_load((tmp_path / "online_class_scales" / "seed0" / "learned_loss.yaml").read_text())
    assert per_class["parametrization"] == "per_class" and per_class["learned_parts"] == ["scales"]
    log_prior = np.log(np.asarray(per_class["train_counts"], dtype=float))
    np.testing.assert_allclose(per_class["offsets"][0], log_prior - log_prior.mean(), atol=1e-5)  # LA, tau 1
    assert not np.allclose(per_class["scales"][0], 1.0)
    exponents = yaml.safe_load((tmp_path / "online_scales_weights" / "seed0" / "learned_loss.yaml").read_text())
    assert exponents["learned_parts"] == ["scales", "weights"] and exponents["exponents"]["offsets"] == [1.0]
    assert exponents["exponents"]["scales"] != [0.0] and exponents["exponents"]["weights"] != [0.0]
