"""One run per directory: no mixing with an earlier run, no resuming under other settings."""

import dataclasses
import json

import pytest
import yaml
from conftest import Interrupted

from autobalance.config import ConfigError, RunConfig
from autobalance.losses.factory import loss_config
from autobalance.pipeline import run
from autobalance.run_dir import config_differences


def test_a_new_run_refuses_a_directory_holding_another_run(search_config, tmp_path):
    run(search_config, tmp_path / "run")
    before = (tmp_path / "run" / "metrics.json").read_text()
    search_config.seed = 1
    with pytest.raises(ConfigError, match="already holds a run .*metrics.json.*pass resume=true"):
        run(search_config, tmp_path / "run")
    assert (tmp_path / "run" / "metrics.json").read_text() == before
    assert "seed: 0" in (tmp_path / "run" / "config.yaml").read_text()


@pytest.mark.parametrize(("key", "value", "named"), [("seed", 5, "seed=0 (now 5)"),
                                                      ("model.width", 16, "model.width=8 (now 16)")])
def test_resume_refuses_settings_that_differ_from_the_run(search_config, tmp_path, key, value, named):
    run(search_config, tmp_path / "run")
    section, _, field = key.rpartition(".")
    setattr(getattr(search_config, section) if section else search_config, field, value)
    search_config.resume = True
    with pytest.raises(ConfigError, match=f"other settings: {named.replace('(', '[(]').replace(')', '[)]')}"):
        run(search_config, tmp_path / "run")


def test_resuming_the_retrain_keeps_the_search_epochs_in_the_log(search_config, tmp_path, stop_after):
    with pytest.raises(Interrupted):
        run(search_config, tmp_path / "run", epoch_callbacks=(stop_after("retrain", 2),))
    search_config.resume = True
    search_config.logger.progress = False  # a setting that may change on resume
    run(search_config, tmp_path / "run")
    phases = [json.loads(line)["phase"] for line in (tmp_path / "run" / "epochs.jsonl").read_text().splitlines()]
    assert phases == ["search"] * 2 + ["retrain"] * 4


def test_a_resume_under_other_code_keeps_the_version_that_started_the_run(tmp_path):
    from autobalance.run_dir import record_code_version

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert record_code_version(run_dir, "abc1234", resume=False) == ["abc1234"]
    assert record_code_version(run_dir, "abc1234", resume=True) == ["abc1234"]
    assert record_code_version(run_dir, "def5678-dirty", resume=True) == ["abc1234", "def5678-dirty"]
    assert json.loads((run_dir / "code_versions.json").read_text()) == ["abc1234", "def5678-dirty"]
    assert record_code_version(run_dir, "0f0f0f0", resume=False) == ["0f0f0f0"]  # a new run starts afresh


def test_a_run_finished_before_the_versions_file_resumes_with_its_own_version_first(tmp_path):
    from autobalance.run_dir import record_code_version

    (tmp_path / "metrics.json").write_text(json.dumps({"code_version": "abc1234"}))
    assert record_code_version(tmp_path, "def5678", resume=True) == ["abc1234", "def5678"]


def test_metrics_name_the_code_that_started_a_resumed_run(search_config, tmp_path, stop_after, monkeypatch):
    import autobalance.pipeline

    monkeypatch.setattr(autobalance.pipeline, "code_version", lambda: "abc1234")
    with pytest.raises(Interrupted):
        run(search_config, tmp_path / "run", epoch_callbacks=(stop_after("retrain", 1),))
    monkeypatch.setattr(autobalance.pipeline, "code_version", lambda: "def5678")
    search_config.resume = True
    metrics = run(search_config, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["code_version"] == saved["code_version"] == "abc1234"
    assert saved["resumed_with"] == ["def5678"]
    learned = yaml.safe_load((tmp_path / "run" / "learned_loss.yaml").read_text())
    assert learned["provenance"]["code_version"] == "abc1234"
    assert learned["provenance"]["resumed_with"] == ["def5678"]


def test_multirun_job_directories_stay_flat_and_short():
    from autobalance.run_dir import job_dirname

    assert job_dirname(3, "data.path=/some/dir/file.npz,seed=1") == "3_data.path=_some_dir_file.npz,seed=1"
    long = job_dirname(0, "data.path=/" + "x" * 300)
    assert len(long) <= 122 and "/" not in long
    assert long != job_dirname(0, "data.path=/" + "x" * 299 + "y")  # the hash keeps them apart
    assert job_dirname(7, "") == "7"


def test_the_sweep_uses_the_flat_job_directory_names():
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="autobalance.configs", version_base="1.3"):
        cfg = compose(config_name="config", return_hydra_config=True)
    from omegaconf import OmegaConf

    assert OmegaConf.to_container(cfg.hydra.sweep, resolve=False)["subdir"].startswith("${job_dirname:")


def test_a_run_saved_before_a_key_existed_resumes_as_it_ran(search_config, tmp_path):
    """A saved config without a key added since reads as the value that reproduces that run:
    search.folds=1 is today's default (resumes), augment_max_ratio=None is not (named)."""
    run(search_config, tmp_path / "run")
    config = tmp_path / "run" / "config.yaml"
    config.write_text("\n".join(line for line in config.read_text().splitlines()
                                if not line.strip().startswith(("folds:", "augment_max_ratio:"))) + "\n")
    search_config.resume = True
    with pytest.raises(ConfigError, match=r"search.family.augment_max_ratio=None \(now 2.0\)"):
        run(search_config, tmp_path / "run")
    search_config.search.family.augment_max_ratio = None
    assert run(search_config, tmp_path / "run")["test"]["balanced_error"] >= 0


def _hypersteps(run_dir):
    return [json.loads(line) for line in (run_dir / "hypersteps.jsonl").read_text().splitlines()]


def test_a_cross_fitted_search_resumed_in_its_second_fold_keeps_the_first_folds_hyper_steps(search_config, tmp_path,
                                                                                            stop_after):
    search_config.search.folds = 2
    run(search_config, tmp_path / "full")
    with pytest.raises(Interrupted):
        run(search_config, tmp_path / "cut", epoch_callbacks=(stop_after("search_fold1", 1),))
    search_config.resume = True
    run(search_config, tmp_path / "cut")
    full, cut = _hypersteps(tmp_path / "full"), _hypersteps(tmp_path / "cut")
    assert [(r["fold"], r["hyper_step"]) for r in cut] == [(r["fold"], r["hyper_step"]) for r in full]
    assert {r["fold"] for r in cut} == {0, 1} and all(r["phase"] == f"search_fold{r['fold']}" for r in cut)


def test_a_search_stopped_before_its_first_checkpoint_does_not_write_its_lines_twice(search_config, tmp_path,
                                                                                   monkeypatch):
    from autobalance.bilevel import BilevelSearch

    search_config.search.every = 2  # the third hyper-step comes in the first epoch, before any checkpoint
    run(search_config, tmp_path / "full")
    hyper_step = BilevelSearch.hyper_step

    def stop_at_the_third(self, trainer):
        if self.hyper_steps == 2:
            raise Interrupted
        return hyper_step(self, trainer)

    monkeypatch.setattr(BilevelSearch, "hyper_step", stop_at_the_third)
    with pytest.raises(Interrupted):
        run(search_config, tmp_path / "cut")
    assert len(_hypersteps(tmp_path / "cut")) == 2
    monkeypatch.setattr(BilevelSearch, "hyper_step", hyper_step)
    search_config.resume = True
    run(search_config, tmp_path / "cut")
    full, cut = _hypersteps(tmp_path / "full"), _hypersteps(tmp_path / "cut")
    assert [(r["hyper_step"], r["step"]) for r in cut] == [(r["hyper_step"], r["step"]) for r in full]
    assert [r["offsets"] for r in cut] == [r["offsets"] for r in full]


def test_a_run_saved_with_every_losss_placeholders_resumes_under_its_own_settings():
    """Runs saved before each loss owned its settings recorded a null for every other loss's key."""
    cfg = RunConfig(loss=loss_config("vs", gamma=0.1))
    saved = dataclasses.asdict(cfg)
    saved["loss"] = {**saved["loss"], "beta": None, "max_margin": None, "path": None}
    assert config_differences(saved, cfg) == []
    saved["loss"]["gamma"] = 0.2
    assert config_differences(saved, cfg) == ["loss.gamma=0.2 (now 0.1)"]


def test_a_run_saved_under_an_earlier_key_name_resumes_under_the_new_one():
    """Runs saved before the vocabulary change named the attribute column data.group_column."""
    cfg = RunConfig()
    cfg.data.attribute_column = "Male"
    saved = dataclasses.asdict(cfg)
    saved["data"]["group_column"] = saved["data"].pop("attribute_column")
    assert config_differences(saved, cfg) == []
    saved["data"]["group_column"] = "Young"
    assert config_differences(saved, cfg) == ["data.attribute_column='Young' (now 'Male')"]


def test_a_run_directory_belongs_to_one_run_and_a_dead_runs_lock_is_taken_over(tmp_path, capsys):
    import json
    import os
    import subprocess
    import sys

    from autobalance.run_dir import LOCK, lock_run_dir, unlock_run_dir

    lock = tmp_path / LOCK
    lock.write_text(json.dumps({"pid": os.getppid(), "host": __import__("socket").gethostname()}))
    with pytest.raises(ConfigError, match=f"is in use by process {os.getppid()}, a run still going"):
        lock_run_dir(tmp_path)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(json.dumps({"pid": int(ended.stdout), "host": __import__("socket").gethostname()}))
    assert lock_run_dir(tmp_path) == lock
    assert f"taking over the lock of process {int(ended.stdout)}" in capsys.readouterr().out
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    unlock_run_dir(lock)
    assert not lock.exists()


def test_a_run_releases_its_lock_when_it_ends(tiny_config, tmp_path):
    run(tiny_config, tmp_path)
    assert not (tmp_path / "run.lock").exists()
