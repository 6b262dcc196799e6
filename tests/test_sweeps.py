"""Sweep presets compose; a real multirun writes one directory per job and aggregates."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from autobalance.configure import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
BASELINES = sorted(p.stem for p in (CONFIGS / "baseline").glob("*.yaml"))
GRIDS = sorted(p.stem for p in (CONFIGS / "hparams_search").glob("*.yaml") if not p.stem.startswith("optuna"))


def _compose(overrides):
    with initialize_config_module(config_module="autobalance.configs", version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


@pytest.mark.parametrize("baseline", BASELINES)
def test_every_baseline_preset_is_a_valid_search_free_run(baseline):
    cfg = _compose(["+experiment=fashion_mnist_lt", f"+baseline={baseline}"])
    run_cfg = load_config({k: v for k, v in cfg.items() if k != "hydra"})
    assert not run_cfg.search.enabled
    expected = {"ldam_drw": "ldam", "group_balanced_sampling": "ce"}.get(baseline, baseline)
    assert run_cfg.loss.name == expected
    if baseline == "ldam_drw":
        assert run_cfg.schedule.name == "drw" and run_cfg.model.normalized_head
    if baseline == "group_balanced_sampling":
        assert run_cfg.data.sampler == "group_balanced"
    if baseline == "dfr":
        assert run_cfg.train_on_val is False


@pytest.mark.parametrize("grid", GRIDS)
def test_tuning_grids_have_at_least_five_values_and_tune_on_validation(grid):
    cfg = _compose(["+experiment=fashion_mnist_lt", f"+hparams_search={grid}"])
    params = cfg.hydra.sweeper.params
    if grid == "baselines":
        assert len(params["+baseline"].split(",")) == 8 and params.seed == "0,1,2"
        return
    assert max(len(str(v).split(",")) for v in params.values()) >= 5
    assert cfg.train_on_val is False


def test_launcher_presets_compose():
    cfg = _compose(["hydra/launcher=local"])
    assert cfg.hydra.launcher.n_jobs == 2
    cfg = _compose(["hydra/launcher=slurm"])
    assert cfg.hydra.launcher.gpus_per_node == 1


@pytest.mark.slow  # a training run in a subprocess
def test_multirun_tunes_on_validation_and_aggregates(tmp_path, cache_dir):
    sweep = tmp_path / "sweep"
    args = [sys.executable, "-m", "autobalance.train", "-m", "+hparams_search=tune_la", "loss.tau=0.5,1.5",
            "seed=0,1", "data.num_samples=2000", "data.test_per_class=30", "data.n_max=170", "data.rho=10",
            f"data.cache_dir={cache_dir}", "model.width=8", "optim.epochs=2", "device=cpu",
            "logger.progress=false", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HYDRA_FULL_ERROR": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = sorted(sweep.rglob("metrics.json"))
    assert len(metrics) == 4 and len({m.parent for m in metrics}) == 4
    assert all("val" in json.loads(m.read_text()) for m in metrics)

    spec = importlib.util.spec_from_file_location("aggregate", SCRIPTS / "aggregate.py")
    aggregate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(aggregate)
    table = aggregate.summarize(aggregate.collect(sweep))
    assert sorted(e["method"] for e in table) == ["la(tau=0.5)", "la(tau=1.5)"]
    (chosen,) = aggregate.best_by_validation(table)
    assert chosen["grid_size"] == 2 and chosen["best_method"] in ("la(tau=0.5)", "la(tau=1.5)")
    best = min(table, key=lambda e: e["val_balanced_error_mean"])
    assert chosen["best_method"] == best["method"]


def test_a_resumed_sweep_names_its_jobs_as_the_first_run_did():
    # job directories are named by the overrides, less these keys: resume=true must not rename them
    excluded = _compose(["seed=1", "resume=true"]).hydra.job.config.override_dirname.exclude_keys
    assert {"resume", "device", "logger"} <= set(excluded)
