"""The GPU table's script, dry-run on CPU at a tiny size over a CIFAR-shaped stand-in: five methods
side by side with the compiled step, then the table. Slow tier."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _cifar_members() -> dict:
    rng = np.random.default_rng(0)
    labels = list(np.repeat(np.arange(10), 24))
    members = {f"data_batch_{i}": {b"data": rng.integers(0, 255, (240, 3072), dtype=np.uint8), b"labels": labels}
               for i in range(1, 6)}
    members["test_batch"] = {b"data": rng.integers(0, 255, (100, 3072), dtype=np.uint8),
                             b"labels": list(np.repeat(np.arange(10), 10))}
    members["batches.meta"] = {b"label_names": [f"c{i}".encode() for i in range(10)]}
    return members


def test_the_gpu_script_runs_every_method_side_by_side_and_writes_the_table(tmp_path, pickle_archive):
    archive = pickle_archive(tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py", _cifar_members())
    out = tmp_path / "table"
    env = {**os.environ, "DATA": str(archive), "OUT": str(out), "DEVICE": "cpu", "OMP_NUM_THREADS": "1",
           "HOME": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    tiny = ["optim.epochs=2", "optim.warmup_epochs=0", "optim.milestones=[1]", "data.n_max=100", "data.rho=10",
            "data.batch_size=32", "model.width=4", "eval_every=2"]
    done = subprocess.run(["bash", "scripts/run_cifar10_gpu.sh", *tiny], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "side by side" in done.stdout and "all runs ended after" in done.stdout
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert len(rows) == 5 and all(float(r["balanced_error_mean"]) >= 0 for r in rows)
    assert {p.name for p in (out / "logs").iterdir()} == {f"{m}.log" for m in ("ce", "ldam_drw", "la", "vs",
                                                                             "autobalance")}


def test_the_gpu_script_refuses_a_machine_without_a_gpu(tmp_path):
    done = subprocess.run(["bash", "scripts/run_cifar10_gpu.sh"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "DEVICE": "cuda", "CUDA_VISIBLE_DEVICES": "", "OUT": str(tmp_path)})
    assert done.returncode == 2 and "no CUDA GPU" in done.stderr
