"""Device selection, CPU threads, seeding and code-version stamping."""

from __future__ import annotations

import functools
import os
import random
import subprocess
from pathlib import Path

import numpy as np
import torch

from autobalance.errors import InputError


def resolve_device(name: str) -> torch.device:
    """cpu, or the current CUDA device by index (under torchrun, the one of this local rank)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("device=cuda but no CUDA device is visible; use device=auto or cpu")
    return torch.device("cuda", torch.cuda.current_device()) if name == "cuda" else torch.device(name)


def available_cpus(cgroup_cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup (v2) CPU quota."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return n


def configure_threads(concurrent_jobs: int = 1) -> int:
    """Give torch the available CPUs shared among ``concurrent_jobs``, unless the user chose
    (``OMP_NUM_THREADS``). torch's default counts the machine's cores, not the container's
    share, and several runs side by side then oversubscribe the CPUs: a 30-second job took
    15 minutes that way on 2 cores."""
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, available_cpus() // max(1, concurrent_jobs)))
    return torch.get_num_threads()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@functools.cache
def code_version() -> str:
    """Git commit of the package source (with ``-dirty``), or the package version.

    Read once per process (the first run calls it before training), so every job of a
    multirun is stamped with the code it imported, even if the checkout changes meanwhile."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--",
                                "autobalance", "configs"], capture_output=True, text=True,
                               timeout=5).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import version

        return f"autobalance-{version('autobalance')}"
