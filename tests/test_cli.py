"""The command line as a user runs it: a subprocess from an unrelated directory."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_module

from autobalance.configure import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SHARED_CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg.tar.gz"
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))


def _train(args, cwd, timeout=300):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, "-m", "autobalance.train", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _tiny_mnist1d(cache_dir):
    return ["data.num_samples=2000", "data.test_per_class=30", "data.n_max=170", "data.rho=10",
            f"data.cache_dir={cache_dir}", "model.width=8", "optim.epochs=2", "device=cpu"]


@pytest.mark.slow  # a training run in a subprocess
def test_main_job_searches_retrains_and_writes_everything(tmp_path, cache_dir):
    out = tmp_path / "run"
    proc = _train([*_tiny_mnist1d(cache_dir), "search.epochs=1", "search.warmup_epochs=0", "search.every=2",
                   f"hydra.run.dir={out}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["test"]["balanced_error"] <= 100 and {"la_test", "ce_test"} <= set(metrics)
    assert set(metrics["phase_seconds"]) == {"search", "retrain", "la", "ce"}
    gap = metrics["test"]["balanced_error"] - metrics["la_test"]["balanced_error"]
    assert f"LA balanced_error: {metrics['la_test']['balanced_error']:.2f} % (learned loss {gap:+.2f}" in proc.stdout
    assert metrics["hyper_steps"] > 0 and metrics["method"] == "autobalance-last_layer"
    for line in ("balanced_error", "learned loss:", "plots:"):
        assert line in proc.stdout
    first = proc.stdout.splitlines()[:2]  # said before training starts
    assert first[0] == f"run directory: {out}" and first[1].startswith("data: mnist1d, 10 classes; train ")
    for name in ("config.yaml", "epochs.jsonl", "hypersteps.jsonl", "learned_loss.yaml",
                 "hyperparameters.png", "per_class_accuracy.png", "per_class.csv"):
        assert (out / name).exists(), name
    assert not (out / "train.log").exists()  # Hydra's job log file would stay empty
    learned = out / "learned_loss.yaml"
    reuse = _train([*_tiny_mnist1d(cache_dir), "search=none", "loss=learned", f"loss.path={learned}",
                    f"hydra.run.dir={tmp_path / 'reuse'}"], cwd=tmp_path)
    assert reuse.returncode == 0, reuse.stderr[-3000:]
    assert json.loads((tmp_path / "reuse" / "metrics.json").read_text())["method"] == "learned"


@pytest.mark.slow  # a training run in a subprocess
def test_a_search_starts_where_an_earlier_search_ended(tmp_path, cache_dir):
    """Rounds of search: the second starts from the first's learned_loss.yaml; held still (an outer
    learning rate of 1e-30), it exports the same loss."""
    search = [*_tiny_mnist1d(cache_dir), "search.epochs=1", "search.warmup_epochs=0", "search.every=2",
              "search.compare_with=[]", "search.retrain=false", "search.family.parametrization=power_law",
              "search.family.learn=[scales,offsets]"]
    first = _train([*search, f"hydra.run.dir={tmp_path / 'round1'}"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    learned = tmp_path / "round1" / "learned_loss.yaml"
    second = _train([*search, "search.family.init=learned", f"search.family.init_path={learned}",
                     "search.outer.lr=1e-30", f"hydra.run.dir={tmp_path / 'round2'}"], cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    ended, started = (yaml.safe_load((tmp_path / d / "learned_loss.yaml").read_text()) for d in ("round1", "round2"))
    assert ended["exponents"]["scales"] != [0.0]  # the first round moved
    for part in ("scales", "offsets"):
        assert started["exponents"][part] == pytest.approx(ended["exponents"][part], abs=2e-6)
        assert np.allclose(started[part], ended[part], atol=2e-6), part


@pytest.mark.slow  # a training run in a subprocess
def test_baseline_job_trains_on_train_plus_validation(tmp_path, cache_dir):
    out = tmp_path / "run"
    proc = _train([*_tiny_mnist1d(cache_dir), "search=none", "loss=la", f"hydra.run.dir={out}"],
                  cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "data_summary.json").read_text())
    rows = (out / "per_class.csv").read_text().splitlines()[1:]
    train_counts = [int(r.split(",")[2]) for r in rows]
    assert train_counts == [t + v for t, v in zip(summary["counts"]["train"], summary["counts"]["val"],
                                                   strict=True)]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_preset_composes_into_a_valid_config(experiment):
    with initialize_config_module(config_module="autobalance.configs", version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"+experiment={experiment}"])
    run_cfg = load_config(cfg)
    assert run_cfg.data.rho == 100
    assert "experiment" not in cfg  # the preset writes to the global package


def test_ldam_preset_switches_on_the_cosine_head():
    with initialize_config_module(config_module="autobalance.configs", version_base="1.3"):
        cfg = compose(config_name="config", overrides=["+experiment=cifar10_lt", "search=none",
                                                       "loss=ldam", "schedule=drw"])
    run_cfg = load_config(cfg)
    assert run_cfg.model.normalized_head and run_cfg.model.name == "resnet32"
    assert run_cfg.schedule.first_epoch(run_cfg.optim.epochs) == 160


@pytest.mark.slow  # a subprocess that loads the data sources (8 s)
def test_cifar10_lt_without_data_fails_fast_naming_where_it_looked(tmp_path):
    proc = _train(["+experiment=cifar10_lt", f"data.cache_dir={tmp_path / 'cache'}",
                   f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "cifar10 not found" in proc.stderr and "cifar-10-python.tar.gz" in proc.stderr
    assert str(tmp_path / "cache") in proc.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_baseline_loss_with_search_enabled_is_refused(tmp_path):
    proc = _train(["loss=focal", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "run a baseline loss with search=none" in proc.stderr


def test_bad_value_is_reported_in_one_line(tmp_path):
    proc = _train(["data.rho=0.5", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "data.rho=0.5: expected a number >= 1" in proc.stderr


@pytest.mark.slow  # a training run in a subprocess
@pytest.mark.skipif(not SHARED_CIFAR.exists(), reason="the shared CIFAR-10 JPEG archive is absent")
def test_cifar10_lt_runs_our_recipe_from_a_subset_of_the_jpeg_archive(tmp_path):
    subset = tmp_path / "cifar10-subset.tar.gz"
    with tarfile.open(SHARED_CIFAR) as src, tarfile.open(subset, "w:gz") as dst:
        for member in src:
            name = Path(member.name)
            if member.isfile() and int(name.stem) < (30 if name.parts[1] == "train" else 5):
                dst.addfile(member, src.extractfile(member))
    out = tmp_path / "run"
    proc = _train(["+experiment=cifar10_lt", f"data.path={subset}", "data.n_max=30", "data.rho=10",
                   f"data.cache_dir={tmp_path / 'cache'}", "optim.epochs=2", "optim.warmup_epochs=0",
                   "search.warmup_epochs=0", "search.every=1", "search.compare_with=[]",
                   "device=cpu", f"hydra.run.dir={out}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "data_summary.json").read_text())
    assert summary["class_names"][0] == "airplane" and summary["counts"]["test"] == [5] * 10
    total = [t + v for t, v in zip(summary["counts"]["train"], summary["counts"]["val"], strict=True)]
    assert total[0] == 30 and total[-1] == 3
    metrics = json.loads((out / "metrics.json").read_text())  # our recipe: search, then retrain
    assert metrics["hyper_steps"] > 0 and set(metrics["phase_seconds"]) == {"search", "retrain"}
    assert (out / "learned_loss.yaml").exists()


def _fake_cifar100_members(train_per_class: int, test_per_class: int) -> dict:
    """The official python archive's members (train, test, meta pickles) with random images."""
    rng = np.random.default_rng(0)

    def split(per_class):
        labels = np.repeat(np.arange(100), per_class)
        return {b"data": rng.integers(0, 255, (len(labels), 3072), dtype=np.uint8),
                b"fine_labels": labels.tolist()}

    return {"train": split(train_per_class), "test": split(test_per_class),
            "meta": {b"fine_label_names": [f"class{i}".encode() for i in range(100)]}}


@pytest.mark.slow  # a training run in a subprocess
def test_cifar100_lt_runs_our_recipe_with_the_matrix_free_head_solve(tmp_path, pickle_archive):
    archive = pickle_archive(tmp_path / "cifar-100-python.tar.gz", "cifar-100-python",
                             _fake_cifar100_members(train_per_class=20, test_per_class=2))
    out = tmp_path / "run"
    proc = _train(["+experiment=cifar100_lt", f"data.path={archive}", "data.n_max=20", "data.rho=10",
                   f"data.cache_dir={tmp_path / 'cache'}", "model.width=8", "optim.epochs=2",
                   "optim.warmup_epochs=0", "search.warmup_epochs=0", "search.every=4",
                   "search.compare_with=[]", "device=cpu", f"hydra.run.dir={out}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["hyper_steps"] > 0 and set(metrics["phase_seconds"]) == {"search", "retrain"}
    steps = [json.loads(line) for line in (out / "hypersteps.jsonl").read_text().splitlines()]
    # ResNet-32 at width 8 has 32 features: a head of 100 x 33 = 3,300 parameters, over the dense limit
    assert {s["path"] for s in steps} == {"minres"} and steps[0]["hessian_params"] == 3300
    assert len(json.loads((out / "data_summary.json").read_text())["class_names"]) == 100


@pytest.mark.parametrize("override", ["+foo=1", "+search.typo_lr=3", "+data.foo=1"])
def test_an_added_unknown_key_is_refused_before_anything_runs(tmp_path, override):
    proc = _train([override, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert f"{override[1:].split('=')[0]}: unknown key" in proc.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.slow  # a training run in a subprocess
@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_an_interrupt_prints_the_resume_command_without_a_traceback(tmp_path, cache_dir, signal_name):
    import signal
    import time

    out = tmp_path / "run"
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    args = [*_tiny_mnist1d(cache_dir), "optim.epochs=30", "search=none", f"hydra.run.dir={out}"]
    # a job started in the background by a non-interactive shell (`cmd &`, as CI may be) inherits an
    # ignored SIGINT, which Python keeps; the child gets the disposition a terminal's Ctrl-C meets
    proc = subprocess.Popen([sys.executable, "-m", "autobalance.train", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not (out / "epochs.jsonl").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(getattr(signal, signal_name))
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in stderr
    command = stderr.strip().splitlines()[-1].strip()
    assert command.startswith("python -m autobalance.train") and f"resume=true hydra.run.dir={out}" in command
    assert "optim.epochs=30" in command


@pytest.mark.slow  # a subprocess that builds the data (8 s)
def test_bad_data_exits_with_one_line_and_writes_no_results(tmp_path):
    x = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    x[4, 0] = np.nan
    np.savez(tmp_path / "d.npz", x=x, y=np.tile([0, 1, 2], 20))
    out = tmp_path / "run"
    proc = _train(["data=npz", f"data.path={tmp_path / 'd.npz'}", "model=mlp", f"hydra.run.dir={out}"],
                  cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("autobalance: error: ")
    assert "NaN or infinite values (the first in row 4)" in proc.stderr
    assert not (out / "metrics.json").exists() and not (out / "epochs.jsonl").exists()


PLUGIN_LOSS = """\
from dataclasses import dataclass

from autobalance.config import LossConfig, require
from autobalance.losses import ParametricLoss
from autobalance.losses.factory import register_loss


@dataclass
class TemperatureConfig(LossConfig):
    temperature: float = 2.0

    def __post_init__(self):
        require(self.temperature > 0, "loss.temperature", self.temperature, "> 0")


@register_loss("temperature_ce", TemperatureConfig, grid={"temperature": "2,3"})
def temperature_ce(cfg, counts, cell_counts):
    return ParametricLoss(len(counts), learn=(), scales=[1 / cfg.temperature] * len(counts))
"""


def _run_with_plugin(tmp_path, module, source, args, full_error="0", timeout=300):
    """``python -m autobalance.train`` with one's own module (``plugins=[module]``, written from
    ``source``): the parts it registers are options of their config groups, no YAML file needed."""
    (tmp_path / f"{module}.py").write_text(source)
    env_path = f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    return subprocess.run([sys.executable, "-m", "autobalance.train", *args, f"plugins=[{module}]"],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": env_path, "HYDRA_FULL_ERROR": full_error},
                          capture_output=True, text=True, timeout=timeout)


def _plugin_run(tmp_path, cache_dir, *overrides):
    """A loss of one's own: one Python file (its settings and builder), ``loss=`` its name."""
    return _run_with_plugin(tmp_path, "my_losses", PLUGIN_LOSS,
                            [*_tiny_mnist1d(cache_dir), "search=none", "loss=temperature_ce", *overrides])


@pytest.mark.slow  # a training run in a subprocess
def test_a_loss_of_ones_own_takes_its_own_hyperparameter_from_the_cli(tmp_path, cache_dir):
    out = tmp_path / "run"
    proc = _plugin_run(tmp_path, cache_dir, "loss.temperature=3", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "metrics.json").read_text())["method"] == "temperature_ce"
    assert yaml.safe_load((out / "config.yaml").read_text())["loss"] == {"name": "temperature_ce", "temperature": 3.0}


@pytest.mark.slow  # two training runs in a subprocess
def test_a_loss_of_ones_own_is_a_baseline_and_has_a_tuning_sweep(tmp_path, cache_dir):
    """Its registration's ``grid`` makes ``+hparams_search=tune_temperature_ce``: a validation sweep."""
    sweep = tmp_path / "sweep"
    proc = _run_with_plugin(tmp_path, "my_losses", PLUGIN_LOSS,
                            ["-m", *_tiny_mnist1d(cache_dir), "+hparams_search=tune_temperature_ce",
                             f"hydra.sweep.dir={sweep}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    configs = [yaml.safe_load(p.read_text()) for p in sorted(sweep.glob("*/config.yaml"))]
    assert sorted(c["loss"]["temperature"] for c in configs) == [2.0, 3.0]
    assert all(c["search"]["enabled"] is False and c["train_on_val"] is False for c in configs)


@pytest.mark.slow  # subprocesses (9 s)
def test_a_loss_of_ones_own_checks_its_hyperparameter_and_knows_its_keys(tmp_path, cache_dir):
    bad = _plugin_run(tmp_path, cache_dir, "loss.temperature=-1", f"hydra.run.dir={tmp_path / 'bad'}")
    assert bad.returncode == 2 and "loss.temperature=-1.0: expected > 0" in bad.stderr
    other = _plugin_run(tmp_path, cache_dir, "+loss.tau=1", f"hydra.run.dir={tmp_path / 'other'}")
    assert other.returncode == 2
    assert "loss.tau=1: loss=temperature_ce has no such setting (it takes temperature)" in other.stderr


PLUGIN_MODEL = """\
import math
from dataclasses import dataclass

from torch import nn

from autobalance.config import ModelConfig, require
from autobalance.models import register_model


@dataclass
class DeepMLPConfig(ModelConfig):
    depth: int = 2
    hidden: int = 8

    def __post_init__(self):
        super().__post_init__()
        require(self.depth >= 1, "model.depth", self.depth, ">= 1")


@register_model("deep_mlp", DeepMLPConfig)
def deep_mlp(input_shape, cfg):
    sizes = [math.prod(input_shape)] + [cfg.hidden] * cfg.depth
    layers = [nn.Flatten()] + [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())]
    body = nn.Sequential(*layers)
    body.out_dim = cfg.hidden
    return body
"""


def _plugin_model_run(tmp_path, cache_dir, *overrides):
    """A model of one's own: one Python file (its settings and body), ``model=`` its name."""
    args = [a for a in _tiny_mnist1d(cache_dir) if not a.startswith("model.")]
    return _run_with_plugin(tmp_path, "my_models", PLUGIN_MODEL, [*args, "search=none", "model=deep_mlp", *overrides])


@pytest.mark.slow  # a training run in a subprocess
def test_a_model_of_ones_own_takes_its_own_settings_from_the_cli(tmp_path, cache_dir):
    import torch

    out = tmp_path / "run"
    proc = _plugin_model_run(tmp_path, cache_dir, "model.depth=3", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = yaml.safe_load((out / "config.yaml").read_text())["model"]
    assert saved["name"] == "deep_mlp" and (saved["depth"], saved["hidden"]) == (3, 8)
    weights = torch.load(out / "checkpoints" / "train.pt", weights_only=False)["model"]
    assert sum(k.startswith("body.") and k.endswith(".weight") for k in weights) == 3
    bad = _plugin_model_run(tmp_path, cache_dir, "model.depth=0", f"hydra.run.dir={tmp_path / 'bad'}")
    assert bad.returncode == 2 and "model.depth=0: expected >= 1" in bad.stderr
    other = _plugin_model_run(tmp_path, cache_dir, "+model.width=4", f"hydra.run.dir={tmp_path / 'other'}")
    assert other.returncode == 2
    assert "model.width=4: model=deep_mlp has no such setting (it takes normalized_head, dropout, " in other.stderr


PLUGIN_DATA_AND_OBJECTIVE = """\
from dataclasses import dataclass

import numpy as np
import torch

from autobalance.config import DataConfig, ObjectiveConfig, require
from autobalance.data.build import register_data_source
from autobalance.data.dataset import ArraySplit, RawDataset
from autobalance.objectives import register_objective


@dataclass
class BlobsConfig(DataConfig):
    spread: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        require(self.spread > 0, "data.spread", self.spread, "> 0")


@register_data_source("blobs", BlobsConfig)
def blobs(cfg, seed, cache_dir):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 4)) * 3

    def split(n):
        y = np.repeat(np.arange(3), n)
        return ArraySplit((centres[y] + cfg.spread * rng.normal(size=(len(y), 4))).astype(np.float32), y)

    return RawDataset("blobs", split(200), split(50), ["a", "b", "c"], "vector")


@dataclass
class MarginConfig(ObjectiveConfig):
    margin: float = 1.0


@register_objective("hinge", MarginConfig)
def hinge(spec, num_classes, num_attribute_values):
    def objective(z, y, g):
        true = z.gather(1, y[:, None])
        return torch.relu(spec.margin - true + z).mean()
    return objective
"""


def _plugin_parts_run(tmp_path, cache_dir, *overrides):
    return _run_with_plugin(tmp_path, "my_parts", PLUGIN_DATA_AND_OBJECTIVE,
                            [f"data.cache_dir={cache_dir}", "model=mlp", "model.width=8", "optim.epochs=2",
                             "device=cpu", "search.epochs=1", "search.warmup_epochs=0", "search.every=1",
                             "search.compare_with=[]", "data.name=blobs", "data.rho=10", "data.n_max=200",
                             "objective.name=hinge", *overrides])


@pytest.mark.slow  # a training run in a subprocess
def test_a_data_source_and_an_objective_of_ones_own_take_their_settings_from_the_cli(tmp_path, cache_dir):
    out = tmp_path / "run"
    proc = _plugin_parts_run(tmp_path, cache_dir, "data.spread=0.5", "objective.margin=2", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert (saved["data"]["name"], saved["data"]["spread"]) == ("blobs", 0.5)
    assert (saved["objective"]["name"], saved["objective"]["margin"]) == ("hinge", 2.0)
    assert json.loads((out / "metrics.json").read_text())["hyper_steps"] > 0
    bad = _plugin_parts_run(tmp_path, cache_dir, "data.spread=0", f"hydra.run.dir={tmp_path / 'bad'}")
    assert bad.returncode == 2 and "data.spread=0.0: expected > 0" in bad.stderr
    other = _plugin_parts_run(tmp_path, cache_dir, "objective.margn=2", f"hydra.run.dir={tmp_path / 'other'}")
    assert other.returncode == 2
    assert ("objective.margn: unknown key (no such setting in objective); print the valid keys with "
            "`python -m autobalance.show_config`") in other.stderr


@pytest.mark.slow  # a subprocess per case (8 s each)
@pytest.mark.parametrize("raised, code, shown", [
    ("InputError('loss.tau=-1: expected a positive number')", 2, "autobalance: error: loss.tau=-1: expected"),
    ("ValueError('a bug in the builder')", 1, "Traceback"),
])
def test_a_users_input_error_is_one_line_and_a_bug_keeps_its_traceback(tmp_path, cache_dir, raised, code, shown):
    source = ("from autobalance.errors import InputError\n"
              "from autobalance.losses.factory import register_loss\n\n\n"
              "@register_loss('faulty')\n"
              "def faulty(cfg, counts, cell_counts):\n"
              f"    raise {raised}\n")
    proc = _run_with_plugin(tmp_path, "faulty_losses", source,
                            [*_tiny_mnist1d(cache_dir), "search=none", "loss.name=faulty",
                             f"hydra.run.dir={tmp_path / 'run'}"], full_error="1", timeout=120)
    assert proc.returncode == code and shown in proc.stderr
    assert ("Traceback" in proc.stderr) == (code == 1)


def test_the_attribute_columns_earlier_name_still_works(tmp_path):
    proc = _train(["data=csv", "data.group_column=sex", "--cfg", "job"], cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "data.group_column is now data.attribute_column" in proc.stderr
    assert yaml.safe_load(proc.stdout)["data"]["attribute_column"] == "sex"


def test_an_earlier_versions_flat_search_key_still_works_under_its_new_name(tmp_path):
    proc = _train(["search.outer_lr=0.01", "search.method=cg", "optim.schedule=step", "--cfg", "job"], cwd=tmp_path,
                  timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "search.outer_lr is now search.outer.lr" in proc.stderr
    import yaml

    composed = yaml.safe_load(proc.stdout)
    assert composed["search"]["outer"]["lr"] == 0.01 and composed["search"]["hypergrad"]["method"] == "cg"
    assert composed["optim"]["lr_schedule"] == "step"


def test_a_plugin_that_cannot_be_imported_is_named(tmp_path):
    proc = _train(["plugins=[no_such_module]", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "plugins: cannot import 'no_such_module'" in proc.stderr


@pytest.mark.slow  # a training run in a subprocess
def test_an_interrupted_sweep_says_how_to_resume_the_sweep(tmp_path, cache_dir):
    import signal
    import time

    sweep = tmp_path / "sweep"
    args = ["-m", *_tiny_mnist1d(cache_dir), "optim.epochs=30", "search=none", "seed=0,1", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen([sys.executable, "-m", "autobalance.train", *args], cwd=tmp_path,
                            env={**os.environ, "HYDRA_FULL_ERROR": "0"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(sweep.glob("*/epochs.jsonl")) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    command = lines[lines.index("Resume the whole sweep (finished jobs are skipped, this one continues, the rest "
                                "run) with:") + 1].strip()
    assert command.startswith("python -m autobalance.train -m ") and "seed=0,1" in command
    assert command.endswith(f"resume=true hydra.sweep.dir={sweep}")


@pytest.mark.slow  # a training run in a subprocess
def test_a_resume_over_a_damaged_checkpoint_with_no_previous_one_stops_in_one_line(tmp_path, cache_dir):
    out = tmp_path / "run"
    args = [*_tiny_mnist1d(cache_dir), "search=none", f"hydra.run.dir={out}"]
    assert _train(args, cwd=tmp_path).returncode == 0
    checkpoint = out / "checkpoints" / "train.pt"
    (out / "checkpoints" / "train.pt.prev").unlink()
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])
    proc = _train([*args, "resume=true"], cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"autobalance: error: checkpoint {checkpoint} cannot be read")
    assert "no previous checkpoint is kept" in last


def test_an_output_directory_that_cannot_be_created_is_one_line(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    proc = _train([f"hydra.run.dir={blocker / 'run'}"], cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"autobalance: error: cannot write the output directory "
                                                            f"{blocker / 'run'}")


@pytest.mark.slow  # a subprocess run of the command line: seconds each
def test_help_says_what_the_program_does_and_show_config_prints_every_typed_default(tmp_path):
    help_text = subprocess.run([sys.executable, "-m", "autobalance.train", "--help"], capture_output=True, text=True,
                               timeout=60).stdout
    assert help_text.startswith("autobalance: learn the loss function") and "show_config" in help_text
    shown = subprocess.run([sys.executable, "-m", "autobalance.show_config", "+experiment=fashion_mnist_lt",
                            "search=none", "loss=vs"], capture_output=True, text=True, timeout=60)
    settings = yaml.safe_load(shown.stdout)
    assert settings["data"]["rho"] == 100.0 and settings["data"]["val_fraction"] == 0.2
    assert settings["loss"] == {"name": "vs", "gamma": 0.2, "tau": 1.0}
