"""Data-parallel runs as a user starts them: ``torchrun --nproc_per_node=2 -m autobalance.train``
on CPU (gloo), against the single process with the same global batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from autobalance.config import ConfigError
from autobalance.data.batching import batches
from autobalance.distributed import Ranks, data_parallel, ranks_from_env, sync_batchnorm_twin
from autobalance.models import create_model
from autobalance.pipeline import check_shards


def _tiny_search(cache_dir, out: Path, epochs: int = 3) -> list[str]:
    """A search + retrain with an MLP (no BatchNorm: two ranks compute the single process's
    function, so only summation order separates them)."""
    return ["data.num_samples=2000", "data.test_per_class=30", "data.n_max=170", "data.rho=10",
            f"data.cache_dir={cache_dir}", "model=mlp", "model.width=16", f"optim.epochs={epochs}",
            "device=cpu", "search.epochs=2", "search.warmup_epochs=0", "search.every=2",
            "search.compare_with=[]", f"hydra.run.dir={out}"]


def _launch(args: list[str], cwd: Path, nproc: int, **env_vars: str) -> subprocess.Popen:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
                if nproc > 1 else [sys.executable])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0", **env_vars}
    return subprocess.Popen([*launcher, "-m", "autobalance.train", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run(args, cwd, nproc, timeout=300, **env_vars) -> subprocess.CompletedProcess:
    proc = _launch(args, cwd, nproc, **env_vars)
    stdout, stderr = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _learned(run_dir: Path) -> dict[str, list]:
    saved = yaml.safe_load((run_dir / "learned_loss.yaml").read_text())
    return {part: saved[part] for part in ("scales", "offsets", "weights")}


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory, cache_dir):
    root = tmp_path_factory.mktemp("torchrun")
    proc = _run(_tiny_search(cache_dir, root / "two"), root, nproc=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, proc


@pytest.mark.slow  # a training run in a subprocess
def test_torchrun_writes_one_run_directory_from_rank_zero(two_rank_run):
    root, proc = two_rank_run
    run_dirs = [p.parent for p in root.rglob("metrics.json")]
    assert run_dirs == [root / "two"]
    metrics = json.loads((root / "two" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["loss_rank_gap"] == 0.0 and metrics["hyper_steps"] > 0
    assert proc.stdout.count("results in ") == 1 and proc.stdout.count("run directory: ") == 1
    assert yaml.safe_load((root / "two" / "learned_loss.yaml").read_text())["provenance"]["world_size"] == 2


@pytest.mark.slow  # a training run in a subprocess
def test_two_ranks_learn_the_single_process_loss(two_rank_run, cache_dir):
    root, _ = two_rank_run
    single = _run(_tiny_search(cache_dir, root / "one"), root, nproc=1)
    assert single.returncode == 0, single.stderr[-3000:]
    two, one = _learned(root / "two"), _learned(root / "one")
    for name in two:  # float32 steps summed in another order, compounded over 3 epochs: ~2e-4 apart
        torch.testing.assert_close(torch.tensor(two[name]), torch.tensor(one[name]), atol=2e-3, rtol=0)
    counts = torch.tensor(yaml.safe_load((root / "two" / "learned_loss.yaml").read_text())["train_counts"])
    logit_adjustment = counts.double().log() - counts.double().log().mean()
    moved = torch.tensor(two["offsets"][0]) - logit_adjustment
    assert moved.abs().max() > 1e-3  # the search moved the loss from its start, so agreeing means something


@pytest.mark.slow  # a training run in a subprocess
def test_an_interrupted_two_rank_run_resumes_to_the_uninterrupted_result(two_rank_run, cache_dir):
    root, _ = two_rank_run
    out = root / "resumed"
    proc = _launch(_tiny_search(cache_dir, out), root, nproc=2)
    deadline = time.time() + 120
    while not (out / "checkpoints" / "search.pt").exists() and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "resume=true" in stderr
    resumed = _run([*_tiny_search(cache_dir, out), "resume=true"], root, nproc=2)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    first = json.loads((root / "two" / "metrics.json").read_text())
    again = json.loads((out / "metrics.json").read_text())
    assert again["test"]["balanced_error"] == first["test"]["balanced_error"]
    assert _learned(out) == _learned(root / "two")


@pytest.mark.slow  # a training run in a subprocess
def test_a_failing_rank_stops_the_job_with_its_message(tmp_path, cache_dir):
    (tmp_path / "fail_on_rank1.py").write_text(
        "import os\nif os.environ['RANK'] == '1':\n    raise ImportError('rank 1 cannot start')\n")
    proc = _run([*_tiny_search(cache_dir, tmp_path / "run"), "plugins=[fail_on_rank1]"], tmp_path,
                nproc=2, timeout=120, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    assert proc.returncode != 0
    assert "autobalance (rank 1 of 2): config error: plugins: cannot import 'fail_on_rank1'" in proc.stderr


@pytest.mark.slow  # a training run in a subprocess
def test_a_submitit_job_with_two_tasks_is_one_two_rank_run(tmp_path, cache_dir):
    """hydra/launcher=slurm with tasks_per_node=2 on a cluster; submitit's local executor here."""
    args = [a for a in _tiny_search(cache_dir, tmp_path / "unused") if not a.startswith("hydra.run.dir")]
    proc = _run(["-m", "hydra/launcher=submitit_local", "hydra.launcher.tasks_per_node=2",
                 f"hydra.sweep.dir={tmp_path / 'sweep'}", *args], tmp_path, nproc=1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (metrics_file,) = (tmp_path / "sweep").rglob("metrics.json")
    metrics = json.loads(metrics_file.read_text())
    assert metrics["world_size"] == 2 and metrics["loss_rank_gap"] == 0.0


def test_each_rank_holds_a_contiguous_shard_and_the_shards_cover_the_batch():
    parts = [Ranks(r, 3).shard(10) for r in range(3)]
    assert [(p.start, p.stop) for p in parts] == [(0, 4), (4, 7), (7, 10)]
    assert Ranks().shard(5) == slice(0, 5)


def test_trailing_batches_too_small_for_every_rank_are_dropped():
    order = torch.arange(11)
    assert [len(b) for b in batches(order, 4)] == [4, 4, 3]
    assert [len(b) for b in batches(order, 4, min_size=4)] == [4, 4]  # 2 ranks x 2 for BatchNorm
    assert [len(b) for b in batches(torch.arange(3), 8, min_size=4)] == [3]  # all there is


def test_the_ranks_shards_put_together_are_the_single_process_batches(tiny_config):
    import dataclasses

    from autobalance.data.build import build_data

    data = build_data(tiny_config.data, 0, torch.device("cpu"))
    shards = [dataclasses.replace(data, ranks=Ranks(r, 2)) for r in range(2)]
    whole = data.sample_train_batch(0, 3)
    parts = [d.sample_train_batch(0, 3) for d in shards]
    torch.testing.assert_close(torch.cat([p[0] for p in parts]), whole[0], rtol=0, atol=0)
    assert torch.equal(torch.cat([p[1] for p in parts]), whole[1])
    val_parts = [d.sample_val_batch(0, 3, 32) for d in shards]
    assert torch.equal(torch.cat([p[1] for p in val_parts]), data.sample_val_batch(0, 3, 32)[1])
    first_epoch = [next(iter(d.train_batches(0, 0))) for d in shards]
    x, y, _ = next(iter(data.train_batches(0, 0)))
    torch.testing.assert_close(torch.cat([p[0] for p in first_epoch]), x, rtol=0, atol=0)
    assert all(len(p[1]) == len(y) // 2 for p in first_epoch)


def test_batch_sizes_must_split_evenly_over_the_ranks(search_config):
    search_config.data.batch_size = 63
    with pytest.raises(ConfigError, match=r"data.batch_size=63: expected a multiple of the 2 ranks"):
        check_shards(search_config, Ranks(0, 2))
    search_config.data.batch_size, search_config.search.val_batch_size = 64, 33
    with pytest.raises(ConfigError, match=r"search.val_batch_size=33"):
        check_shards(search_config, Ranks(1, 2))
    check_shards(search_config, Ranks(0, 1))


def test_synchronized_batchnorm_twin_trains_the_models_own_tensors():
    model = create_model("resnet32", (3, 32, 32), 10, width=4)
    twin = sync_batchnorm_twin(model)
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in twin.modules())
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    ours, theirs = dict(model.named_parameters()), dict(twin.named_parameters())
    assert ours.keys() == theirs.keys() and all(ours[n] is theirs[n] for n in ours)
    buffers = dict(twin.named_buffers())
    assert all(b is buffers[n] for n, b in model.named_buffers())
    with pytest.raises(ValueError, match="model.sync_batchnorm=true needs CUDA"):
        data_parallel(model, Ranks(0, 2), sync_batchnorm=True)
    assert data_parallel(model, Ranks(), sync_batchnorm=True) is model  # nothing to synchronize alone


def test_the_launchers_environment_names_the_rank():
    assert ranks_from_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == Ranks(1, 4, 1)
    assert ranks_from_env({}) == Ranks()
    with pytest.raises(ValueError, match="RANK=4, WORLD_SIZE=4"):
        ranks_from_env({"RANK": "4", "WORLD_SIZE": "4"})
