"""Sweep presets compose; a real multirun writes one directory per job and aggregates."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import autobalance.configs  # noqa: F401 - stores the groups generated from the registries
import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

from autobalance.configure import load_config

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _options(group):
    """A config group's options, YAML files and those generated from the registries alike."""
    with initialize_config_module(config_module="autobalance.configs", version_base="1.3"):
        return GlobalHydra.instance().config_loader().get_group_options(group)


BASELINES = _options("baseline")
GRIDS = [name for name in _options("hparams_search") if not name.startswith("optuna")]


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


TINY_MNIST1D = ["optim.epochs=1", "data.num_samples=3000", "data.test_per_class=50", "data.n_max=50", "data.rho=10",
                "logger.progress=false"]


@pytest.mark.slow  # two training runs under the Optuna sweeper
def test_the_optuna_preset_tunes_on_the_validation_objective_never_on_test(tmp_path, cache_dir):
    import yaml

    sweep = tmp_path / "sweep"
    proc = subprocess.run([sys.executable, "-m", "autobalance.train", "-m", "+hparams_search=optuna_vs",
                           "hydra.sweeper.n_trials=2", f"data.cache_dir={cache_dir}", *TINY_MNIST1D,
                           f"hydra.sweep.dir={sweep}"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    jobs = [json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")]
    assert len(jobs) == 2
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())["best_value"]
    assert best == min(j["val"]["objective_error"] for j in jobs)  # the validation objective's exact metric


@pytest.mark.slow  # a subprocess run of the command line: seconds each
def test_an_optimizing_sweep_refuses_a_run_that_trains_on_validation(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "autobalance.train", "-m", "+hparams_search=optuna_vs",
                           "hydra.sweeper.n_trials=1", "train_on_val=true", *TINY_MNIST1D,
                           f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "train_on_val=true: the final model trains on the validation split" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_job_returns_a_validation_metric_never_a_test_one():
    from autobalance.config import ConfigError
    from autobalance.train import optimized_value

    results = {"test": {"objective_error": 1.0, "balanced_error": 1.0},
               "val": {"objective_error": 30.0, "balanced_error": 20.0}}
    assert optimized_value(results, "objective_error") == 30.0
    assert optimized_value(results, "balanced_error") == 20.0
    assert optimized_value({"test": results["test"]}, "objective_error") is None
    with pytest.raises(ConfigError, match="optimized_metric='deo': expected a key of the validation metrics"):
        optimized_value(results, "deo")


@pytest.mark.slow  # two training runs in joblib workers
def test_a_joblib_sweep_writes_its_jobs_into_the_folder_it_prints_and_that_folder_aggregates(tmp_path, cache_dir):
    import re

    proc = subprocess.run([sys.executable, "-m", "autobalance.train", "-m", "hydra/launcher=local",
                           "hydra.launcher.n_jobs=2", "seed=0,1", "search=none", f"data.cache_dir={cache_dir}",
                           *TINY_MNIST1D], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = re.search(r"sweep output dir : (\S+)", proc.stdout + proc.stderr).group(1)
    sweep = tmp_path / printed
    assert len(list(sweep.glob("*/metrics.json"))) == 2
    assert [p.name for p in (tmp_path / "multirun").iterdir()] == [sweep.name]  # no second folder
    table = subprocess.run([sys.executable, str(SCRIPTS / "aggregate.py"), str(sweep), "--out", str(tmp_path / "t")],
                           capture_output=True, text=True, timeout=120)
    assert table.returncode == 0 and "| ce | 2 |" in table.stdout
