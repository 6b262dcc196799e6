"""scripts/run_default_recipe_check.sh at a tiny size: the main job runs with terminal_gamma and as it is."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run_default_recipe_check.sh"
TINY = ["data.num_samples=2000", "data.test_per_class=30", "data.n_max=170", "data.rho=10", "model.width=8",
        "optim.epochs=3", "device=cpu"]


@pytest.mark.slow  # a training run in a subprocess
def test_the_main_job_runs_with_terminal_gamma_and_with_the_default(tmp_path, cache_dir):
    env = {**os.environ, "OUT": str(tmp_path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", str(SCRIPT), "main_job", *TINY, f"data.cache_dir={cache_dir}"],
                          cwd=SCRIPT.parents[1], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    learns = {d: yaml.safe_load((tmp_path / "main_job" / d / "config.yaml").read_text())["search"]["family"]
              for d in ("terminal_gamma", "autobalance")}
    terminal = learns["terminal_gamma"]
    assert terminal["learn"] == ["scales"] and terminal["parametrization"] == "power_law"
    assert learns["autobalance"]["learn"] == ["offsets"]


def test_an_unknown_stage_is_refused(tmp_path):
    proc = subprocess.run(["bash", str(SCRIPT), "cifar"], cwd=SCRIPT.parents[1], capture_output=True, text=True)
    assert proc.returncode == 2 and "expected head_to_head or main_job" in proc.stderr
